package strictjson

// FuzzParse holds Parse to an oracle written another way: encoding/json's
// Decoder walks the input token by token, each string's raw text is cut
// out by the decoder's offsets, and its escapes and bytes are judged with
// strconv, unicode/utf16 and unicode/utf8. Parse must accept exactly what
// json.Unmarshal accepts as an object, find the same top-level members in
// the same order with the same keys, and judge each member clean exactly
// when every string in it is.

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// fzMember is one top-level member as the oracle sees it.
type fzMember struct {
	key   string // decoded by encoding/json (invalid parts replaced)
	clean bool
}

// fzMembers walks src with a json.Decoder; ok is false when src is not
// one JSON object.
func fzMembers(src string) (members []fzMember, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(src), &m) != nil || m == nil {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(src))
	depth := 0
	expectKey := false
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return members, true
		}
		if err != nil {
			return nil, false
		}
		raw := strings.TrimLeft(src[before:dec.InputOffset()], " \t\r\n,:")
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				depth++
				if depth == 1 {
					expectKey = true
				}
			} else {
				depth--
				if depth == 1 {
					expectKey = true // a nested value just ended
				}
			}
		case string:
			clean := fzCleanString(raw)
			switch {
			case depth == 1 && expectKey:
				members = append(members, fzMember{key: tok, clean: clean})
				expectKey = false
			case depth == 1:
				members[len(members)-1].clean = members[len(members)-1].clean && clean
				expectKey = true
			default:
				members[len(members)-1].clean = members[len(members)-1].clean && clean
			}
		default:
			if depth == 1 {
				expectKey = true
			}
		}
	}
}

// fzCleanString judges a JSON string's raw text, quotes included: valid
// UTF-8 outside escapes, and the \u escapes of each run forming valid
// UTF-16.
func fzCleanString(raw string) bool {
	body := raw[1 : len(raw)-1]
	var run []uint16
	flush := func() bool {
		for i := 0; i < len(run); i++ {
			if !utf16.IsSurrogate(rune(run[i])) {
				continue
			}
			if i+1 < len(run) && utf16.DecodeRune(rune(run[i]), rune(run[i+1])) != utf8.RuneError {
				i++
				continue
			}
			return false
		}
		run = run[:0]
		return true
	}
	for body != "" {
		if strings.HasPrefix(body, `\u`) {
			u, err := strconv.ParseUint(body[2:6], 16, 16)
			if err != nil {
				return false
			}
			run = append(run, uint16(u))
			body = body[6:]
			continue
		}
		if !flush() {
			return false
		}
		if body[0] == '\\' {
			body = body[2:]
			continue
		}
		r, size := utf8.DecodeRuneInString(body)
		if r == utf8.RuneError && size == 1 {
			return false
		}
		body = body[size:]
	}
	return flush()
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":"b"}`, `{"a":[1,{"b":"\ud800"}],"c":"\ud83d\ude00"}`, "{\"a\xff\":1}",
		`{"A":1,"a":2,"a":3}`, `{"uſername":"x"}`, `[1]`, `{"a":1}}`, `{"\u0061":"\udc00\ud800"}`,
		` { "x" : { "y" : [ "z" , null , true , -0.5e+3 ] } } `, `{"a":"\\ud800"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		o, err := Parse(src)
		want, ok := fzMembers(src)
		if ok != (err == nil) {
			t.Fatalf("Parse(%q) = %v; json.Unmarshal says object=%v", src, err, ok)
		}
		if !ok {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, want ErrSyntax", src, err)
			}
			return
		}
		if len(o.members) != len(want) {
			t.Fatalf("Parse(%q): %d members, oracle %d", src, len(o.members), len(want))
		}
		for i, m := range o.members {
			w := want[i]
			if m.clean != w.clean {
				t.Fatalf("Parse(%q): member %d (%q) clean=%v, oracle %v", src, i, w.key, m.clean, w.clean)
			}
			if m.clean && m.key != w.key {
				t.Fatalf("Parse(%q): member %d key %q, oracle %q", src, i, m.key, w.key)
			}
			if !json.Valid([]byte(m.raw)) {
				t.Fatalf("Parse(%q): member %d value %q is not JSON", src, i, m.raw)
			}
			if !m.clean {
				continue
			}
			// Field and String agree with the members found.
			exact, variant := 0, false
			for _, n := range want {
				if n.key == w.key {
					exact++
				} else if strings.EqualFold(n.key, w.key) {
					variant = true
				}
			}
			raw, present, ferr := o.Field(w.key)
			var fe *FieldError
			switch {
			case !present:
				t.Fatalf("Parse(%q): Field(%q) absent", src, w.key)
			case exact > 1 || variant:
				if !errors.As(ferr, &fe) || fe.Problem != Duplicate && fe.Problem != CaseVariant {
					t.Fatalf("Parse(%q): Field(%q) = %v with %d exact and variant=%v", src, w.key, ferr, exact, variant)
				}
			case ferr != nil || raw != m.raw:
				t.Fatalf("Parse(%q): Field(%q) = %q, %v; want %q", src, w.key, raw, ferr, m.raw)
			default:
				var s string
				isString := json.Unmarshal([]byte(raw), &s) == nil
				got, okS, err := o.String(w.key)
				if err != nil || okS != isString || isString && got != s {
					t.Fatalf("Parse(%q): String(%q) = %q, %v, %v; encoding/json reads %q (string=%v)", src, w.key, got, okS, err, s, isString)
				}
			}
		}
		// With no field known, every member is another's: refused when
		// one is not clean.
		anyBad := slices.ContainsFunc(want, func(m fzMember) bool { return !m.clean })
		if err := o.CheckOthers(); anyBad != errors.Is(err, ErrSyntax) || !anyBad && err != nil {
			t.Fatalf("Parse(%q): CheckOthers() = %v, with a member not clean: %v", src, err, anyBad)
		}
	})
}
