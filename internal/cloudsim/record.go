package cloudsim

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// The client process (ServeClients) answers its parent in records, one a
// line. A room of 10,000 sockets sent ten messages makes 100,000
// deliveries, so a record is a letter and a few decimal numbers, cheap to
// write and to read back, rather than JSON:
//
//	d <socket> <message> <unix ns>   message reached socket at that time
//	r <socket>                       a live frame came after a higher seq
//	p <quoted text>                  something went wrong (counted, not fatal)
//	o <count>                        answers open: that many sockets are open
//	s <unix ns>                      answers send: the frame went then
//	c                                answers close: every socket is closed
//	e <quoted text>                  answers any command: it failed
//
// Texts are Go-quoted, so that no newline of theirs splits a record.
const (
	recDelivered = 'd'
	recReordered = 'r'
	recProblem   = 'p'
	recOpened    = 'o'
	recSent      = 's'
	recClosed    = 'c'
	recError     = 'e'
)

// record is one line of the client process's answer; which fields mean
// something depends on Kind.
type record struct {
	Kind    byte
	Socket  int
	Message int
	Count   int
	At      int64 // unix nanoseconds
	Text    string
}

// appendRecord appends r and its newline to b.
func appendRecord(b []byte, r record) []byte {
	b = append(b, r.Kind)
	switch r.Kind {
	case recDelivered:
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Socket), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Message), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.At, 10)
	case recReordered:
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Socket), 10)
	case recOpened:
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Count), 10)
	case recSent:
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.At, 10)
	case recProblem, recError:
		b = append(b, ' ')
		b = strconv.AppendQuote(b, r.Text)
	}
	return append(b, '\n')
}

var errRecord = errors.New("cloudsim: malformed client record")

// parseRecord reads one line, with or without its newline.
func parseRecord(line []byte) (record, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) == 0 {
		return record{}, errRecord
	}
	r := record{Kind: line[0]}
	rest := line[1:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return record{}, fmt.Errorf("%w: %q", errRecord, line)
		}
		rest = rest[1:]
	}
	var buf [3]int64
	ints, want := buf[:0], 0
	switch r.Kind {
	case recDelivered:
		want = 3
	case recReordered, recOpened, recSent:
		want = 1
	case recClosed:
		if len(line) != 1 {
			return record{}, fmt.Errorf("%w: %q", errRecord, line)
		}
		return r, nil
	case recProblem, recError:
		text, err := strconv.Unquote(string(rest))
		if err != nil {
			return record{}, fmt.Errorf("%w: %q: %w", errRecord, line, err)
		}
		r.Text = text
		return r, nil
	default:
		return record{}, fmt.Errorf("%w: %q", errRecord, line)
	}
	for f := range bytes.SplitSeq(rest, []byte(" ")) {
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return record{}, fmt.Errorf("%w: %q: %w", errRecord, line, err)
		}
		ints = append(ints, v)
	}
	if len(ints) != want {
		return record{}, fmt.Errorf("%w: %q", errRecord, line)
	}
	switch r.Kind {
	case recDelivered:
		r.Socket, r.Message, r.At = int(ints[0]), int(ints[1]), ints[2]
	case recReordered:
		r.Socket = int(ints[0])
	case recOpened:
		r.Count = int(ints[0])
	case recSent:
		r.At = ints[0]
	}
	return r, nil
}
