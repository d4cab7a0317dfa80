package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// redacted stands in the verbose log for every secret.
const redacted = "[redacted]"

// secretWords mark a field, header or query parameter whose value is a
// secret by its name: passwords, tokens, tickets, session cookies, keys.
// Names are compared case-folded, so "PASSWORD" and "paſſword" (which
// encoding/json would read as password) are caught as well.
var secretWords = []string{"password", "passwd", "token", "ticket", "secret", "authorization", "cookie", "credential", "apikey", "api-key", "api_key", "sec-websocket-protocol"}

func secretName(name string) bool {
	folded := strings.ToLower(strings.ToUpper(name))
	for _, w := range secretWords {
		if strings.Contains(folded, w) {
			return true
		}
	}
	return false
}

// redact returns an event or answer as the verbose log shows it: every
// value whose name says it is a secret replaced, at any depth, in the
// query string, and inside a body (JSON, or base64 of JSON). A body that
// is not JSON is not logged at all, only its size: its secrets cannot be
// found by name. The log never holds a password, token or ticket, at any
// verbosity.
func redact(payload []byte) json.RawMessage {
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return notLogged(len(payload))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // a log, not a page: keep & and < readable
	if err := enc.Encode(redactValue(v)); err != nil {
		return notLogged(len(payload))
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

func notLogged(n int) json.RawMessage {
	raw, _ := json.Marshal(fmt.Sprintf("[%d bytes, not JSON: not logged]", n))
	return raw
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			s, isString := val.(string)
			switch {
			case secretName(k):
				x[k] = redacted
			case k == "body" && isString:
				b64, _ := x["isBase64Encoded"].(bool)
				x[k] = redactBody(s, b64)
			case k == "rawQueryString" && isString:
				x[k] = redactQuery(s)
			default:
				x[k] = redactValue(val)
			}
		}
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
	}
	return v
}

func redactBody(body string, isBase64 bool) any {
	if body == "" {
		return body
	}
	raw := []byte(body)
	if isBase64 {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(body); err != nil {
			return notLogged(len(body))
		}
	}
	return redact(raw)
}

// redactQuery keeps a query string's order and names, without the values
// of secret ones.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if un, err := url.QueryUnescape(name); err == nil {
			name = un
		}
		if hasValue && secretName(name) {
			parts[i] = p[:strings.IndexByte(p, '=')+1] + redacted
		}
	}
	return strings.Join(parts, "&")
}
