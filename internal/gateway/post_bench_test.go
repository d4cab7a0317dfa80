package gateway_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/chatroom/chat/internal/push"
)

// BenchmarkPostToConnection posts one 300-byte frame to one connection per
// iteration through the push adapter and the management API's SDK client,
// as the handlers do, to a socket whose client reads and discards:
//
//   - in-process: what `make run` ships, the SDK's client on the
//     gateway's in-process HTTP client, unsigned;
//   - in-process-signed: the same, SigV4-signed as in the cloud, to show
//     what signing costs;
//   - loopback-http: the same client over HTTP on loopback, the emulator's
//     /@connections route, as functions in other processes post.
//
// Run it as `GOMAXPROCS=1 go test -run - -bench PostToConnection
// ./internal/gateway/`: one core, like the pinned load runs.
func BenchmarkPostToConnection(b *testing.B) {
	inv := &fakeInvoker{}
	gw, srv := serve(b, inv, nil)
	// A client that reads and discards, so that the benchmark counts the
	// server's work and not a client's decoding.
	id, frames := rawDial(b, srv.Listener.Addr().String(), &inv.recorder, "bench")
	go func() { _, _ = io.Copy(io.Discard, frames) }()
	frame := []byte(strings.Repeat("x", 300))
	logger := slog.New(slog.DiscardHandler)

	for _, bc := range []struct {
		name  string
		creds aws.CredentialsProvider
		http  func(*apigatewaymanagementapi.Options)
	}{
		{"in-process", aws.AnonymousCredentials{}, func(o *apigatewaymanagementapi.Options) { o.HTTPClient = gw.ManagementClient() }},
		{"in-process-signed", credentials.NewStaticCredentialsProvider("local", "local", ""), func(o *apigatewaymanagementapi.Options) { o.HTTPClient = gw.ManagementClient() }},
		{"loopback-http", aws.AnonymousCredentials{}, func(*apigatewaymanagementapi.Options) {}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := push.NewClient(aws.Config{Region: "us-east-1", Credentials: bc.creds}, srv.URL, bc.http)
			m, err := push.NewManagementAPI(client, logger)
			if err != nil {
				b.Fatal(err)
			}
			ids := []string{id}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if res := m.Post(ctx, ids, frame); len(res.Gone)+len(res.Failed) > 0 {
					b.Fatalf("post failed: %+v", res)
				}
				// On one core the poster and the adapter's worker would
				// hand the CPU to each other alone, starving the socket's
				// writer and reader until its queue overflows; in a
				// server they take turns with every other goroutine.
				runtime.Gosched()
			}
		})
	}
}

// rawDial opens a WebSocket by hand, tagged so its $connect can be told
// apart, and returns the connection id and the reader of what the server
// sends, which the caller reads or leaves alone.
func rawDial(tb testing.TB, addr string, rec *recorder, tag string) (string, *bufio.Reader) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(nc, "GET /ws?tag=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", tag, addr, key)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("handshake: %v %v", resp, err)
	}
	connect := rec.wait(tb, "$connect tag="+tag, func(i invocation) bool {
		q, _ := i.Event["queryStringParameters"].(map[string]any)
		return i.ctx()["routeKey"] == "$connect" && q["tag"] == tag
	})
	return connect.ctx()["connectionId"].(string), br
}
