package awsmeter

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestAttributeSize(t *testing.T) {
	tests := map[string]struct {
		v    types.AttributeValue
		want int
	}{
		"string":             {&types.AttributeValueMemberS{Value: "héllo"}, 6},
		"binary":             {&types.AttributeValueMemberB{Value: []byte{1, 2, 3}}, 3},
		"zero":               {&types.AttributeValueMemberN{Value: "0"}, 1},
		"one digit":          {&types.AttributeValueMemberN{Value: "7"}, 2},
		"two digits":         {&types.AttributeValueMemberN{Value: "42"}, 2},
		"three digits":       {&types.AttributeValueMemberN{Value: "-123"}, 3},
		"trailing zeros":     {&types.AttributeValueMemberN{Value: "1000000"}, 2},
		"fraction":           {&types.AttributeValueMemberN{Value: "0.0012"}, 2},
		"exponent":           {&types.AttributeValueMemberN{Value: "12E+10"}, 2},
		"epoch seconds":      {&types.AttributeValueMemberN{Value: "1700000000"}, 2},
		"bool":               {&types.AttributeValueMemberBOOL{Value: true}, 1},
		"null":               {&types.AttributeValueMemberNULL{Value: true}, 1},
		"string set":         {&types.AttributeValueMemberSS{Value: []string{"ab", "c"}}, 3},
		"number set":         {&types.AttributeValueMemberNS{Value: []string{"1", "22"}}, 4},
		"binary set":         {&types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}, 3},
		"list":               {&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}, &types.AttributeValueMemberBOOL{}}}, 3 + 2 + 2 + 1},
		"map":                {&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "vv"}}}, 3 + 1 + 1 + 2},
		"unknown member nil": {nil, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := AttributeSize(tt.v); got != tt.want {
				t.Errorf("AttributeSize = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTransactWriteCapacity(t *testing.T) {
	item := func(size int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"d": &types.AttributeValueMemberS{Value: strings.Repeat("x", size-1)}}
	}
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "ROOM#1"}, "SK": &types.AttributeValueMemberS{Value: "HEAD"}}
	tests := map[string]struct {
		items []types.TransactWriteItem
		want  float64
	}{
		"empty":                 {nil, 0},
		"one put of 1 KB":       {[]types.TransactWriteItem{{Put: &types.Put{Item: item(1024)}}}, 2},
		"one put of 1 KB and 1": {[]types.TransactWriteItem{{Put: &types.Put{Item: item(1025)}}}, 4},
		"three small puts":      {[]types.TransactWriteItem{{Put: &types.Put{Item: item(100)}}, {Put: &types.Put{Item: item(10)}}, {Put: &types.Put{Item: item(500)}}}, 6},
		"put, update, delete, check": {[]types.TransactWriteItem{
			{Put: &types.Put{Item: item(300)}},
			{Update: &types.Update{Key: key, ExpressionAttributeValues: item(200)}},
			{Delete: &types.Delete{Key: key}},
			{ConditionCheck: &types.ConditionCheck{Key: key}},
		}, 8},
		"update with a large value": {[]types.TransactWriteItem{{Update: &types.Update{Key: key, ExpressionAttributeValues: item(3000)}}}, 6},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := TransactWriteCapacity(tt.items); got != tt.want {
				t.Errorf("TransactWriteCapacity = %v, want %v", got, tt.want)
			}
		})
	}
}
