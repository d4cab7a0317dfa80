package awsmeter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// UnmarshalText reads an Operation back from its String form.
func (o *Operation) UnmarshalText(b []byte) error {
	service, name, ok := strings.Cut(string(b), ".")
	if !ok || service == "" || name == "" {
		return fmt.Errorf("awsmeter: %q is not Service.Name", b)
	}
	*o = Operation{Service: service, Name: name}
	return nil
}

// Add returns s plus other, operation by operation: the usage of several
// processes together.
func (s Snapshot) Add(other Snapshot) Snapshot {
	out := Snapshot{}
	for op, u := range s {
		out[op] = u
	}
	for op, u := range other {
		out[op] = out[op].add(u)
	}
	return out
}

// WriteFile writes the counts so far to path as JSON, atomically: a
// reader sees the previous counts or these, never half of them.
func (m *Meter) WriteFile(path string) error {
	raw, err := json.Marshal(m.Snapshot())
	if err != nil {
		return fmt.Errorf("awsmeter: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".meter-*")
	if err != nil {
		return fmt.Errorf("awsmeter: %w", err)
	}
	if _, err := tmp.Write(raw); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("awsmeter: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("awsmeter: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("awsmeter: %w", err)
	}
	return nil
}

// WriteEvery writes the counts to path every interval while they change,
// until ctx ends: how a process that others measure (a function instance
// of the simulated cloud) reports what it asked of AWS. A write error is
// handed to onError and the next tick tries again.
func (m *Meter) WriteEvery(ctx context.Context, path string, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var written int64 = -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		calls := m.calls()
		if calls == written {
			continue
		}
		if err := m.WriteFile(path); err != nil {
			onError(err)
			continue
		}
		written = calls
	}
}

// calls is the number of calls counted so far, of every operation.
func (m *Meter) calls() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, u := range m.usage {
		n += u.Calls
	}
	return n
}

// ReadFile reads counts written by WriteFile.
func ReadFile(path string) (Snapshot, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("awsmeter: %w", err)
	}
	s := Snapshot{}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("awsmeter: %s: %w", path, err)
	}
	return s, nil
}

// ReadDir sums the counts of every *.json file WriteFile left in dir.
func ReadDir(dir string) (Snapshot, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("awsmeter: %w", err)
	}
	total := Snapshot{}
	for _, p := range paths {
		s, err := ReadFile(p)
		if err != nil {
			return nil, err
		}
		total = total.Add(s)
	}
	return total, nil
}
