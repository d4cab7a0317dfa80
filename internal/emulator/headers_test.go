package emulator_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/samtemplate"
)

// TestSecurityHeaders: the web client's files and config.json come with
// the headers of template.yaml's CloudFront response headers policy, as
// in the cloud (its Content-Security-Policy forbidding frames), and every
// answer of the HTTP API with headers of its own that allow nothing.
func TestSecurityHeaders(t *testing.T) {
	tmpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var csp, permissions string
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::CloudFront::ResponseHeadersPolicy" {
			continue
		}
		cfg, _ := r.Properties["ResponseHeadersPolicyConfig"].(map[string]any)
		sec, _ := cfg["SecurityHeadersConfig"].(map[string]any)
		c, _ := sec["ContentSecurityPolicy"].(map[string]any)
		csp, _ = c["ContentSecurityPolicy"].(string)
		custom, _ := cfg["CustomHeadersConfig"].(map[string]any)
		items, _ := custom["Items"].([]any)
		for _, it := range items {
			if m, _ := it.(map[string]any); m["Header"] == "Permissions-Policy" {
				permissions, _ = m["Value"].(string)
			}
		}
	}
	if !strings.Contains(csp, "frame-ancestors 'none'") || permissions == "" {
		t.Fatalf("template.yaml's response headers policy: CSP %q, Permissions-Policy %q", csp, permissions)
	}
	e := start(t, stores["bbolt"](t))

	get := func(method, path, token string, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	web := map[string]string{
		"Content-Security-Policy": csp,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Permissions-Policy":      permissions,
	}
	for _, path := range []string{"/", "/index.html", "/js/main.js", "/styles.css", "/config.json", "/no-such-file"} {
		resp := get("GET", path, "", "")
		for name, want := range web {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("GET %s (%d): %s is %q, want %q", path, resp.StatusCode, name, got, want)
			}
		}
		if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("GET %s over plain HTTP: Strict-Transport-Security %q", path, hsts)
		}
	}

	alice := signup(t, e, "alice")
	api := map[string]string{
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"POST", "/api/auth/signup", "", `{"username":"bob","password":"correct horse"}`, http.StatusCreated},
		{"POST", "/api/auth/signup", "", `{"username":"bob","USERNAME":"eve"}`, http.StatusBadRequest},
		{"GET", "/api/me", "", "", http.StatusUnauthorized},
		{"GET", "/api/me", alice.token, "", http.StatusOK},
		{"GET", "/api/rooms/nowhere", alice.token, "", http.StatusNotFound},
		{"POST", "/api/auth/logout", alice.token, "", http.StatusNoContent},
	} {
		resp := get(c.method, c.path, c.token, c.body)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		for name, want := range api {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s %s (%d): %s is %q, want %q", c.method, c.path, resp.StatusCode, name, got, want)
			}
		}
	}
}
