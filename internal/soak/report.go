package soak

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is what a run did and found. Failures is empty when every check
// passed.
type Report struct {
	Connections int `json:"connections"`
	Rooms       int `json:"rooms"`
	Users       int `json:"users"`
	// Seconds is the time the traffic ran, setup and checks aside.
	Seconds float64 `json:"seconds"`

	Sent           int64 `json:"messages_sent"`
	Acknowledged   int64 `json:"messages_acknowledged"`
	Unacknowledged int   `json:"messages_unacknowledged"`
	Resent         int64 `json:"messages_resent"`
	RateLimited    int64 `json:"rate_limited"`
	Deliveries     int64 `json:"deliveries"`
	Joins          int64 `json:"joins"`
	Leaves         int64 `json:"leaves"`
	Reconnects     int64 `json:"reconnects"`
	StreamEvents   int   `json:"stream_events"`

	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	Reordered  int `json:"reordered"`
	Mismatched int `json:"mismatched"`

	// LeftoverConnections, LeftoverPresence and LeftoverSessionLinks are
	// store items (checked when the store is at hand); LeftoverOnline
	// counts names other than the checker's own in each room's online
	// list, checked over the wire.
	LeftoverConnections  int  `json:"leftover_connections"`
	LeftoverPresence     int  `json:"leftover_presence"`
	LeftoverSessionLinks int  `json:"leftover_session_links"`
	LeftoverOnline       int  `json:"leftover_online"`
	StoreChecked         bool `json:"store_checked"`
	ConnectionIDsSeen    int  `json:"connection_ids_seen"`

	Problems int `json:"problems"`

	HeapStart    uint64 `json:"heap_start_bytes"`
	HeapPeak     uint64 `json:"heap_peak_bytes"`
	HeapPeakLive uint64 `json:"heap_peak_live_bytes"`
	HeapEnd      uint64 `json:"heap_end_bytes"`
	HeapBound    uint64 `json:"heap_end_bound_bytes"`

	Examples []string `json:"examples,omitempty"`
	Failures []string `json:"failures,omitempty"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return len(r.Failures) > 0 }

// judge fills Failures from the counts.
func (r *Report) judge() {
	fail := func(bad bool, format string, args ...any) {
		if bad {
			r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
		}
	}
	fail(r.Lost > 0, "%d lost", r.Lost)
	fail(r.Duplicated > 0, "%d duplicated", r.Duplicated)
	fail(r.Reordered > 0, "%d out of order", r.Reordered)
	fail(r.Mismatched > 0, "%d seen differently from the stream", r.Mismatched)
	fail(r.Unacknowledged > 0, "%d messages never acknowledged", r.Unacknowledged)
	fail(r.LeftoverConnections+r.LeftoverPresence+r.LeftoverSessionLinks > 0,
		"items left after everyone left: %d connections, %d presence, %d session links",
		r.LeftoverConnections, r.LeftoverPresence, r.LeftoverSessionLinks)
	fail(r.LeftoverOnline > 0, "%d people still online after everyone left", r.LeftoverOnline)
	fail(r.Problems > 0, "%d problems (timeouts, unexpected frames)", r.Problems)
	fail(r.Acknowledged == 0, "no message was acknowledged")
	fail(r.HeapEnd > r.HeapBound, "heap grew from %s to %s, past the bound of %s", mib(r.HeapStart), mib(r.HeapEnd), mib(r.HeapBound))
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// WriteText writes the summary for people.
func (r *Report) WriteText(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d connections (%d users) across %d rooms for %s\n", r.Connections, r.Users, r.Rooms, time.Duration(r.Seconds*float64(time.Second)).Round(time.Second))
	fmt.Fprintf(&b, "  messages:   %d sent, %d acknowledged, %d unacknowledged, %d resent, %d rate limited\n", r.Sent, r.Acknowledged, r.Unacknowledged, r.Resent, r.RateLimited)
	fmt.Fprintf(&b, "  traffic:    %d deliveries, %d joins, %d leaves, %d reconnects, %d events in the streams\n", r.Deliveries, r.Joins, r.Leaves, r.Reconnects, r.StreamEvents)
	fmt.Fprintf(&b, "  checks:     %d lost, %d duplicated, %d reordered, %d mismatched, %d problems\n", r.Lost, r.Duplicated, r.Reordered, r.Mismatched, r.Problems)
	store := "not checked (no store at hand)"
	if r.StoreChecked {
		store = fmt.Sprintf("%d connections, %d presence, %d session links (of %d connection ids seen)", r.LeftoverConnections, r.LeftoverPresence, r.LeftoverSessionLinks, r.ConnectionIDsSeen)
	}
	fmt.Fprintf(&b, "  left over:  %s; %d still online\n", store, r.LeftoverOnline)
	fmt.Fprintf(&b, "  heap:       %s at start, peak %s in use (%s live), %s at end (bound %s)\n", mib(r.HeapStart), mib(r.HeapPeak), mib(r.HeapPeakLive), mib(r.HeapEnd), mib(r.HeapBound))
	for _, e := range r.Examples {
		fmt.Fprintf(&b, "  example: %s\n", e)
	}
	if r.Failed() {
		fmt.Fprintf(&b, "FAIL: %s\n", strings.Join(r.Failures, "; "))
	} else {
		b.WriteString("PASS\n")
	}
	_, _ = io.WriteString(w, b.String())
}
