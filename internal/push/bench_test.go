package push_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatroom/chat/internal/push"
)

// BenchmarkPost fans a 300-byte frame out to 100 connections through the
// management API adapter (the SDK's PostToConnection, signed, over HTTP),
// beside the same posts made with net/http alone: what the SDK adds to
// every delivery of `make run`, whose ceiling this sets. The server only
// reads the body, so nearly all the time is the client's and net/http's.
// Run it with GOMAXPROCS=1 to compare with the pinned load runs.
func BenchmarkPost(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("conn-%03d", i)
	}
	frame := bytes.Repeat([]byte("x"), 300)

	b.Run("sdk", func(b *testing.B) {
		client := push.NewClient(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}, srv.URL)
		m, err := push.NewManagementAPI(client, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if res := m.Post(context.Background(), ids, frame); len(res.Gone)+len(res.Failed) > 0 {
				b.Fatalf("posts failed: %+v", res)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(ids)), "µs/post")
	})

	b.Run("net-http", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: push.DefaultConcurrency}}
		post := func(id string) {
			resp, err := hc.Post(srv.URL+"/@connections/"+id, "application/json", bytes.NewReader(frame))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.ReportAllocs()
		for b.Loop() {
			sem := make(chan struct{}, push.DefaultConcurrency)
			done := make(chan struct{}, len(ids))
			for _, id := range ids {
				sem <- struct{}{}
				go func() { post(id); <-sem; done <- struct{}{} }()
			}
			for range ids {
				<-done
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(ids)), "µs/post")
	})
}
