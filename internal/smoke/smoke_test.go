package smoke_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
	"github.com/chatroom/chat/internal/smoke"
)

func TestSmokePassesAgainstTheEmulator(t *testing.T) {
	url := emulatortest.Start(t, emulator.Options{Store: "bolt"}).URL
	rep := smoke.Run(t.Context(), smoke.Config{URL: url, Prefix: "smoketest"})
	for _, s := range rep.Steps {
		t.Logf("%-48s %v %v", s.Name, s.Took, s.Err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(rep.Line())
	}
	if len(rep.Steps) != 8 || !strings.HasPrefix(rep.Line(), "smoke: pass, 8 steps") {
		t.Errorf("report %q with %d steps, want a pass of all 8", rep.Line(), len(rep.Steps))
	}
	// A second run beside the first: its own people, nothing left over
	// from the first in the way.
	if rep := smoke.Run(t.Context(), smoke.Config{URL: url, Prefix: "smoketes2"}); rep.Err() != nil {
		t.Fatal(rep.Line())
	}
}

func TestSmokeFailsOnABrokenChat(t *testing.T) {
	// A chat whose HTTP API answers 500 to everything.
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/config.json" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"httpApiUrl":"` + api.URL + `/api","webSocketUrl":"ws` + strings.TrimPrefix(api.URL, "http") + `/ws"}`))
			return
		}
		http.Error(w, `{"error":{"code":"internal","message":"broken"}}`, http.StatusInternalServerError)
	}))
	t.Cleanup(api.Close)
	rep := smoke.Run(t.Context(), smoke.Config{URL: api.URL, Prefix: "smokebroken"})
	if rep.Err() == nil || !strings.HasPrefix(rep.Line(), "smoke: FAIL") || !strings.Contains(rep.Line(), "sign up") {
		t.Fatalf("report %q, want a failure at sign-up", rep.Line())
	}
	// Nothing was made, so nothing is cleaned up.
	if len(rep.Steps) != 2 {
		t.Errorf("%d steps, want config and sign-up only", len(rep.Steps))
	}
	// No chat there at all.
	if rep := smoke.Run(t.Context(), smoke.Config{URL: "http://127.0.0.1:1"}); rep.Err() == nil || len(rep.Steps) != 1 {
		t.Fatalf("report %q with %d steps for a closed port", rep.Line(), len(rep.Steps))
	}
}
