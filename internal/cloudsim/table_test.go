package cloudsim

import (
	"strings"
	"testing"
	"time"
)

// TestWriteTable: each room is a row, and what went wrong besides the
// counts follows the table.
func TestWriteTable(t *testing.T) {
	tests := []struct {
		name   string
		result Result
		want   []string
		absent []string
	}{
		{
			name:   "a clean room",
			result: Result{Connections: 100, Members: 100, Messages: 10, P50: 200 * time.Millisecond, P99: 350 * time.Millisecond, Cost: 108, Floor: 101, HostBusy: 0.5},
			want:   []string{"| 100 | 100 | 10 | 200 ms | 350 ms |", "| 1.069 | 50% |"},
			absent: []string{"replaced", "room of 100:"},
		},
		{
			name:   "instances replaced",
			result: Result{Connections: 1000, Members: 1000, Messages: 10, Replaced: 2},
			want:   []string{"room of 1000: 2 function instances stopped on their own and were replaced"},
		},
		{
			name:   "where the CPU went",
			result: Result{Connections: 1000, CPU: []CPUPart{{"FanoutFunction", 212.4}, {partGateway, 90}}},
			want:   []string{"room of 1000, CPU a message (ms of one core): FanoutFunction 212 ms, gateway 90 ms"},
		},
		{
			name:   "problems",
			result: Result{Connections: 30, Problems: []string{"socket 3 got seq 2 twice"}},
			want:   []string{"room of 30: socket 3 got seq 2 twice"},
			absent: []string{"replaced"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			WriteTable(&b, []Result{tt.result})
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in\n%s", w, b.String())
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(b.String(), a) {
					t.Errorf("%q in\n%s", a, b.String())
				}
			}
		})
	}
}
