package lambdarie

import (
	"errors"
	"slices"
	"testing"
)

// TestPortBook: a port the kernel draws again while an RIE of this
// process holds it is not handed out twice; once given back, it is.
func TestPortBook(t *testing.T) {
	tests := []struct {
		name    string
		draws   []string
		release bool
		want    []string
		// exhausts: after want, the draws (the last repeated) hold
		// nothing not handed out.
		exhausts bool
	}{
		{name: "distinct draws", draws: []string{"a", "b"}, want: []string{"a", "b"}, exhausts: true},
		{name: "a port drawn twice is skipped", draws: []string{"a", "a", "b"}, want: []string{"a", "b"}, exhausts: true},
		{name: "given back, drawn again", draws: []string{"a", "a"}, release: true, want: []string{"a", "a"}},
		{name: "only taken ports left", draws: []string{"a", "a"}, want: []string{"a"}, exhausts: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := 0
			b := portBook{taken: map[string]bool{}, pick: func() (string, error) {
				if next >= len(tt.draws) {
					// The kernel keeps drawing the last one.
					return tt.draws[len(tt.draws)-1], nil
				}
				next++
				return tt.draws[next-1], nil
			}}
			var got []string
			var err error
			for range tt.want {
				var addr string
				if addr, err = b.free(); err != nil {
					break
				}
				got = append(got, addr)
				if tt.release {
					b.release(addr)
				}
			}
			if err != nil {
				t.Fatalf("free: %v after %v", err, got)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("handed out %v, want %v", got, tt.want)
			}
			_, err = b.free()
			if tt.exhausts != (err != nil) {
				t.Errorf("one more: %v, want an error %v", err, tt.exhausts)
			}
		})
	}
	b := portBook{taken: map[string]bool{}, pick: func() (string, error) { return "", errors.New("no ports") }}
	if _, err := b.free(); err == nil {
		t.Error("a failed draw was not reported")
	}
}
