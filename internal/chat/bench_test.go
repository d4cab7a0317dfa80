package chat_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

// BenchmarkEventMarshal writes a message_sent event with about 100 bytes
// of text, as the stores and the history frames do.
func BenchmarkEventMarshal(b *testing.B) {
	ev := chat.Event{
		RoomID:   "01JD2Q6Y8N3V4W5X6Y7Z8A9B0C",
		Seq:      1234,
		Username: "alice",
		At:       time.Date(2026, 11, 21, 10, 0, 0, 123_000_000, time.UTC),
		Data: chat.MessageSent{
			MessageID:   "01JD2Q7A1B2C3D4E5F6G7H8J9K",
			ClientMsgID: "msg-0001",
			Text:        strings.Repeat("hello, everyone ", 7)[:100],
		},
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}
