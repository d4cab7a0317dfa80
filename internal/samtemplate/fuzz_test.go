package samtemplate_test

// Fuzz targets for the template reader. Whatever the bytes, Parse and
// ParseDocument must answer (no panic, no hang: nesting and alias expansion
// are bounded), and what they return must be plain values of the kinds the
// package documents, within the bounds. The seed corpora are under
// testdata/fuzz/; the live template.yaml is a seed too.

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/samtemplate"
)

// fzMaxDepth is how deep a parsed value may nest: samtemplate refuses
// nesting deeper than 64 levels of YAML nodes.
const fzMaxDepth = 66

// fzMaxValues bounds the values one parse may return: alias expansion
// (billion laughs) must be refused, not materialised.
const fzMaxValues = 1_000_000

// fzWalk checks the kinds of a parsed value and returns how many values it
// holds and how deep it nests.
func fzWalk(t *testing.T, v any, depth int) (count, maxDepth int) {
	t.Helper()
	if depth > fzMaxDepth {
		t.Fatalf("value nested deeper than %d", fzMaxDepth)
	}
	count, maxDepth = 1, depth
	add := func(c, d int) {
		count += c
		maxDepth = max(maxDepth, d)
		if count > fzMaxValues {
			t.Fatalf("a parse returned more than %d values", fzMaxValues)
		}
	}
	switch x := v.(type) {
	case nil, string, int64, bool:
	case map[string]any:
		for _, e := range x {
			add(fzWalk(t, e, depth+1))
		}
	case []any:
		for _, e := range x {
			add(fzWalk(t, e, depth+1))
		}
	case samtemplate.Tagged:
		if len(x.Tag) < 2 || x.Tag[0] != '!' || x.Tag[1] == '!' {
			t.Fatalf("Tagged with tag %q, want a CloudFormation short form", x.Tag)
		}
		if _, nested := x.Value.(samtemplate.Tagged); nested {
			t.Fatalf("Tagged %q holds another Tagged directly", x.Tag)
		}
		add(fzWalk(t, x.Value, depth+1))
	default:
		t.Fatalf("unexpected value of type %T", v)
	}
	return count, maxDepth
}

func fzAddTemplateSeeds(f *testing.F) {
	if raw, err := os.ReadFile(filepath.Join("..", "..", "template.yaml")); err == nil {
		f.Add(raw)
	}
	for _, s := range []string{
		"Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: !Ref Name\n",
		"Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        A: {Type: HttpApi, Properties: {Method: GET, Path: /me}}\n",
		"Resources:\n  X: {}\n", "Resources:\n  X: 5\n", "Resources: [1, 2]\n", "- a\n- b\n", "", "---\n", "~\n",
		"a: &x [1, 2]\nb: *x\n", "a: &x [*x]\n", "a: &a {b: *a}\n", "a: !Sub\n  - '${X}'\n  - {X: !Ref Y}\n",
		"a: !!binary aGVsbG8=\n", "a: !GetAtt [T, Arn]\n", "a: 0x7fffffffffffffff\nb: 99999999999999999999\nc: 0o17\n",
		"a: yes\nb: on\nc: True\n", "a: \"\\x00\\xff\"\n", "a:\x00b\n", "\xff\xfe", "a: b\n---\nc: d\n",
		"? [a, b]\n: c\n", "<<: {a: 1}\n", "a: {<<: [&x {b: 1}, *x]}\n",
	} {
		f.Add([]byte(s))
	}
}

func FuzzParseDocument(f *testing.F) {
	fzAddTemplateSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		start := time.Now()
		doc, err := samtemplate.ParseDocument(raw)
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("ParseDocument of %d bytes took %v", len(raw), d)
		}
		if err != nil {
			if doc != nil {
				t.Fatalf("ParseDocument returned a document with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "samtemplate: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
			return
		}
		if doc == nil {
			t.Fatal("ParseDocument returned no document and no error")
		}
		fzWalk(t, doc, 0)
		again, err := samtemplate.ParseDocument(raw)
		if err != nil || !reflect.DeepEqual(again, doc) {
			t.Fatalf("ParseDocument is not deterministic: %v", err)
		}
	})
}

func FuzzParse(f *testing.F) {
	fzAddTemplateSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		tmpl, err := samtemplate.Parse(raw)
		doc, derr := samtemplate.ParseDocument(raw)
		if derr != nil {
			if err == nil {
				t.Fatalf("Parse accepted what ParseDocument refused: %v", derr)
			}
			return
		}
		if err != nil {
			if tmpl != nil {
				t.Fatalf("Parse returned a template with error %v", err)
			}
			return
		}
		resources, _ := doc["Resources"].(map[string]any)
		if len(tmpl.Resources) != len(resources) {
			t.Fatalf("Parse kept %d resources of %d", len(tmpl.Resources), len(resources))
		}
		for name, r := range tmpl.Resources {
			m, ok := resources[name].(map[string]any)
			if !ok {
				t.Fatalf("resource %q is not in the document", name)
			}
			if r.Type == "" || r.Type != m["Type"] {
				t.Fatalf("resource %q has type %q, the document says %v", name, r.Type, m["Type"])
			}
		}
		for name, sec := range map[string]map[string]any{"Globals": tmpl.Globals, "Parameters": tmpl.Parameters, "Outputs": tmpl.Outputs} {
			if want, _ := doc[name].(map[string]any); !reflect.DeepEqual(sec, want) {
				t.Fatalf("section %s differs from the document", name)
			}
		}
	})
}
