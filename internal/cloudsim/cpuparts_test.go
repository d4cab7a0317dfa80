package cloudsim

import (
	"os"
	"slices"
	"testing"
	"time"
)

func TestParseProcessTicks(t *testing.T) {
	tests := []struct {
		name, stat string
		want       uint64
		bad        bool
	}{
		{name: "a plain name", stat: "4242 (java) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 40 0 100 0 0", want: 300},
		{name: "a name with spaces and parentheses", stat: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0", want: 15},
		{name: "no name", stat: "7 a R 1", bad: true},
		{name: "cut short", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 12", bad: true},
		{name: "not a number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 12 x", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcessTicks(tt.stat)
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("got %d, %v; want %d, an error %v", got, err, tt.want, tt.bad)
			}
		})
	}
}

// TestProcessTicksOfThisProcess reads this process's own CPU time, which
// grows as it works.
func TestProcessTicksOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	before, ok := processTicks(os.Getpid())
	if !ok {
		t.Fatal("cannot read this process's time")
	}
	for end := time.Now().Add(150 * time.Millisecond); time.Now().Before(end); {
	}
	after, _ := processTicks(os.Getpid())
	if after <= before {
		t.Errorf("150 ms of work moved this process's time from %d to %d ticks", before, after)
	}
	if _, ok := processTicks(-1); ok {
		t.Error("a process that does not exist has a time")
	}
}

func TestCPUPerMessage(t *testing.T) {
	before := cpuSample{ok: true, host: hostCPU{total: 1000, idle: 400}, parts: map[string]map[int]uint64{
		"FanoutFunction": {11: 60, 12: 40}, partDynamoDB: {20: 50}, partGateway: {30: 20}, partRIEs: {40: 70, 41: 10}}}
	after := cpuSample{ok: true, host: hostCPU{total: 2000, idle: 600}, // 800 ticks busy
		parts: map[string]map[int]uint64{
			"FanoutFunction": {11: 260, 12: 240}, partDynamoDB: {20: 150}, partGateway: {30: 120},
			// RIE 40 ended (its 70 ticks and what it used since are
			// the rest's); 42 replaced it and counts from 0.
			partRIEs: {41: 30, 42: 25}}}
	got := cpuPerMessage(before, after, 10)
	// Ticks of 10 ms over 10 messages: a tick is 1 ms a message.
	want := []CPUPart{
		{"FanoutFunction", 400}, {partRest, 155}, {partDynamoDB, 100}, {partGateway, 100}, {partRIEs, 45},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := cpuPerMessage(cpuSample{}, after, 10); got != nil {
		t.Errorf("without a first sample: %v", got)
	}
}
