package loadgen

import (
	"math"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
)

func TestHistogramQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{3 * time.Millisecond}, 0.99, 3 * time.Millisecond},
		{"exact below 128 µs", []time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 30 * time.Microsecond}, 0.5, 20 * time.Microsecond},
		{"median of a ramp", ramp(1000, time.Millisecond), 0.5, 500 * time.Millisecond},
		{"p99 of a ramp", ramp(1000, time.Millisecond), 0.99, 990 * time.Millisecond},
		{"max", ramp(1000, time.Millisecond), 1, 1000 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, s := range tc.samples {
				h.Record(s)
			}
			got := h.Quantile(tc.q)
			// Buckets are 1/64 of a power of two wide: within 1.6%.
			if diff := math.Abs(float64(got - tc.want)); diff > 0.016*float64(tc.want) {
				t.Fatalf("q%.2f = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func ramp(n int, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * step
	}
	return out
}

func TestBucketBoundsRoundTrip(t *testing.T) {
	for _, us := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 65535, 1 << 20, 1<<33 + 12345} {
		i := bucketOf(us)
		lo := lowerBound(i)
		if lo > us || (i+1 < histBuckets && lowerBound(i+1) <= us) {
			t.Fatalf("%d µs went to bucket %d [%d, %d)", us, i, lo, lowerBound(i+1))
		}
	}
}

func TestParseLive(t *testing.T) {
	for _, tc := range []struct {
		name, raw       string
		typ, cmid, text string
		seq             int64
		bad             bool
	}{
		{name: "a message", raw: `{"type":"receive_message","room_id":"r","seq":42,"message_id":"m","client_msg_id":"f-1-7","username":"u","text":"lg 123 xx","at":"t"}`,
			typ: "receive_message", seq: 42, cmid: "f-1-7", text: "lg 123 xx"},
		{name: "fields in another order", raw: `{"text":"hi","seq":7,"type":"receive_message","client_msg_id":"c"}`,
			typ: "receive_message", seq: 7, cmid: "c", text: "hi"},
		{name: "a key quoted inside the text", raw: `{"type":"receive_message","text":"he typed \"seq\":99 and \\","seq":5}`,
			typ: "receive_message", seq: 5, text: `he typed \"seq\":99 and \\`},
		{name: "last_seq is not seq", raw: `{"type":"history","last_seq":9,"events":[]}`, typ: "history"},
		{name: "an error", raw: `{"type":"error","code":"rate_limited","client_msg_id":"x"}`, typ: "error", cmid: "x"},
		{name: "no type", raw: `{"seq":1}`, bad: true},
		{name: "a bad seq", raw: `{"type":"receive_message","seq":-}`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseLive([]byte(tc.raw))
			if tc.bad {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", f)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(f.typ) != tc.typ || f.seq != tc.seq || string(f.clientMsgID) != tc.cmid || string(f.text) != tc.text {
				t.Fatalf("got type %q seq %d cmid %q text %q", f.typ, f.seq, f.clientMsgID, f.text)
			}
		})
	}
}

func TestMessageTextCarriesSendTime(t *testing.T) {
	text := messageText(1234567890123, 100)
	if len(text) != 100 {
		t.Fatalf("text of %d bytes, want 100", len(text))
	}
	if at, ok := sentAtOf([]byte(text)); !ok || at != 1234567890123 {
		t.Fatalf("sent at %d %v", at, ok)
	}
	if _, ok := sentAtOf([]byte("hello there")); ok {
		t.Fatal("a foreign text gave a send time")
	}
}

// TestObserve: the receiver's check counts repeats and reorders and
// ignores what came before its join.
func TestObserve(t *testing.T) {
	for _, tc := range []struct {
		name            string
		seqs            []int64
		dups, reorders  int
		missingFrom1To6 []int64
	}{
		{name: "in order", seqs: []int64{11, 12, 13, 14, 15, 16}},
		{name: "before the join is ignored", seqs: []int64{9, 11, 12, 13, 14, 15, 16}},
		{name: "a repeat", seqs: []int64{11, 12, 12, 13, 14, 15, 16}, dups: 1},
		{name: "swapped", seqs: []int64{11, 13, 12, 14, 15, 16}, reorders: 1},
		{name: "a gap", seqs: []int64{11, 12, 14, 15, 16}, missingFrom1To6: []int64{13}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &receiver{joinSeq: 10, lastSeq: 10, seen: bitset{base: 10}}
			r.seen.add(10)
			for _, s := range tc.seqs {
				r.observe(s)
			}
			if r.dups != tc.dups || r.reorders != tc.reorders {
				t.Fatalf("dups %d reorders %d, want %d %d", r.dups, r.reorders, tc.dups, tc.reorders)
			}
			var missing []int64
			for s := int64(11); s <= 16; s++ {
				if !r.seen.has(s) {
					missing = append(missing, s)
				}
			}
			if len(missing) != len(tc.missingFrom1To6) {
				t.Fatalf("missing %v, want %v", missing, tc.missingFrom1To6)
			}
		})
	}
}

// TestRunAgainstTheEmulator loads a small room of the real chat through
// both phases: every message acknowledged, stored once and delivered to
// every connection in order.
func TestRunAgainstTheEmulator(t *testing.T) {
	for _, direct := range []bool{false, true} {
		name := map[bool]string{false: "management API", true: "direct push"}[direct]
		t.Run(name, func(t *testing.T) {
			e := emulatortest.Start(t, emulator.Options{Store: "bolt", DirectPush: direct, SendLimit: -1})
			results, err := Run(t.Context(), Config{
				BaseURL: e.URL, RoomSizes: []int{12}, Senders: 3, InFlight: 4, MessageBytes: 100,
				Rate: 240, RateDuration: time.Second, FlatDuration: time.Second, MaxMessages: 300,
				UsersPerRoom: 5, Password: "load-generator-password", RunID: "t", Drain: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 2 {
				t.Fatalf("%d results, want the rate and flat phases", len(results))
			}
			for _, r := range results {
				t.Logf("%s: %d sent, %.0f deliveries/s, p99 %.2f ms", r.Phase, r.Sent, r.DeliveriesPerSec, r.P99ms)
				if !r.OK() || r.Sent == 0 || r.Acknowledged != r.Sent || r.Deliveries != uint64(r.Acknowledged*12) {
					t.Fatalf("%s phase: %+v", r.Phase, r)
				}
			}
		})
	}
}
