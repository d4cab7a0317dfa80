package cloudsim

import (
	"errors"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := map[string]struct {
		r    record
		line string
	}{
		"delivery":            {record{Kind: recDelivered, Socket: 9999, Message: 7, At: 1764800000123456789}, "d 9999 7 1764800000123456789\n"},
		"first delivery":      {record{Kind: recDelivered}, "d 0 0 0\n"},
		"out of order":        {record{Kind: recReordered, Socket: 42}, "r 42\n"},
		"problem":             {record{Kind: recProblem, Text: "error frame rate_limited"}, "p \"error frame rate_limited\"\n"},
		"problem with a line": {record{Kind: recProblem, Text: "two\nlines \"quoted\""}, "p \"two\\nlines \\\"quoted\\\"\"\n"},
		"opened":              {record{Kind: recOpened, Count: 500}, "o 500\n"},
		"sent":                {record{Kind: recSent, At: 1764800000000000001}, "s 1764800000000000001\n"},
		"closed":              {record{Kind: recClosed}, "c\n"},
		"error":               {record{Kind: recError, Text: "socket 3: chatclient: connect: HTTP 401"}, "e \"socket 3: chatclient: connect: HTTP 401\"\n"},
		"empty error":         {record{Kind: recError}, "e \"\"\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := string(appendRecord(nil, tt.r)); got != tt.line {
				t.Errorf("appendRecord = %q, want %q", got, tt.line)
			}
			got, err := parseRecord([]byte(tt.line))
			if err != nil {
				t.Fatalf("parseRecord(%q): %v", tt.line, err)
			}
			if got != tt.r {
				t.Errorf("parseRecord(%q) = %+v, want %+v", tt.line, got, tt.r)
			}
		})
	}
}

func TestParseRecordRefuses(t *testing.T) {
	for name, line := range map[string]string{
		"empty":               "",
		"newline only":        "\n",
		"unknown kind":        "x 1\n",
		"delivery too short":  "d 1 2\n",
		"delivery too long":   "d 1 2 3 4\n",
		"not a number":        "d 1 two 3\n",
		"no space":            "d1 2 3\n",
		"double space":        "r  1\n",
		"closed with a tail":  "c 1\n",
		"unquoted problem":    "p no quotes\n",
		"opened without":      "o\n",
		"number out of range": "s 99999999999999999999\n",
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := parseRecord([]byte(line)); !errors.Is(err, errRecord) {
				t.Errorf("parseRecord(%q) = %+v, %v; want errRecord", line, r, err)
			}
		})
	}
}

// BenchmarkRecords is the cost of a delivery record, written and read:
// a room of 10,000 sent ten messages makes 100,000.
func BenchmarkRecords(b *testing.B) {
	var buf []byte
	for i := range b.N {
		buf = appendRecord(buf[:0], record{Kind: recDelivered, Socket: i % 10000, Message: i % 10, At: 1764800000123456789})
		if _, err := parseRecord(buf); err != nil {
			b.Fatal(err)
		}
	}
}
