package cost

import (
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The figures below are worked by hand from the published prices.
func TestOf(t *testing.T) {
	tests := map[string]struct {
		p    PerMessage
		want PerMillion
	}{
		"the floor alone, room of 10": {
			PerMessage{RoomSize: 10, IncomingMessageUnits: 1, OutgoingMessageUnits: 10},
			// 11 messages at $1 a million.
			PerMillion{APIGateway: 11, Total: 11, Floor: 11, Ratio: 1},
		},
		"room of 100, 7 RCU, 7 WCU, 50 ms at 256 MB": {
			PerMessage{RoomSize: 100, IncomingMessageUnits: 1, OutgoingMessageUnits: 100, ReadRequestUnits: 7, WriteRequestUnits: 7,
				LambdaInvocations: 1, LambdaDuration: 50 * time.Millisecond, LambdaMemoryMB: 256},
			// DynamoDB 7 x 0.125 + 7 x 0.625 = 0.875 + 4.375 = 5.25.
			// Lambda 0.20 + 1e6 x 0.05 s x 0.25 GB x 0.0000133334 = 0.20 + 0.1666675.
			// Total 101 + 5.25 + 0.3666675 = 106.6166675; / 101.
			PerMillion{APIGateway: 101, Lambda: 0.3666675, DynamoDB: 5.25, Total: 106.6166675, Floor: 101, Ratio: 106.6166675 / 101},
		},
		"room of 1000, a 40 KB frame pushed as two units each": {
			PerMessage{RoomSize: 1000, IncomingMessageUnits: 2, OutgoingMessageUnits: 2000, ReadRequestUnits: 1, WriteRequestUnits: 6,
				LambdaInvocations: 1, LambdaDuration: time.Second, LambdaMemoryMB: 1024},
			// API Gateway 2002; DynamoDB 0.125 + 3.75 = 3.875;
			// Lambda 0.20 + 1e6 x 1 GB-s x 0.0000133334 = 0.20 + 13.3334.
			PerMillion{APIGateway: 2002, Lambda: 13.5334, DynamoDB: 3.875, Total: 2019.4084, Floor: 1001, Ratio: 2019.4084 / 1001},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Of(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.APIGateway, tt.want.APIGateway) || !near(got.Lambda, tt.want.Lambda) || !near(got.DynamoDB, tt.want.DynamoDB) ||
				!near(got.Total, tt.want.Total) || !near(got.Floor, tt.want.Floor) || !near(got.Ratio, tt.want.Ratio) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestOfRefusesImpossibleCounts(t *testing.T) {
	for name, p := range map[string]PerMessage{
		"empty room":        {RoomSize: 0, IncomingMessageUnits: 1},
		"negative units":    {RoomSize: 1, WriteRequestUnits: -1},
		"negative duration": {RoomSize: 1, LambdaDuration: -time.Millisecond},
	} {
		if _, err := Of(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFloorPerMillion(t *testing.T) {
	for n, want := range map[int]float64{1: 2, 10: 11, 100: 101, 500: 501, 1000: 1001} {
		if got := FloorPerMillion(n); got != want {
			t.Errorf("FloorPerMillion(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestConnectionMinutesCost(t *testing.T) {
	// 1000 connections open for a 30-day month: 43.2 million minutes.
	if got := ConnectionMinutesCost(1000 * 30 * 24 * 60); !near(got, 10.8) {
		t.Errorf("got %v, want 10.8", got)
	}
}
