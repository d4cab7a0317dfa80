package gateway

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// signed reports whether a management API request carries a SigV4
// signature, in the Authorization header or (a presigned URL) in the
// query. Only its presence and shape are checked, not the signature
// itself: that would need the caller's secret key, which the emulator has
// no business holding, and the HMACs would cost a fan-out more than the
// post does (BenchmarkPostToConnection). What a client can tell — that an
// unsigned or malformed call is refused — is what is reproduced.
func signed(r *http.Request) (ok bool, errType, message string) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if q := r.URL.RawQuery; q != "" && strings.Contains(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256") && strings.Contains(q, "X-Amz-Signature=") {
			return true, "", ""
		}
		return false, "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return false, "IncompleteSignatureException", "Authorization header requires the AWS4-HMAC-SHA256 algorithm"
	}
	for _, part := range [...]string{"Credential=", "SignedHeaders=", "Signature="} {
		if !strings.Contains(rest, part) {
			return false, "IncompleteSignatureException", "Authorization header requires '" + strings.TrimSuffix(part, "=") + "' parameter"
		}
	}
	return true, "", ""
}

// tokenBucket is the management API's account-wide throttle: rate tokens
// a second, at most burst of them saved up. One mutex, no allocation per
// call.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens a second
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) *tokenBucket {
	b := float64(burst)
	if burst == 0 {
		b = max(rate, 1)
	}
	return &tokenBucket{rate: rate, burst: b, tokens: b, last: time.Now()}
}

// allow takes a token if there is one.
func (b *tokenBucket) allow() bool {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// delay holds a management API call for the configured latency and
// jitter; false if the caller gave up meanwhile.
func (g *Gateway) delay(ctx context.Context) bool {
	d := g.cfg.ManagementLatency
	if j := g.cfg.ManagementJitter; j > 0 {
		d += rand.N(j)
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// refuseManagement answers a management API call API Gateway would refuse
// before looking at the connection.
func refuseManagement(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("x-amzn-ErrorType", errType)
	writeJSON(w, status, map[string]string{"message": message})
}
