// Package strictjson reads a request body or a socket frame as one JSON
// object, more strictly than encoding/json does, so that what the chat
// acts on is exactly what the client sent and every part of it reads the
// same fields the same way:
//
//   - encoding/json rewrites invalid UTF-8 and lone UTF-16 surrogates
//     (`\ud800` not followed by a low surrogate, or a low one alone) to
//     U+FFFD without a word, so the chat would store text the client never
//     wrote; here a string holding either is refused.
//   - encoding/json matches struct fields without regard to case
//     (`"ADMIN": true` sets admin; `"uſername"` sets username, as Unicode
//     folds ſ to s) and lets the last of two equal keys win, so two readers
//     of one body can disagree on what it says; here a field given twice,
//     or under a key that differs from its name only in case, is refused.
//
// [Parse] checks the syntax (exactly what encoding/json accepts) and finds
// the object's top-level members without decoding them. The caller then
// asks for the fields it takes ([Object.Field], [Object.String]) and checks
// the rest ([Object.CheckOthers]); [Decode] does all of it for a struct. A
// refusal that is about one field is a [*FieldError] naming it, so that
// each transport can answer with that field's code.
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// ErrSyntax is the refusal of an input that is not exactly one JSON object
// (whitespace around it aside), or whose members outside the fields the
// caller takes hold a key or string that is not valid UTF-8: an input the
// caller cannot read as the object it takes.
var ErrSyntax = errors.New("strictjson: not one JSON object in valid UTF-8")

// Problem is what is wrong with a field.
type Problem int

// The problems a field can have.
const (
	// Duplicate: the field is given more than once.
	Duplicate Problem = iota + 1
	// CaseVariant: a key differs from the field's name only in case
	// (Unicode simple folding, as encoding/json matches).
	CaseVariant
	// BadString: a string in the field's value (or its key) is not valid
	// UTF-8 or holds a lone surrogate escape.
	BadString
)

func (p Problem) String() string {
	switch p {
	case Duplicate:
		return "is given more than once"
	case CaseVariant:
		return "is given under a key that differs from its name only in case"
	case BadString:
		return "holds invalid UTF-8 or a lone surrogate"
	}
	return "is refused"
}

// FieldError is the refusal of one field.
type FieldError struct {
	Field   string
	Problem Problem
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("strictjson: field %q %s", e.Field, e.Problem)
}

// Object is the top-level members of one JSON object, undecoded.
type Object struct {
	members []member
	// small holds the members of a typical frame or body without another
	// allocation.
	small [8]member
}

type member struct {
	key   string // decoded; undecoded when the key is not clean
	raw   string // the value's JSON text
	clean bool   // the key and every string in the value are valid
}

// Parse reads src as one JSON object. It refuses with ErrSyntax whatever
// json.Unmarshal would refuse, and anything that is not an object.
// Strings are checked but not decoded; the Object refers to src.
func Parse(src string) (*Object, error) {
	if !json.Valid([]byte(src)) {
		return nil, ErrSyntax
	}
	// From here on src is valid JSON: the scan below need not check the
	// grammar, only find the members and judge their strings.
	i := skipSpace(src, 0)
	if src[i] != '{' {
		return nil, ErrSyntax
	}
	o := &Object{}
	o.members = o.small[:0]
	i = skipSpace(src, i+1)
	if src[i] == '}' {
		return o, nil
	}
	for {
		end, keyClean, escaped := scanString(src, i)
		key := src[i+1 : end-1]
		if escaped && keyClean {
			key = unquote(src[i:end])
		}
		i = skipSpace(src, end)
		i = skipSpace(src, i+1) // the colon
		start := i
		var valueClean bool
		i, valueClean = skipValue(src, i)
		o.members = append(o.members, member{key: key, raw: src[start:i], clean: keyClean && valueClean})
		i = skipSpace(src, i)
		if src[i] == '}' {
			return o, nil
		}
		i = skipSpace(src, i+1) // the comma
	}
}

// Field returns the JSON text of the field called name. present is false
// when no member has that name or a case variant of it. The error is a
// *FieldError when the field is given twice, under another case, or with
// an invalid string.
func (o *Object) Field(name string) (raw string, present bool, err error) {
	found := -1
	for i := range o.members {
		m := &o.members[i]
		switch {
		case m.key == name:
			if found >= 0 {
				return "", true, &FieldError{Field: name, Problem: Duplicate}
			}
			found = i
		case strings.EqualFold(m.key, name):
			return "", true, &FieldError{Field: name, Problem: CaseVariant}
		}
	}
	if found < 0 {
		return "", false, nil
	}
	if !o.members[found].clean {
		return "", true, &FieldError{Field: name, Problem: BadString}
	}
	return o.members[found].raw, true, nil
}

// String returns the field as a string. ok is false when the field is
// absent or not a JSON string; err is as for Field.
func (o *Object) String(name string) (s string, ok bool, err error) {
	raw, present, err := o.Field(name)
	if err != nil || !present || len(raw) < 2 || raw[0] != '"' {
		return "", false, err
	}
	return unquote(raw), true, nil
}

// CheckOthers refuses, with an error wrapping ErrSyntax, a member that is
// none of the known fields (nor a case variant of one) and whose key or
// value holds an invalid string. Such members are otherwise ignored, as
// encoding/json ignores unknown fields; their repeats do not matter.
func (o *Object) CheckOthers(known ...string) error {
	for i := range o.members {
		m := &o.members[i]
		if m.clean || isKnown(m.key, known) {
			continue
		}
		return fmt.Errorf("%w: member %q holds a string that is not valid UTF-8", ErrSyntax, m.key)
	}
	return nil
}

func isKnown(key string, known []string) bool {
	for _, k := range known {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// Decode reads data into v, a pointer to a struct, strictly: Parse, then
// each field of the struct (by its json tag) in the order the struct
// declares them, so the first field refused is the first declared, then
// CheckOthers, then json.Unmarshal, whose errors (a wrongly typed field)
// are returned as they are. Nested objects are decoded by encoding/json
// alone: only top-level members are checked for repeats and case, though
// strings are checked everywhere.
func Decode(data []byte, v any) error {
	o, err := Parse(string(data))
	if err != nil {
		return err
	}
	fields := fieldsOf(reflect.TypeOf(v))
	for _, f := range fields {
		if _, _, err := o.Field(f); err != nil {
			return err
		}
	}
	if err := o.CheckOthers(fields...); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

var fieldCache sync.Map // reflect.Type -> []string

// fieldsOf lists the JSON names of a struct's exported fields, in order.
func fieldsOf(t reflect.Type) []string {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]string)
	}
	s := t
	for s.Kind() == reflect.Pointer {
		s = s.Elem()
	}
	var names []string
	if s.Kind() == reflect.Struct {
		for f := range s.Fields() {
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch name {
			case "-":
				continue
			case "":
				name = f.Name
			}
			names = append(names, name)
		}
	}
	fieldCache.Store(t, names)
	return names
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the string starting at the quote s[i] of valid JSON.
// It returns the index after the closing quote, whether the string is
// valid UTF-8 with every surrogate escape paired, and whether it holds an
// escape at all.
func scanString(s string, i int) (end int, clean, escaped bool) {
	clean = true
	j := i + 1
	for {
		c := s[j]
		switch {
		case c == '"':
			return j + 1, clean, escaped
		case c == '\\':
			escaped = true
			if s[j+1] != 'u' {
				j += 2
				continue
			}
			r := hex4(s[j+2 : j+6])
			j += 6
			switch {
			case r >= 0xD800 && r < 0xDC00: // high: a low one must follow
				if j+6 <= len(s) && s[j] == '\\' && s[j+1] == 'u' {
					if lo := hex4(s[j+2 : j+6]); lo >= 0xDC00 && lo < 0xE000 {
						j += 6
						continue
					}
				}
				clean = false
			case r >= 0xDC00 && r < 0xE000: // a low one alone
				clean = false
			}
		case c < utf8.RuneSelf:
			j++
		default:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				clean = false
			}
			j += size
		}
	}
}

// skipValue reads the value starting at s[i] of valid JSON and returns the
// index after it and whether every string in it is clean.
func skipValue(s string, i int) (end int, clean bool) {
	clean = true
	switch s[i] {
	case '"':
		end, clean, _ = scanString(s, i)
		return end, clean
	case '{', '[':
		depth := 0
		for {
			switch s[i] {
			case '"':
				var ok bool
				i, ok, _ = scanString(s, i)
				clean = clean && ok
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, clean
				}
			}
			i++
		}
	}
	// A number, true, false or null.
	for i < len(s) && !strings.ContainsRune(",}] \t\r\n", rune(s[i])) {
		i++
	}
	return i, true
}

func hex4(s string) rune {
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquote decodes a clean JSON string (quotes included). One without
// escapes is its own text.
func unquote(raw string) string {
	inner := raw[1 : len(raw)-1]
	if !strings.Contains(inner, `\`) {
		return inner
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		// Cannot happen: raw is a valid JSON string.
		return inner
	}
	return s
}
