package gateway

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	cases := map[string]struct {
		payload string
		secrets []string // must not be in the output
		kept    []string // must be
	}{
		"a password in the body": {
			`{"routeKey":"POST /auth/signup","body":"{\"username\":\"alice\",\"password\":\"P-one secret\"}"}`,
			[]string{"P-one secret"}, []string{"POST /auth/signup", "alice"},
		},
		"a password under another case, and folded": {
			`{"body":"{\"PASSWORD\":\"P-two\",\"pa\u017f\u017fword\":\"P-three\",\"Password\":[\"P-four\"]}"}`,
			[]string{"P-two", "P-three", "P-four"}, nil,
		},
		"a password given twice": {
			`{"body":"{\"password\":\"P-five\",\"password\":\"P-six\"}"}`,
			[]string{"P-five", "P-six"}, nil,
		},
		"a nested token": {
			`{"body":"{\"session\":{\"token\":\"T-one\"},\"list\":[{\"ticket\":\"K-one\"}]}"}`,
			[]string{"T-one", "K-one"}, []string{"session"},
		},
		"a body that is not JSON": {
			`{"body":"username=alice&password=P-seven"}`,
			[]string{"P-seven", "alice"}, []string{"not logged"},
		},
		"a body that is JSON cut short": {
			`{"body":"{\"username\":\"alice\",\"password\":\"P-eight"}`,
			[]string{"P-eight"}, []string{"not logged"},
		},
		"a base64 body": {
			`{"isBase64Encoded":true,"body":"` + base64.StdEncoding.EncodeToString([]byte("{\"password\":\"P-nine\xff\",\"username\":\"bob\"}")) + `"}`,
			[]string{"P-nine", base64.StdEncoding.EncodeToString([]byte("{\"password\":\"P-nine\xff\",\"username\":\"bob\"}"))}, []string{"bob"},
		},
		"a base64 body that is not base64": {
			`{"isBase64Encoded":true,"body":"password=P-ten"}`,
			[]string{"P-ten"}, []string{"not logged"},
		},
		"headers": {
			`{"headers":{"authorization":"Bearer T-two","Cookie":"session=C-one","x-api-key":"A-one","user-agent":"curl"},"multiValueHeaders":{"Authorization":["Bearer T-three"],"Set-Cookie":["s=C-two"]}}`,
			[]string{"T-two", "C-one", "A-one", "T-three", "C-two"}, []string{"curl", "authorization", "Set-Cookie"},
		},
		"query parameters": {
			`{"rawQueryString":"after_seq=3&ticket=K-two&%74oken=T-four&TOKEN=T-five&limit","queryStringParameters":{"ticket":"K-two","token":"T-four","after_seq":"3"},"multiValueQueryStringParameters":{"ticket":["K-three"]}}`,
			[]string{"K-two", "T-four", "T-five", "K-three"}, []string{"after_seq=3", `"after_seq":"3"`, "&limit"},
		},
		"an answer with a token": {
			`{"statusCode":201,"headers":{"Content-Type":"application/json"},"body":"{\"username\":\"alice\",\"token\":\"T-six\",\"expires_at\":\"2026\"}"}`,
			[]string{"T-six"}, []string{"201", "expires_at", "alice"},
		},
		"cookies": {
			`{"cookies":["session=C-three"]}`,
			[]string{"C-three"}, nil,
		},
		"not JSON at all": {
			`password=P-eleven`,
			[]string{"P-eleven"}, []string{"not logged"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := string(redact([]byte(c.payload)))
			if !json.Valid([]byte(got)) {
				t.Fatalf("redacted to %s, which is not JSON", got)
			}
			for _, s := range c.secrets {
				if strings.Contains(got, s) {
					t.Errorf("%q is still in %s", s, got)
				}
			}
			for _, s := range c.kept {
				if !strings.Contains(got, s) {
					t.Errorf("%q is gone from %s", s, got)
				}
			}
		})
	}
}

// TestRedactRealEvents: the functions' own API Gateway events, their tokens
// and passwords filled in, keep none of them.
func TestRedactRealEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "functions", "*", "testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events: %v", err)
	}
	const token = "Tk-0123456789abcdefghijklmnopqrstuvwxyzABCD"
	fill := strings.NewReplacer("{{token}}", token, "{{room_id}}", "01JD8Q0000000000000000ROOM", "{{connection_id}}", "conn=",
		"{{client_msg_id}}", "c-1", "{{after_seq}}", "3")
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev := fill.Replace(string(raw))
			var parsed struct {
				Body            string `json:"body"`
				IsBase64Encoded bool   `json:"isBase64Encoded"`
				RouteKey        string `json:"routeKey"`
			}
			if err := json.Unmarshal([]byte(ev), &parsed); err != nil {
				t.Fatal(err)
			}
			secrets := []string{token}
			body := []byte(parsed.Body)
			if parsed.IsBase64Encoded {
				secrets = append(secrets, parsed.Body)
				body, _ = base64.StdEncoding.DecodeString(parsed.Body)
			}
			var fields map[string]any
			if json.Unmarshal(body, &fields) == nil {
				if p, ok := fields["password"].(string); ok {
					secrets = append(secrets, p)
				}
			}
			got := string(redact([]byte(ev)))
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("%q is still in %s", s, got)
				}
			}
			if parsed.RouteKey != "" && !strings.Contains(got, parsed.RouteKey) {
				t.Errorf("the route key %q is gone from %s", parsed.RouteKey, got)
			}
		})
	}
}

// FuzzRedact: whatever an event holds, the log gets JSON, and a value
// under a secret's name, in a body sent plain or as base64, is not in it.
func FuzzRedact(f *testing.F) {
	f.Add(`{"body":"{}"}`, "password", "correct horse", false)
	f.Add(`not json`, "PASSWORD", "hunter2 hunter2", true)
	f.Add(`{"headers":{"Authorization":"Bearer x"}}`, "paſſword", "\xff\xfe secret", false)
	f.Add(`{"rawQueryString":"a=1&ticket=2"}`, "access_token", "lone \\ud800 escape", true)
	f.Fuzz(func(t *testing.T, payload, key, secret string, b64 bool) {
		if got := redact([]byte(payload)); !json.Valid(got) {
			t.Fatalf("redact(%q) = %s, not JSON", payload, got)
		}
		if !secretName(key) || len(secret) < 8 {
			return
		}
		event := func(secret string) (string, string) {
			body, _ := json.Marshal(map[string]any{key: secret, "username": "alice"})
			ev := map[string]any{"body": string(body), "isBase64Encoded": b64}
			if b64 {
				ev["body"] = base64.StdEncoding.EncodeToString(body)
			}
			raw, _ := json.Marshal(ev)
			return string(redact(raw)), ev["body"].(string)
		}
		got, body := event(secret)
		// What the log shows for another secret: a secret that is part of
		// it (the key, "[redacted]") proves nothing.
		other, _ := event("\x01")
		// The secret as the log could show it: as sent, or JSON-escaped.
		escaped, _ := json.Marshal(secret)
		for _, s := range []string{secret, string(escaped[1 : len(escaped)-1]), body} {
			if strings.Contains(got, s) && !strings.Contains(other, s) {
				t.Fatalf("%q under %q: %s is in %s", secret, key, s, got)
			}
		}
	})
}
