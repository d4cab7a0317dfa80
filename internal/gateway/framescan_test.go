package gateway_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/chatroom/chat/internal/gateway"
)

// clientFrame is a masked frame header as a client sends it, followed by
// its payload.
func clientFrame(opcode byte, fin bool, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	var h []byte
	switch n := len(payload); {
	case n < 126:
		h = []byte{b0, 0x80 | byte(n)}
	case n <= 0xffff:
		h = binary.BigEndian.AppendUint16([]byte{b0, 0x80 | 126}, uint16(n))
	default:
		h = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, uint64(n))
	}
	h = append(h, 1, 2, 3, 4) // the masking key; the scanner never unmasks
	return append(h, payload...)
}

// TestFrameScanner: the scanner finds a frame over 32 KB among others
// whatever the lengths' encodings, and however the stream is cut.
func TestFrameScanner(t *testing.T) {
	small, limit, over := bytes.Repeat([]byte("a"), 125), bytes.Repeat([]byte("b"), gateway.MaxFrameBytes), bytes.Repeat([]byte("c"), gateway.MaxFrameBytes+1)
	huge := bytes.Repeat([]byte("d"), 70000) // a 64-bit length
	cases := map[string]struct {
		stream []byte
		want   bool
		at     int64 // the message holding the frame, when want
	}{
		"nothing":                    {nil, false, 0},
		"a small frame":              {clientFrame(1, true, small), false, 0},
		"an empty frame, then small": {append(clientFrame(1, true, nil), clientFrame(1, true, small)...), false, 0},
		"a frame of exactly 32 KB":   {clientFrame(1, true, limit), false, 0},
		"a frame of 32 KB and one":   {clientFrame(1, true, over), true, 0},
		"a 64-bit length":            {clientFrame(1, true, huge), true, 0},
		"fragments of 32 KB":         {bytes.Join([][]byte{clientFrame(1, false, limit), clientFrame(0, false, limit), clientFrame(0, true, small)}, nil), false, 0},
		"a ping, then too big":       {append(clientFrame(9, true, []byte("p")), clientFrame(1, true, over)...), true, 0},
		"two messages, then a fragment too big": {bytes.Join([][]byte{
			clientFrame(1, true, small), clientFrame(1, false, small), clientFrame(9, true, nil), clientFrame(0, true, small),
			clientFrame(1, false, small), clientFrame(0, true, over), clientFrame(1, true, over),
		}, nil), true, 2},
		// A payload that looks like a header is skipped as payload.
		"a payload like a header": {clientFrame(1, true, clientFrame(1, true, over)[:20]), false, 0},
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			for _, cut := range []int{1, 2, 3, 7, 13, 4096} {
				var pieces [][]byte
				for s := k.stream; len(s) > 0; {
					n := min(cut, len(s))
					pieces, s = append(pieces, s[:n]), s[n:]
				}
				if got, at := gateway.ScanFrames(pieces...); got != k.want || (got && at != k.at) {
					t.Fatalf("in pieces of %d: %v in message %d, want %v in message %d", cut, got, at, k.want, k.at)
				}
			}
		})
	}
}

// FuzzFrameScanner: any stream, cut anywhere, gives the same answer as in
// one piece, without a panic.
func FuzzFrameScanner(f *testing.F) {
	f.Add(clientFrame(1, true, []byte(`{"action":"send_message"}`)), 3)
	f.Add(clientFrame(1, true, bytes.Repeat([]byte("x"), gateway.MaxFrameBytes+1))[:40], 5)
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, 1)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		whole, wholeAt := gateway.ScanFrames(stream)
		if cut <= 0 || cut > len(stream) {
			cut = 1 + len(stream)/2
		}
		if got, at := gateway.ScanFrames(stream[:min(cut, len(stream))], stream[min(cut, len(stream)):]); got != whole || at != wholeAt {
			t.Fatalf("cut at %d: %v in message %d, in one piece: %v in message %d", cut, got, at, whole, wholeAt)
		}
	})
}
