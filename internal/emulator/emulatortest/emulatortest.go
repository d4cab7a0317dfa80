// Package emulatortest starts the whole chat for a test: the emulator on
// a free loopback port, with hashing that costs nothing, no logs, the
// embedded store in the test's temporary directory, and a shutdown when
// the test ends.
package emulatortest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/emulator"
)

// Cheap is an auth configuration whose password hashing costs
// microseconds, so a test can sign up hundreds of people.
var Cheap = auth.Config{Params: authtest.Params, SessionTTL: time.Hour, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60, Now: time.Now}

// Start runs the chat with o, filling in what o leaves unset: the address
// (127.0.0.1, a free port), the project directory, cheap hashing, a
// discarding logger and, for the embedded store, a temporary directory.
func Start(t testing.TB, o emulator.Options) *emulator.Emulator {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Root == "" {
		o.Root = projectRoot(t)
	}
	if o.Auth == nil {
		cheap := Cheap
		o.Auth = &cheap
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	e, err := emulator.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("emulator shutdown: %v", err)
		}
	})
	return e
}

// projectRoot is the directory holding go.mod, above the test's own.
func projectRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
