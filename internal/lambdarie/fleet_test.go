package lambdarie

import (
	"testing"

	"github.com/chatroom/chat/internal/gateway"
)

// TestRIEConcurrency: Concurrency is the one RIE's, as make run-lambda
// has always had it; a fleet's instances each serve one invocation, and
// a Concurrency that says otherwise is refused rather than ignored.
func TestRIEConcurrency(t *testing.T) {
	for _, tc := range []struct {
		cfg     Config
		want    int
		wantErr bool
	}{
		{Config{}, DefaultConcurrency, false},
		{Config{Concurrency: 3}, 3, false},
		{Config{Instances: 1, Concurrency: 3}, 3, false},
		{Config{Instances: 2}, 1, false},
		{Config{Instances: 2, Concurrency: 1}, 1, false},
		{Config{CPULimit: true}, 1, false},
		{Config{Instances: 2, Concurrency: 8}, 0, true},
		{Config{CPULimit: true, Concurrency: 2}, 0, true},
	} {
		got, err := rieConcurrency(tc.cfg)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%+v: %d, %v; want %d, error %v", tc.cfg, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestInstancesOf: in a fleet, a function only other functions invoke
// (the fan-out function) gets FanoutInstances, never fewer than the
// others; outside a fleet, and for routed functions, Instances holds.
func TestInstancesOf(t *testing.T) {
	routed := &gateway.Function{LogicalID: "SendMessageFunction"}
	invoked := &gateway.Function{LogicalID: "FanoutFunction", InvokedBy: []string{"SendMessageFunction"}}
	for _, tc := range []struct {
		name string
		cfg  Config
		fn   *gateway.Function
		want int
	}{
		{"single instance", Config{}, invoked, 1},
		{"fleet, routed", Config{Instances: 2}, routed, 2},
		{"fleet, invoked", Config{Instances: 2}, invoked, DefaultFanoutInstances},
		{"fleet, invoked, set", Config{Instances: 2, FanoutInstances: 4}, invoked, 4},
		{"fleet, invoked, fewer than the others", Config{Instances: 6, FanoutInstances: 4}, invoked, 6},
		{"CPU limit alone", Config{CPULimit: true}, invoked, DefaultFanoutInstances},
	} {
		if got := instancesOf(tc.cfg, tc.fn, max(tc.cfg.Instances, 1)); got != tc.want {
			t.Errorf("%s: %d instances, want %d", tc.name, got, tc.want)
		}
	}
}
