package emulator_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowClientsAreCut: a client that sends its headers too slowly, or
// announces a body and never sends all of it, is answered (408) or cut
// off within the configured bounds instead of holding its connection for
// ever, while a WebSocket, long-lived after its upgrade, stays open past
// them.
func TestSlowClientsAreCut(t *testing.T) {
	const bound = 300 * time.Millisecond
	o := stores["bbolt"](t)
	o.ReadHeaderTimeout, o.BodyReadTimeout = bound, bound
	e := start(t, o)
	addr := strings.TrimPrefix(e.URL, "http://")

	const signupHeaders = "POST /api/auth/signup HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\n"
	cases := map[string]struct {
		sent    string
		want408 bool // else: closed with no answer
	}{
		"a body announced, never sent": {signupHeaders + "Content-Length: 64\r\n\r\n", true},
		"half a body":                  {signupHeaders + "Content-Length: 64\r\n\r\n{\"username\": \"zed\",", true},
		"a chunked body, never ended":  {signupHeaders + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"use\r\n", true},
		"a body to the management API": {"POST /@connections/abc HTTP/1.1\r\nHost: chat\r\nContent-Length: 10\r\n\r\n", false},
		"a body to no route":           {"POST /api/nowhere HTTP/1.1\r\nHost: chat\r\nContent-Length: 10\r\n\r\n", false},
		"headers never finished":       {signupHeaders + "Content-Le", false},
		"nothing at all":               {"", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, c.sent); err != nil {
				t.Fatal(err)
			}
			// Far longer than the bound, far shorter than for ever.
			_ = conn.SetReadDeadline(time.Now().Add(10 * bound))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			took := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still waiting after %v: the server holds the connection", took)
			}
			if took < bound/2 && c.want408 {
				t.Errorf("answered after %v, before the bound of %v", took, bound)
			}
			switch {
			case c.want408:
				if err != nil {
					t.Fatalf("no answer after %v: %v", took, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
					t.Fatalf("answered %d (close %v), want 408 and the connection closed", resp.StatusCode, resp.Close)
				}
			case err == nil:
				// Answering before closing is as good as closing: a
				// management API request for no connection is 410 at once
				// (and then its body is not waited for), half a header is
				// the server's 400.
				resp.Body.Close()
				if resp.StatusCode < 400 {
					t.Fatalf("answered %d after %v, want the connection closed", resp.StatusCode, took)
				}
			}
			// Either way the server has let go: the connection is closed.
			if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
				t.Fatalf("after the answer the connection is still open: %v", err)
			}
		})
	}

	// A socket idle for several times the bounds is still served: they
	// apply to requests, not to a connection after its upgrade.
	t.Run("a WebSocket outlives the bounds", func(t *testing.T) {
		t.Parallel()
		alice := signup(t, e, "alice")
		_, room := alice.do("POST", "/rooms", map[string]any{"name": "r"})
		s := alice.connect()
		time.Sleep(4 * bound)
		s.join(room["room_id"].(string))
		s.next("join_room_announcement")
	})
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && strings.Contains(fmt.Sprint(oe.Err), "reset")
}
