package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatroom/chat/internal/store"
)

// Bench measures the hot paths of an adapter: a message append the way
// send_message does it (read the head as the sender, append at its
// version), from one writer and from several writers on their own rooms,
// and the two page reads a join and a scroll make.
func Bench(b *testing.B, open Opener) {
	ctx := context.Background()
	s := open(b)
	send := func(b *testing.B, roomID string, i int) {
		r, err := s.RoomAs(ctx, roomID, "alice")
		if err != nil {
			b.Fatal(err)
		}
		events, err := r.SendMessage("alice", newID(), fmt.Sprint("c", i), "a message of about a hundred bytes, which is what people send in a chat room ..", epoch)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Events: events}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("AppendMessage", func(b *testing.B) {
		id := createRoom(b, s, "alice", "bob")
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			send(b, id, i)
		}
	})
	b.Run("AppendMessageParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			id := createRoom(b, s, "alice")
			for i := 0; pb.Next(); i++ {
				send(b, id, i)
			}
		})
	})
	full := createRoom(b, s, "alice")
	b.StopTimer()
	for i := range 1000 {
		send(b, full, i)
	}
	b.StartTimer()
	for _, limit := range []int{50, 100} {
		b.Run(fmt.Sprintf("ReadNewest%d", limit), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.ReadBackward(ctx, full, 0, limit)
				if err != nil || len(p.Events) != limit {
					b.Fatalf("read %d events, %v", len(p.Events), err)
				}
			}
		})
		b.Run(fmt.Sprintf("ReadAfter%d", limit), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.ReadForward(ctx, full, 500, limit)
				if err != nil || len(p.Events) != limit {
					b.Fatalf("read %d events, %v", len(p.Events), err)
				}
			}
		})
	}
	b.Run("RoomAs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.RoomAs(ctx, full, "alice"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
