// Package samtemplate reads the SAM template (template.yaml) into plain Go
// values, keeping CloudFormation's short-form tags (!Ref, !GetAtt, !Sub...)
// as Tagged values instead of failing on them. The tests that hold code and
// template together, and the local emulator, read the template through it.
package samtemplate

import (
	"fmt"
	"os"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template.
type Template struct {
	Globals    map[string]any
	Parameters map[string]any
	Conditions map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	// Condition names the condition the resource is created under; empty
	// when it always is.
	Condition string
	// DeletionPolicy and UpdateReplacePolicy are as written (Delete when
	// empty, CloudFormation's default for most types).
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// Tagged is a value written with a CloudFormation short-form tag, such as
// `!Ref ChatTable` (Tag "!Ref", Value "ChatTable").
type Tagged struct {
	Tag   string
	Value any
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	return Parse(raw)
}

// ParseDocument parses a template into plain values: mappings, lists,
// scalars and Tagged.
func ParseDocument(raw []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("samtemplate: empty template")
	}
	budget := maxValues
	v, err := value(doc.Content[0], 0, &budget)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("samtemplate: the template is not a mapping")
	}
	return top, nil
}

// Parse parses a template.
func Parse(raw []byte) (*Template, error) {
	top, err := ParseDocument(raw)
	if err != nil {
		return nil, err
	}
	t := &Template{Resources: map[string]Resource{}}
	t.Globals, _ = top["Globals"].(map[string]any)
	t.Parameters, _ = top["Parameters"].(map[string]any)
	t.Conditions, _ = top["Conditions"].(map[string]any)
	t.Outputs, _ = top["Outputs"].(map[string]any)
	resources, _ := top["Resources"].(map[string]any)
	for name, r := range resources {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("samtemplate: resource %s is not a mapping", name)
		}
		res := Resource{}
		res.Type, _ = m["Type"].(string)
		res.Properties, _ = m["Properties"].(map[string]any)
		res.Metadata, _ = m["Metadata"].(map[string]any)
		res.Condition, _ = m["Condition"].(string)
		res.DeletionPolicy, _ = m["DeletionPolicy"].(string)
		res.UpdateReplacePolicy, _ = m["UpdateReplacePolicy"].(string)
		if res.Type == "" {
			return nil, fmt.Errorf("samtemplate: resource %s has no Type", name)
		}
		t.Resources[name] = res
	}
	return t, nil
}

// maxDepth bounds nesting so a hostile template cannot exhaust the stack.
const maxDepth = 64

// maxValues bounds the values one template expands to, an alias counting
// again at every use, so that a few lines of anchors and aliases (billion
// laughs, or an alias inside its own anchor) cannot build an exponential
// tree. template.yaml holds a few thousand.
const maxValues = 250_000

func value(n *yaml.Node, depth int, budget *int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nested deeper than %d", n.Line, maxDepth)
	}
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("line %d: more than %d values once aliases are expanded", n.Line, maxValues)
	}
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return value(n.Content[0], depth+1, budget)
	case yaml.AliasNode:
		return value(n.Alias, depth+1, budget)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			val, err := value(n.Content[i+1], depth+1, budget)
			if err != nil {
				return nil, err
			}
			m[k] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := value(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		v = scalar(n)
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if isCloudFormationTag(n.Tag) {
		return Tagged{Tag: n.Tag, Value: v}, nil
	}
	return v, nil
}

func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
	case "!!bool":
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b
		}
	case "!!null":
		return nil
	}
	return n.Value
}

func isCloudFormationTag(tag string) bool {
	return len(tag) > 1 && tag[0] == '!' && tag[1] != '!'
}
