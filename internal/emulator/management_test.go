package emulator_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestManagementAPIFromTheNetwork: the emulator's /@connections route
// refuses unsigned calls as API Gateway does, takes signed ones, and
// throttles past ManagementRate. (The chat's own pushes go in process:
// they are not checked for a signature, but count against the rate.)
func TestManagementAPIFromTheNetwork(t *testing.T) {
	o := stores["bbolt"](t)
	o.ManagementRate, o.ManagementBurst = 0.01, 2
	e := start(t, o)
	post := func(auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.URL+"/local/@connections/Z29uZQ==", strings.NewReader("{}"))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType")
	}
	const signed = "AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00"
	steps := []struct {
		auth    string
		status  int
		errType string
	}{
		{"", http.StatusForbidden, "MissingAuthenticationTokenException"},
		{signed, http.StatusGone, "GoneException"},
		{signed, http.StatusGone, "GoneException"},
		// The burst of 2 is spent; a refusal for a missing signature
		// took none of it.
		{signed, http.StatusTooManyRequests, "LimitExceededException"},
	}
	for i, s := range steps {
		if status, errType := post(s.auth); status != s.status || errType != s.errType {
			t.Fatalf("call %d: %d %s, want %d %s", i, status, errType, s.status, s.errType)
		}
	}
}

// TestManagementAPIUnsignedForSAM: functions in `sam local` containers
// post over HTTP unsigned, so with -lambda-endpoint the emulator takes
// unsigned calls.
func TestManagementAPIUnsignedForSAM(t *testing.T) {
	o := stores["bbolt"](t)
	// Nothing is invoked here: no Lambda API need listen there.
	o.LambdaEndpoint = "http://127.0.0.1:1"
	e := start(t, o)
	resp, err := http.Post(e.URL+"/local/@connections/Z29uZQ==", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("unsigned post: %d, want 410 (the connection is unknown)", resp.StatusCode)
	}
}
