package chat_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

func ExampleCreateRoom() {
	exists := func(u string) bool { return u == "bob" || u == "carol" }
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

	// The command checks the input and returns the events to append...
	events, err := chat.CreateRoom("01JD8Z3Q7X9K2M4N6P8R0T2V4W", "alice", "  General ", []string{"Bob", "carol"}, exists, at)
	if err != nil {
		fmt.Println(err)
		return
	}
	// ...and Apply folds them into the room's state.
	room := chat.NewRoom("01JD8Z3Q7X9K2M4N6P8R0T2V4W")
	for _, e := range events {
		if err := room.Apply(e); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(room.Name, room.Owner, room.Version)
	for _, m := range room.MemberList() {
		fmt.Println(m.Username, m.Role)
	}

	// A refused command names the contract code.
	_, err = room.AddMembers("bob", []string{"dave"}, false, exists, at)
	code, _ := chat.CodeOf(err)
	fmt.Println(code)
	// Output:
	// General alice 1
	// alice owner
	// bob member
	// carol member
	// forbidden
}

func ExampleEvent_MarshalJSON() {
	e := chat.Event{
		RoomID:   "01JD8Z3Q7X9K2M4N6P8R0T2V4W", // not part of the event object
		Seq:      7,
		Username: "bob",
		At:       time.Date(2026, 11, 21, 11, 0, 0, 250_000_000, time.FixedZone("CET", 3600)),
		Data:     chat.MessageSent{MessageID: "m1", ClientMsgID: "c-1", Text: "hello"},
	}
	raw, err := json.Marshal(e)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(raw))

	var back chat.Event
	if err := json.Unmarshal(raw, &back); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(back.Type(), back.Seq, back.At)
	// Output:
	// {"seq":7,"type":"message_sent","username":"bob","at":"2026-11-21T10:00:00.250Z","message_id":"m1","client_msg_id":"c-1","text":"hello","mentions":[]}
	// message_sent 7 2026-11-21 10:00:00.25 +0000 UTC
}
