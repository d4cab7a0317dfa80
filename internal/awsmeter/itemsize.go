package awsmeter

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// WriteUnitBytes is the size a write capacity unit covers: writing an item
// costs one unit per started KB of the item.
const WriteUnitBytes = 1024

// ItemSize is an item's size as DynamoDB counts it for capacity: the
// UTF-8 length of each attribute name plus the size of its value (see
// AttributeSize).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + AttributeSize(v)
	}
	return n
}

// AttributeSize is the size of a value by DynamoDB's published rules: a
// string or binary its length in bytes; a number one byte per two
// significant digits plus one; a boolean or null one byte; a list or map 3
// bytes plus one per element plus the elements (a map's names included);
// a set the sum of its members.
func AttributeSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3 + len(v.Value)
		for _, e := range v.Value {
			n += AttributeSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + ItemSize(v.Value)
	}
	return 0
}

// numberSize counts the significant digits: leading and trailing zeros,
// the sign, the point and any exponent do not count.
func numberSize(s string) int {
	mantissa, _, _ := strings.Cut(strings.ToLower(s), "e")
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, mantissa)
	digits = strings.Trim(digits, "0")
	if digits == "" {
		return 1 // zero
	}
	return (len(digits)+1)/2 + 1
}

// WriteUnits is the capacity a standard write of an item of size bytes
// costs: one per started KB, at least one.
func WriteUnits(size int) float64 {
	return float64(max(1, (size+WriteUnitBytes-1)/WriteUnitBytes))
}

// TransactWriteCapacity is the write capacity DynamoDB bills for a
// TransactWriteItems: twice a standard write for each item, a Put by the
// size of its item. An Update, a Delete or a ConditionCheck is billed by
// the size of the item stored (for an update, the larger of before and
// after), which the request does not show; they are counted as the key and
// the expression values, at least 1 KB: exact for items under 1 KB, a
// lower bound above.
func TransactWriteCapacity(items []types.TransactWriteItem) float64 {
	total := 0.0
	for _, it := range items {
		size := 0
		switch {
		case it.Put != nil:
			size = ItemSize(it.Put.Item)
		case it.Update != nil:
			size = ItemSize(it.Update.Key) + ItemSize(it.Update.ExpressionAttributeValues)
		case it.Delete != nil:
			size = ItemSize(it.Delete.Key)
		case it.ConditionCheck != nil:
			size = ItemSize(it.ConditionCheck.Key)
		}
		total += 2 * WriteUnits(size)
	}
	return total
}
