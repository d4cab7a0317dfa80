package lambdarie

import "testing"

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
