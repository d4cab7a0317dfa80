package wsapi

import (
	"encoding/json"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/wire"
)

// Socket error codes beside the domain's.
const (
	codeInvalidJSON   chat.Code = "invalid_json"
	codeUnknownAction chat.Code = "unknown_action"
	codeNotJoined     chat.Code = "not_joined"
	codeRateLimited   chat.Code = "rate_limited"
	codeInternal      chat.Code = "internal"
)

// Frames the server sends, one JSON object each, told apart by type.
type (
	announcementFrame struct {
		Type     string `json:"type"`
		RoomID   string `json:"room_id"`
		Seq      int64  `json:"seq"`
		Username string `json:"username"`
		At       string `json:"at"`
	}
	messageFrame struct {
		Type        string         `json:"type"`
		RoomID      string         `json:"room_id"`
		Seq         int64          `json:"seq"`
		MessageID   string         `json:"message_id"`
		ClientMsgID string         `json:"client_msg_id"`
		Username    string         `json:"username"`
		Text        string         `json:"text"`
		Mentions    chat.Usernames `json:"mentions"`
		At          string         `json:"at"`
	}
	// messageChangeFrame is message_edited (with Text and Mentions) and
	// message_deleted (without).
	messageChangeFrame struct {
		Type      string          `json:"type"`
		RoomID    string          `json:"room_id"`
		Seq       int64           `json:"seq"`
		Username  string          `json:"username"`
		At        string          `json:"at"`
		MessageID string          `json:"message_id"`
		Text      *string         `json:"text,omitempty"`
		Mentions  *chat.Usernames `json:"mentions,omitempty"`
	}
	// roomSummaryFrame is a user frame: a room of the user's list as it
	// now is.
	roomSummaryFrame struct {
		Type string           `json:"type"`
		Room wire.RoomSummary `json:"room"`
	}
	historyFrame struct {
		Type    string       `json:"type"`
		RoomID  string       `json:"room_id"`
		Events  []chat.Event `json:"events"`
		HasMore bool         `json:"has_more"`
		LastSeq int64        `json:"last_seq"`
		Online  []string     `json:"online"`
	}
	roomUpdatedFrame struct {
		Type    string        `json:"type"`
		RoomID  string        `json:"room_id"`
		Seq     int64         `json:"seq"`
		Name    string        `json:"name"`
		Members []chat.Member `json:"members"`
	}
	roomFrame struct {
		Type   string `json:"type"`
		RoomID string `json:"room_id"`
	}
	typingFrame struct {
		Type     string `json:"type"`
		RoomID   string `json:"room_id"`
		Username string `json:"username"`
	}
	errorFrame struct {
		Type        string `json:"type"`
		Code        string `json:"code"`
		Message     string `json:"message"`
		Action      string `json:"action,omitempty"`
		RoomID      string `json:"room_id,omitempty"`
		ClientMsgID string `json:"client_msg_id,omitempty"`
	}
)

// eventFrame is the live frame for a stored event, or nil for events that
// have none (room changes travel as room_updated).
func eventFrame(e chat.Event) any {
	at := wire.Time(e.At)
	switch d := e.Data.(type) {
	case chat.UserJoined:
		return announcementFrame{Type: "join_room_announcement", RoomID: e.RoomID, Seq: e.Seq, Username: e.Username, At: at}
	case chat.UserLeft:
		return announcementFrame{Type: "leave_room_announcement", RoomID: e.RoomID, Seq: e.Seq, Username: e.Username, At: at}
	case chat.MessageSent:
		return messageFrame{Type: "receive_message", RoomID: e.RoomID, Seq: e.Seq, MessageID: d.MessageID, ClientMsgID: d.ClientMsgID, Username: e.Username, Text: d.Text, Mentions: d.Mentions, At: at}
	case chat.MessageEdited:
		return messageChangeFrame{Type: "message_edited", RoomID: e.RoomID, Seq: e.Seq, Username: e.Username, At: at, MessageID: d.MessageID, Text: &d.Text, Mentions: &d.Mentions}
	case chat.MessageDeleted:
		return messageChangeFrame{Type: "message_deleted", RoomID: e.RoomID, Seq: e.Seq, Username: e.Username, At: at, MessageID: d.MessageID}
	}
	return nil
}

func summaryFrame(s store.RoomSummary) []byte {
	return encode(roomSummaryFrame{Type: "room_summary", Room: wire.NewRoomSummary(s)})
}

func roomRemovedFrame(roomID string) []byte {
	return encode(roomFrame{Type: "room_removed", RoomID: roomID})
}

func encode(frame any) []byte {
	raw, err := json.Marshal(frame)
	if err != nil {
		// Only this package's frame types are encoded.
		panic("wsapi: encode frame: " + err.Error())
	}
	return raw
}
