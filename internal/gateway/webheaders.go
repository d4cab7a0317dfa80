package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/chatroom/chat/internal/samtemplate"
)

// webHeaders reads the headers CloudFront adds to the web client's answers:
// the response headers policy on each distribution's default cache
// behavior. What the emulator cannot reproduce (a managed policy known only
// by its id, CORS or header removal, a security header it does not know)
// is an error, so that it never serves the web client with fewer headers
// than the cloud does without saying so.
func webHeaders(t *samtemplate.Template) (http.Header, error) {
	h := http.Header{}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		res := t.Resources[id]
		if res.Type != "AWS::CloudFront::Distribution" {
			continue
		}
		behavior := mapAt(res.Properties, "DistributionConfig", "DefaultCacheBehavior")
		raw, ok := behavior["ResponseHeadersPolicyId"]
		if !ok {
			continue
		}
		policyID := refIn(raw)
		policy, found := t.Resources[policyID]
		if !found || policy.Type != "AWS::CloudFront::ResponseHeadersPolicy" {
			return nil, fmt.Errorf("distribution %s: ResponseHeadersPolicyId %v names no response headers policy of the template", id, raw)
		}
		if err := policyHeaders(h, mapAt(policy.Properties, "ResponseHeadersPolicyConfig")); err != nil {
			return nil, fmt.Errorf("response headers policy %s: %w", policyID, err)
		}
	}
	return h, nil
}

func policyHeaders(h http.Header, cfg map[string]any) error {
	for key := range cfg {
		switch key {
		case "Name", "Comment", "SecurityHeadersConfig", "CustomHeadersConfig":
		default:
			return fmt.Errorf("%s is not reproduced by the emulator", key)
		}
	}
	for key, v := range mapAt(cfg, "SecurityHeadersConfig") {
		m, _ := v.(map[string]any)
		str := func(k string) string { s, _ := m[k].(string); return s }
		switch key {
		case "ContentSecurityPolicy":
			h.Set("Content-Security-Policy", str("ContentSecurityPolicy"))
		case "ContentTypeOptions":
			h.Set("X-Content-Type-Options", "nosniff")
		case "FrameOptions":
			h.Set("X-Frame-Options", str("FrameOption"))
		case "ReferrerPolicy":
			h.Set("Referrer-Policy", str("ReferrerPolicy"))
		case "StrictTransportSecurity":
			v := fmt.Sprintf("max-age=%v", m["AccessControlMaxAgeSec"])
			if b, _ := m["IncludeSubdomains"].(bool); b {
				v += "; includeSubDomains"
			}
			if b, _ := m["Preload"].(bool); b {
				v += "; preload"
			}
			h.Set("Strict-Transport-Security", v)
		default:
			return fmt.Errorf("SecurityHeadersConfig.%s is not reproduced by the emulator", key)
		}
	}
	items, _ := mapAt(cfg, "CustomHeadersConfig")["Items"].([]any)
	for i, it := range items {
		m, _ := it.(map[string]any)
		name, _ := m["Header"].(string)
		value, _ := m["Value"].(string)
		if name == "" {
			return fmt.Errorf("CustomHeadersConfig.Items[%d] has no Header", i)
		}
		h.Set(name, value)
	}
	return nil
}

// withWebHeaders adds the web client's headers to what next answers, as
// CloudFront does. Strict-Transport-Security goes out over HTTPS alone: a
// browser ignores it over plain HTTP, and it must not pin a developer's
// localhost to HTTPS.
func (g *Gateway) withWebHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range g.cfg.Routes.WebHeaders {
			if r.TLS == nil && strings.EqualFold(k, "Strict-Transport-Security") {
				continue
			}
			w.Header()[k] = vs
		}
		next.ServeHTTP(w, r)
	})
}
