package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/gateway"
)

// slowInvoker answers after a while, and fails if the request's context
// ended meanwhile, as a function whose caller went away would.
type slowInvoker struct{ delay time.Duration }

func (s slowInvoker) Invoke(ctx context.Context, _ *gateway.Function, _ []byte) ([]byte, error) {
	select {
	case <-time.After(s.delay):
		return []byte(`{"statusCode":200,"body":"{}"}`), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestBodyDeadlineEndsWithTheBody: the bound on a body's arrival is lifted
// once the body is in, so a function that runs longer than the bound is
// still answered, on both a sized and a chunked body.
func TestBodyDeadlineEndsWithTheBody(t *testing.T) {
	const bound = 200 * time.Millisecond
	_, srv := serve(t, slowInvoker{delay: 5 * bound}, func(c *gateway.Config) { c.BodyReadTimeout = bound })
	status, _, body := call(t, "POST", srv.URL+"/api/auth/signup", []byte(`{"username":"alice","password":"12345678"}`))
	if status != http.StatusOK {
		t.Errorf("sized body: %d %s, want 200 from the slow function", status, body)
	}
	// A reader of unknown length: the client sends it chunked.
	req, err := http.NewRequest("POST", srv.URL+"/api/auth/login", io.MultiReader(strings.NewReader(`{"username":"alice"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("chunked body: %d, want 200 from the slow function", resp.StatusCode)
	}
}
