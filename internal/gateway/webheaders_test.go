package gateway

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/samtemplate"
)

func TestWebHeadersFromTemplate(t *testing.T) {
	cases := map[string]struct {
		want    http.Header
		problem string // in the error; "" for none
	}{
		"none.yaml": {want: http.Header{}},
		"all.yaml": {want: http.Header{
			"Content-Security-Policy":   {"default-src 'self'; frame-ancestors 'none'"},
			"X-Content-Type-Options":    {"nosniff"},
			"X-Frame-Options":           {"SAMEORIGIN"},
			"Referrer-Policy":           {"same-origin"},
			"Strict-Transport-Security": {"max-age=31536000; includeSubDomains; preload"},
			"Permissions-Policy":        {"camera=()"},
			"X-Extra":                   {"1"},
		}},
		"managed.yaml":        {problem: "names no response headers policy"},
		"missing_policy.yaml": {problem: "names no response headers policy"},
		"cors.yaml":           {problem: "CorsConfig is not reproduced"},
		"xss.yaml":            {problem: "XSSProtection is not reproduced"},
	}
	for file, c := range cases {
		t.Run(file, func(t *testing.T) {
			tmpl, err := samtemplate.Load(filepath.Join("testdata", "webheaders", file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := webHeaders(tmpl)
			if c.problem != "" {
				if err == nil || !strings.Contains(err.Error(), c.problem) {
					t.Fatalf("err = %v, want one saying %q", err, c.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Errorf("headers %v, want %v", got, c.want)
			}
			for k := range c.want {
				if got.Get(k) != c.want.Get(k) {
					t.Errorf("%s = %q, want %q", k, got.Get(k), c.want.Get(k))
				}
			}
		})
	}
}

// TestWebHeadersOverTLS: Strict-Transport-Security goes out over HTTPS
// only; the rest over both.
func TestWebHeadersOverTLS(t *testing.T) {
	tmpl, err := samtemplate.Load(filepath.Join("testdata", "webheaders", "all.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := webHeaders(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{cfg: Config{Routes: &Routes{WebHeaders: h}}}
	handler := g.withWebHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, srv := range []*httptest.Server{httptest.NewServer(handler), httptest.NewTLSServer(handler)} {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		tls := resp.TLS != nil
		if got := resp.Header.Get("Strict-Transport-Security"); (got != "") != tls {
			t.Errorf("TLS %v: Strict-Transport-Security %q", tls, got)
		}
		if got := resp.Header.Get("X-Frame-Options"); got != "SAMEORIGIN" {
			t.Errorf("TLS %v: X-Frame-Options %q", tls, got)
		}
	}
}
