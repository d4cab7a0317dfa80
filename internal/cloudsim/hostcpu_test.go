package cloudsim

import (
	"math"
	"testing"
)

func TestParseHostCPU(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		total, idle uint64
		wantErr     bool
	}{
		{"linux", "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n", 980, 820, false},
		{"old kernel, no steal", "cpu 10 0 10 70 10\n", 100, 80, false},
		{"not the cpu line", "intr 12345\n", 0, 0, true},
		{"garbage", "cpu 10 x 10 70 10\n", 0, 0, true},
		{"empty", "", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHostCPU([]byte(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseHostCPU: %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (got.total != tt.total || got.idle != tt.idle) {
				t.Errorf("parseHostCPU = %+v, want total %d idle %d", got, tt.total, tt.idle)
			}
		})
	}
}

func TestBusySince(t *testing.T) {
	before := hostCPU{total: 1000, idle: 600}
	tests := []struct {
		after hostCPU
		want  float64
	}{
		{hostCPU{total: 1200, idle: 650}, 0.75},
		{hostCPU{total: 1200, idle: 800}, 0},
		{hostCPU{total: 1000, idle: 600}, 0},
	}
	for _, tt := range tests {
		if got := tt.after.busySince(before); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("busySince(%+v) = %v, want %v", tt.after, got, tt.want)
		}
	}
}
