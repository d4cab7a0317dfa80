package awsmeter

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteAndReadBack(t *testing.T) {
	dir := t.TempDir()
	a, b := New(Config{}), New(Config{})
	a.record(Operation{ServiceDynamoDB, "Query"}, Usage{Calls: 2, CapacityUnits: 1.5, ReadCapacityUnits: 1.5})
	b.record(Operation{ServiceDynamoDB, "Query"}, Usage{Calls: 1, CapacityUnits: 0.5, ReadCapacityUnits: 0.5})
	b.record(Operation{ServiceManagementAPI, "PostToConnection"}, Usage{Calls: 3, MessageUnits: 3})
	if err := a.WriteFile(filepath.Join(dir, "a.json")); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFile(filepath.Join(dir, "b.json")); err != nil {
		t.Fatal(err)
	}
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if q := got[Operation{ServiceDynamoDB, "Query"}]; q.Calls != 3 || q.ReadCapacityUnits != 2 {
		t.Errorf("Query summed to %+v, want 3 calls and 2 RCU", q)
	}
	if p := got.Service(ServiceManagementAPI); p.MessageUnits != 3 {
		t.Errorf("posts summed to %+v, want 3 message units", p)
	}
	var op Operation
	if err := op.UnmarshalText([]byte("nodot")); err == nil {
		t.Error("an operation without a service was read")
	}
}

func TestWriteEveryWritesChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	m := New(Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.WriteEvery(ctx, path, 5*time.Millisecond, func(err error) { t.Error(err) })
	}()
	m.record(Operation{ServiceDynamoDB, "GetItem"}, Usage{Calls: 1, CapacityUnits: 0.5})
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := ReadFile(path)
		if err == nil && s[Operation{ServiceDynamoDB, "GetItem"}].Calls == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the counts never reached the file (last read: %v, %v)", s, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}
