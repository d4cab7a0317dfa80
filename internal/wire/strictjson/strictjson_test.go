package strictjson_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/chatroom/chat/internal/wire/strictjson"
)

func TestParseSyntax(t *testing.T) {
	cases := map[string]struct {
		src string
		ok  bool
	}{
		"empty object":             {`{}`, true},
		"spaces around":            {" \t\r\n{ } \n", true},
		"members":                  {`{"a":"b","c":[1,{"d":null}],"e":true,"f":-1.5e3}`, true},
		"empty input":              {``, false},
		"only spaces":              {`   `, false},
		"null":                     {`null`, false},
		"an array":                 {`[{"a":1}]`, false},
		"a string":                 {`"a"`, false},
		"a number":                 {`1`, false},
		"two objects":              {`{} {}`, false},
		"a stray brace":            {`{"a":1}}`, false},
		"a stray bracket":          {`{"a":1}]`, false},
		"a trailing comma":         {`{"a":1,}`, false},
		"no value":                 {`{"a":}`, false},
		"unquoted key":             {`{a:1}`, false},
		"unclosed":                 {`{"a":"b"`, false},
		"raw control character":    {"{\"a\":\"b\x01\"}", false},
		"invalid byte outside":     {"{\"a\":1}\xff", false},
		"NUL after the object":     {"{\"a\":1}\x00", false},
		"bad escape":               {`{"a":"\x"}`, false},
		"short unicode escape":     {`{"a":"\u12"}`, false},
		"invalid bytes in strings": {"{\"a\xff\":\"\xff\"}", true}, // syntax holds; the strings are judged apart
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := strictjson.Parse(c.src)
			if c.ok && err != nil || !c.ok && !errors.Is(err, strictjson.ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, want ok=%v", c.src, err, c.ok)
			}
		})
	}
}

// TestStrings: a field whose strings are valid UTF-8 with every surrogate
// escape paired is read exactly; any other is refused, never rewritten.
func TestStrings(t *testing.T) {
	cases := map[string]struct {
		value string // the JSON text of field "f"
		want  string // "" when refused
	}{
		"ascii":                          {`"hello"`, "hello"},
		"raw UTF-8":                      {`"Grüße 👋"`, "Grüße 👋"},
		"escapes":                        {`"a\"b\\c\/d\n\t\u00e9"`, "a\"b\\c/d\n\té"},
		"paired surrogates":              {`"\ud83d\ude00"`, "😀"},
		"paired surrogates, upper case":  {`"\uD83D\uDE00"`, "😀"},
		"a real U+FFFD, raw":             {"\"a\uFFFDb\"", "a\uFFFDb"},
		"a real U+FFFD, escaped":         {`"a\ufffdb"`, "a\uFFFDb"},
		"NUL escaped (the rules judge)":  {`"a\u0000b"`, "a\x00b"},
		"highest code point":             {"\"\U0010FFFF\"", "\U0010FFFF"},
		"escaped backslash before u":     {`"\\ud800"`, `\ud800`},
		"invalid byte":                   {"\"a\xffb\"", ""},
		"truncated sequence":             {"\"a\xe2\x82\"", ""},
		"truncated sequence at the end":  {"\"\xf0\x9f\x98\"", ""},
		"overlong encoding":              {"\"\xc0\xaf\"", ""},
		"encoded surrogate":              {"\"\xed\xa0\x80\"", ""},
		"beyond U+10FFFF":                {"\"\xf4\x90\x80\x80\"", ""},
		"lone high surrogate":            {`"\ud800"`, ""},
		"lone high surrogate, then text": {`"\ud800abc"`, ""},
		"high then a letter escape":      {`"\ud800\u0041"`, ""},
		"high then another escape":       {`"\ud83d\n"`, ""},
		"two high surrogates":            {`"\ud800\ud800"`, ""},
		"lone low surrogate":             {`"\udc00"`, ""},
		"pair reversed":                  {`"\ude00\ud83d"`, ""},
		"a good pair, then a lone high":  {`"\ud83d\ude00\ud83d"`, ""},
		"inside an array":                {`["ok","\ud800"]`, ""},
		"inside an object":               {"{\"k\":\"\xff\"}", ""},
		"inside an object's key":         {`{"\udc00":1}`, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := strictjson.Parse(`{"f":` + c.value + `}`)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			raw, present, err := o.Field("f")
			if c.want == "" {
				var fe *strictjson.FieldError
				if !errors.As(err, &fe) || fe.Field != "f" || fe.Problem != strictjson.BadString || !present {
					t.Fatalf("Field = %q, %v, %v; want a BadString refusal", raw, present, err)
				}
				return
			}
			if err != nil || !present || raw != c.value {
				t.Fatalf("Field = %q, %v, %v; want %q", raw, present, err, c.value)
			}
			if c.value[0] != '"' {
				return
			}
			s, ok, err := o.String("f")
			if err != nil || !ok || s != c.want {
				t.Fatalf("String = %q, %v, %v; want %q", s, ok, err, c.want)
			}
		})
	}
}

// TestFieldKeys: a field is found under its exact name only, once.
func TestFieldKeys(t *testing.T) {
	cases := map[string]struct {
		src     string
		present bool
		problem strictjson.Problem
	}{
		"exact":                       {`{"admin":true}`, true, 0},
		"absent":                      {`{"other":true}`, false, 0},
		"escaped key is the same key": {`{"\u0061dmin":true}`, true, 0},
		"upper case":                  {`{"ADMIN":true}`, true, strictjson.CaseVariant},
		"capitalised":                 {`{"Admin":true}`, true, strictjson.CaseVariant},
		"escaped upper case":          {`{"\u0041dmin":true}`, true, strictjson.CaseVariant},
		"both cases":                  {`{"admin":false,"ADMIN":true}`, true, strictjson.CaseVariant},
		"variant first":               {`{"ADMIN":true,"admin":false}`, true, strictjson.CaseVariant},
		"twice":                       {`{"admin":false,"admin":true}`, true, strictjson.Duplicate},
		"twice, once escaped":         {`{"admin":false,"\u0061dmin":true}`, true, strictjson.Duplicate},
		"twice and a variant":         {`{"admin":1,"admin":2,"Admin":3}`, true, strictjson.Duplicate},
		"a longer name":               {`{"admins":true}`, false, 0},
		"a nested field":              {`{"x":{"admin":true}}`, false, 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := strictjson.Parse(c.src)
			if err != nil {
				t.Fatal(err)
			}
			_, present, err := o.Field("admin")
			var fe *strictjson.FieldError
			switch {
			case present != c.present:
				t.Fatalf("present = %v, want %v (err %v)", present, c.present, err)
			case c.problem == 0 && err != nil:
				t.Fatalf("err = %v, want none", err)
			case c.problem != 0 && (!errors.As(err, &fe) || fe.Problem != c.problem || fe.Field != "admin"):
				t.Fatalf("err = %v, want %v", err, c.problem)
			}
		})
	}
	// Unicode folding, as encoding/json matches: ſ folds to s, the Kelvin
	// sign to k.
	for _, c := range [][2]string{{"uſername", "username"}, {"\u212aey", "key"}} {
		o, err := strictjson.Parse(`{"` + c[0] + `":"x"}`)
		if err != nil {
			t.Fatal(err)
		}
		var fe *strictjson.FieldError
		if _, _, err := o.Field(c[1]); !errors.As(err, &fe) || fe.Problem != strictjson.CaseVariant {
			t.Errorf("%q for field %q: %v, want CaseVariant", c[0], c[1], err)
		}
	}
}

func TestCheckOthers(t *testing.T) {
	cases := map[string]struct {
		src string
		ok  bool
	}{
		"only known":                    {`{"name":"x"}`, true},
		"unknown, clean":                {`{"name":"x","extra":["a",{"b":"c"}]}`, true},
		"unknown twice":                 {`{"name":"x","extra":1,"extra":2}`, true},
		"unknown with a lone surrogate": {`{"name":"x","extra":"\ud800"}`, false},
		"unknown with invalid UTF-8":    {"{\"name\":\"x\",\"extra\":[\"\xff\"]}", false},
		"a key with invalid UTF-8":      {"{\"name\":\"x\",\"\xff\":1}", false},
		"known, bad: the field's own":   {`{"name":"\ud800"}`, true},
		"a variant of known, bad":       {`{"NAME":"\ud800"}`, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := strictjson.Parse(c.src)
			if err != nil {
				t.Fatal(err)
			}
			err = o.CheckOthers("name")
			if c.ok && err != nil || !c.ok && !errors.Is(err, strictjson.ErrSyntax) {
				t.Fatalf("CheckOthers = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	type body struct {
		Usernames []string `json:"usernames"`
		Admin     bool     `json:"admin,omitempty"`
		Skipped   string   `json:"-"`
	}
	cases := map[string]struct {
		src     string
		want    body
		field   string // the field refused; "" for none
		problem strictjson.Problem
		syntax  bool
		typeErr bool
	}{
		"ok":                           {src: `{"usernames":["bob"],"admin":true}`, want: body{Usernames: []string{"bob"}, Admin: true}},
		"unknown ignored":              {src: `{"usernames":["bob"],"note":"hi","-":"x"}`, want: body{Usernames: []string{"bob"}}},
		"ADMIN":                        {src: `{"usernames":["bob"],"ADMIN":true}`, field: "admin", problem: strictjson.CaseVariant},
		"admin twice":                  {src: `{"usernames":["bob"],"admin":true,"admin":false}`, field: "admin", problem: strictjson.Duplicate},
		"bad member name":              {src: `{"usernames":["bob","\ud800"]}`, field: "usernames", problem: strictjson.BadString},
		"both bad: the first declared": {src: `{"admin":1,"Admin":2,"usernames":["\ud800"]}`, field: "usernames", problem: strictjson.BadString},
		"bad unknown member":           {src: `{"usernames":["bob"],"x":"\udc00"}`, syntax: true},
		"not an object":                {src: `["bob"]`, syntax: true},
		"wrong type":                   {src: `{"usernames":"bob"}`, typeErr: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var got body
			err := strictjson.Decode([]byte(c.src), &got)
			var fe *strictjson.FieldError
			var te *json.UnmarshalTypeError
			switch {
			case c.field != "":
				if !errors.As(err, &fe) || fe.Field != c.field || fe.Problem != c.problem {
					t.Fatalf("Decode = %v, want %s %v", err, c.field, c.problem)
				}
			case c.syntax:
				if !errors.Is(err, strictjson.ErrSyntax) {
					t.Fatalf("Decode = %v, want ErrSyntax", err)
				}
			case c.typeErr:
				if !errors.As(err, &te) {
					t.Fatalf("Decode = %v, want a type error", err)
				}
			default:
				if err != nil || len(got.Usernames) != len(c.want.Usernames) || got.Admin != c.want.Admin || got.Skipped != "" {
					t.Fatalf("Decode = %+v, %v; want %+v", got, err, c.want)
				}
			}
		})
	}
}
