package chatclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestDialErrorHidesTheTicket: a failed handshake's error names the URL,
// but never the ticket in it, and still unwraps to the cause.
func TestDialErrorHidesTheTicket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c := &Client{BaseURL: "http://" + addr, HTTP: http.DefaultClient}
	const ticket = "s3cr3t-ticket-value"
	_, err = c.DialTicket(context.Background(), ticket)
	if err == nil {
		t.Fatal("a dial to a closed port succeeded")
	}
	if strings.Contains(err.Error(), ticket) {
		t.Errorf("the error shows the ticket: %v", err)
	}
	if !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("the error %q does not say where the ticket was", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("the error %v no longer unwraps to the network error", err)
	}
}
