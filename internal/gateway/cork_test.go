package gateway

import (
	"bytes"
	"net"
	"testing"
)

// recordingConn is a net.Conn that keeps each Write call apart.
type recordingConn struct {
	net.Conn
	writes [][]byte
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func TestCorkConn(t *testing.T) {
	small, large := []byte("frame"), bytes.Repeat([]byte("y"), maxCorkBytes+1)
	for name, tc := range map[string]struct {
		corked bool
		writes [][]byte
		want   []int // the sizes of the socket's writes, in order
	}{
		"uncorked writes go straight out": {false, [][]byte{small, small}, []int{5, 5}},
		"corked writes leave together":    {true, [][]byte{small, small, small}, []int{15}},
		"a full cork goes out first":      {true, [][]byte{small, large, small}, []int{5, maxCorkBytes + 1, 5}},
		"nothing written, nothing sent":   {true, nil, nil},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recordingConn{}
			c := &corkConn{Conn: rec}
			if tc.corked {
				c.cork()
			}
			for _, w := range tc.writes {
				if n, err := c.Write(w); err != nil || n != len(w) {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if err := c.uncork(); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, w := range rec.writes {
				got = append(got, len(w))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("socket writes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("socket writes %v, want %v", got, tc.want)
				}
			}
			if all := bytes.Join(rec.writes, nil); !bytes.Equal(all, bytes.Join(tc.writes, nil)) {
				t.Error("the bytes on the socket differ from those written")
			}
		})
	}
}

func TestOutboxBounds(t *testing.T) {
	o := newOutbox()
	frame := make([]byte, 100)
	for i := range maxQueuedFrames {
		if r := o.put(frame); r != queued {
			t.Fatalf("frame %d: %v", i, r)
		}
	}
	if r := o.put(frame); r != queueFull {
		t.Fatalf("frame past the count bound: %v, want queueFull", r)
	}
	if got := o.take(nil); len(got) != maxQueuedFrames {
		t.Fatalf("took %d frames", len(got))
	}
	if r := o.put(make([]byte, maxQueuedBytes)); r != queued {
		t.Fatalf("a frame of the byte bound: %v", r)
	}
	if r := o.put([]byte("x")); r != queueFull {
		t.Fatalf("a byte past the bound: %v, want queueFull", r)
	}
	o.close()
	if r := o.put([]byte("x")); r != queueClosed {
		t.Fatalf("after close: %v, want queueClosed", r)
	}
	if got := o.take(nil); len(got) != 0 {
		t.Fatalf("a closed outbox still held %d frames", len(got))
	}
}
