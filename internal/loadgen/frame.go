package loadgen

import (
	"bytes"
	"fmt"
	"strconv"
)

// liveFrame is what a receiver needs of a live frame.
type liveFrame struct {
	typ         []byte
	seq         int64
	clientMsgID []byte
	text        []byte
}

// parseLive reads the top-level fields of a flat server frame without a
// full JSON decode: at hundreds of thousands of frames a second the
// decoder would be the load generator's bottleneck, not the server's. It
// is exact for flat objects, because a quote inside a JSON string is
// always escaped, so `"key":` can only match a key. Frames with nested
// values (history, room_updated) are decoded fully by the caller.
func parseLive(raw []byte) (liveFrame, error) {
	var f liveFrame
	var ok bool
	if f.typ, ok = stringField(raw, `"type":"`); !ok {
		return f, fmt.Errorf("loadgen: frame without a type: %.200q", raw)
	}
	if num, found := numberField(raw, `"seq":`); found {
		n, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return f, fmt.Errorf("loadgen: frame with a bad seq: %.200q", raw)
		}
		f.seq = n
	}
	f.clientMsgID, _ = stringField(raw, `"client_msg_id":"`)
	f.text, _ = stringField(raw, `"text":"`)
	return f, nil
}

func stringField(raw []byte, key string) ([]byte, bool) {
	i := bytes.Index(raw, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := raw[i+len(key):]
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '"':
			return rest[:j], true
		}
	}
	return nil, false
}

func numberField(raw []byte, key string) ([]byte, bool) {
	i := bytes.Index(raw, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := raw[i+len(key):]
	j := 0
	for j < len(rest) && (rest[j] == '-' || rest[j] >= '0' && rest[j] <= '9') {
		j++
	}
	return rest[:j], j > 0
}

// Message texts carry what the receivers need to measure: who sent it and
// when, padded to the configured size.
//
//	lg <unix nanoseconds> <padding>
func messageText(sentAt int64, size int) string {
	b := make([]byte, 0, max(size, 24))
	b = append(b, "lg "...)
	b = strconv.AppendInt(b, sentAt, 10)
	b = append(b, ' ')
	for len(b) < size {
		b = append(b, 'x')
	}
	return string(b)
}

func sentAtOf(text []byte) (int64, bool) {
	if !bytes.HasPrefix(text, []byte("lg ")) {
		return 0, false
	}
	rest := text[3:]
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n, err == nil
}
