package emulator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chatclient"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
)

// TestSendLimitOption: -send-limit sets each connection's rate (bursts of
// twice it), and turned off lets a burst far past the default through.
func TestSendLimitOption(t *testing.T) {
	for _, tc := range []struct {
		name       string
		limit      int
		sends      int
		wantStored int
	}{
		{"a limit of 2 a second stores a burst of 4", 2, 10, 4},
		{"no limit stores every message", -1, 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := emulatortest.Start(t, emulator.Options{Store: "bolt", SendLimit: tc.limit})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			alice, err := chatclient.SignUp(ctx, nil, e.URL, "alice", "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			room, err := alice.CreateRoom(ctx, "general", nil)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := alice.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.Send(ctx, chatclient.JoinFrame(room.RoomID, -1)); err != nil {
				t.Fatal(err)
			}
			for i := range tc.sends {
				if err := conn.Send(ctx, chatclient.SendFrame(room.RoomID, fmt.Sprintf("m%d", i), "hi")); err != nil {
					t.Fatal(err)
				}
			}
			// Every send is answered, by its message or rate_limited.
			stored, limited := 0, 0
			for stored+limited < tc.sends {
				raw, err := conn.Read(ctx)
				if err != nil {
					t.Fatalf("after %d stored and %d refused: %v", stored, limited, err)
				}
				f, err := chatclient.ParseFrame(raw)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case f.Type == "receive_message":
					stored++
				case f.Type == "error" && f.Code == "rate_limited":
					limited++
				case f.Type == "error":
					t.Fatalf("error frame %s: %s", f.Code, f.Message)
				}
			}
			// A burst can straddle two windows: at most twice the burst.
			if tc.limit < 0 && stored != tc.wantStored || tc.limit > 0 && (stored < tc.wantStored || stored > 2*tc.wantStored) {
				t.Fatalf("%d stored, %d refused; want %d stored", stored, limited, tc.wantStored)
			}
		})
	}
}
