package dynamostore_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/samtemplate"
	"github.com/chatroom/chat/internal/store/dynamostore"
)

// TestTableMatchesTemplate holds the table in code and the one template.yaml
// deploys together: keys, attribute types, the index and its projection,
// billing and the TTL attribute.
func TestTableMatchesTemplate(t *testing.T) {
	tmpl, err := samtemplate.Load("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tables []samtemplate.Resource
	for _, r := range tmpl.Resources {
		if r.Type == "AWS::DynamoDB::Table" {
			tables = append(tables, r)
		}
	}
	if len(tables) != 1 {
		t.Fatalf("template has %d DynamoDB tables, want 1", len(tables))
	}
	p := tables[0].Properties
	def := dynamostore.TableDefinition("chat")

	want := map[string]any{"BillingMode": string(def.BillingMode)}
	var attrs []string
	for _, a := range def.AttributeDefinitions {
		attrs = append(attrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	want["AttributeDefinitions"] = sorted(attrs)
	want["KeySchema"] = keySchema(def.KeySchema)
	var gsis []string
	for _, g := range def.GlobalSecondaryIndexes {
		gsis = append(gsis, fmt.Sprintf("%s %v %s %v", aws.ToString(g.IndexName), keySchema(g.KeySchema), g.Projection.ProjectionType, sorted(g.Projection.NonKeyAttributes)))
	}
	want["GlobalSecondaryIndexes"] = gsis
	want["TTL"] = aws.ToString(dynamostore.TimeToLive("chat").TimeToLiveSpecification.AttributeName)

	got := map[string]any{"BillingMode": p["BillingMode"]}
	attrs = nil
	for _, a := range list(p["AttributeDefinitions"]) {
		m := a.(map[string]any)
		attrs = append(attrs, fmt.Sprint(m["AttributeName"], ":", m["AttributeType"]))
	}
	got["AttributeDefinitions"] = sorted(attrs)
	got["KeySchema"] = templateKeySchema(p["KeySchema"])
	gsis = nil
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		m := g.(map[string]any)
		proj, _ := m["Projection"].(map[string]any)
		var nonKey []string
		for _, a := range list(proj["NonKeyAttributes"]) {
			nonKey = append(nonKey, fmt.Sprint(a))
		}
		gsis = append(gsis, fmt.Sprintf("%s %v %s %v", m["IndexName"], templateKeySchema(m["KeySchema"]), proj["ProjectionType"], sorted(nonKey)))
	}
	got["GlobalSecondaryIndexes"] = gsis
	ttl, _ := p["TimeToLiveSpecification"].(map[string]any)
	if ttl["Enabled"] != true {
		t.Errorf("template: TTL is not enabled")
	}
	got["TTL"] = ttl["AttributeName"]

	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s: template has %v, code has %v", k, got[k], want[k])
		}
	}
	pitr, _ := p["PointInTimeRecoverySpecification"].(map[string]any)
	if pitr["PointInTimeRecoveryEnabled"] != true {
		t.Errorf("template: point-in-time recovery is not on")
	}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func keySchema(ks []types.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return out
}

func templateKeySchema(v any) []string {
	var out []string
	for _, k := range list(v) {
		m := k.(map[string]any)
		out = append(out, fmt.Sprint(m["AttributeName"], ":", m["KeyType"]))
	}
	return out
}
