package iamactions_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/iamactions"
	"github.com/chatroom/chat/internal/store/dynamostore"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

func TestActions(t *testing.T) {
	tx := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{}}, {Update: &types.Update{}}, {Delete: &types.Delete{}}, {ConditionCheck: &types.ConditionCheck{}},
	}}
	for _, tc := range []struct {
		op     string
		params any
		want   []string
	}{
		{"GetItem", &dynamodb.GetItemInput{}, []string{"dynamodb:GetItem"}},
		{"TransactWriteItems", tx, []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}},
	} {
		if got := iamactions.Actions(tc.op, tc.params); !slices.Equal(got, tc.want) {
			t.Errorf("Actions(%s) = %v, want %v", tc.op, got, tc.want)
		}
	}
}

func TestLambdaAction(t *testing.T) {
	for op, want := range map[string]string{"Invoke": "lambda:InvokeFunction", "GetFunction": "lambda:GetFunction"} {
		if got := iamactions.LambdaAction(op); got != want {
			t.Errorf("LambdaAction(%s) = %s, want %s", op, got, want)
		}
	}
}

func TestRecorderOnDynamoDBLocal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions")
	rec, err := iamactions.NewRecorder(path)
	if err != nil {
		t.Fatal(err)
	}
	table := dynamolocaltest.NewTable(t, dynamolocaltest.Client(t), dynamostore.TableDefinition("iam"))
	recorded := dynamolocaltest.Client(t, rec.DynamoDB)
	ctx := context.Background()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}, "SK": &types.AttributeValueMemberS{Value: "b"}}
	for range 2 { // a second call adds nothing
		if _, err := recorded.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := recorded.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(table), Item: key}},
	}}); err != nil {
		t.Fatal(err)
	}
	got, err := iamactions.Read(path)
	if err != nil || !slices.Equal(got, []string{"dynamodb:GetItem", "dynamodb:PutItem"}) {
		t.Fatalf("recorded %v, %v", got, err)
	}
}
