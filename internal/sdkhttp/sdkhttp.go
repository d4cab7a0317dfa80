// Package sdkhttp gives the AWS SDK clients their HTTP client: the SDK's
// own, wrapped to work around a smithy-go race that drops connections (see
// bodyWithoutWriteTo). Every SDK client the chat builds goes through Wrap.
package sdkhttp

import (
	"io"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// HTTPClient is what every SDK client's options take.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Wrap returns client (nil: the SDK's default) with the workaround. Drop it
// once a smithy-go release returns (0, nil) from a closed body's WriteTo.
func Wrap(client HTTPClient) HTTPClient {
	if client == nil {
		client = awshttp.NewBuildableClient()
	}
	if _, done := client.(bodyWithoutWriteTo); done {
		return client
	}
	return bodyWithoutWriteTo{client}
}

// bodyWithoutWriteTo is an SDK HTTP client that hides the WriteTo method of
// the request body from net/http.
//
// smithy-go (v1.28.8, transport/http/internal/io/safe.go) wraps request
// bodies in a safeWriteToReadCloser whose WriteTo returns io.EOF once the
// SDK has closed the body, which it does as soon as Client.Do returns, that
// is once the response headers are in. After writing the body, net/http's
// writeLoop drains it with io.Copy, which prefers WriteTo. When the answer
// comes first (a server on loopback, a writeLoop goroutine waiting for a
// CPU), that io.EOF is taken for a failed write and the transport closes the
// connection: it is not reused, and a response body still being read fails
// with "use of closed network connection", so the SDK retries the attempt
// and logs "failed to discard remaining HTTP response body". Through Read a
// closed body is a clean io.EOF. Any client built on smithy-go v1.28.8 has
// the race; it is just rare with network latency.
type bodyWithoutWriteTo struct{ client HTTPClient }

func (c bodyWithoutWriteTo) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		r := *req
		r.Body = struct{ io.ReadCloser }{req.Body}
		req = &r
	}
	return c.client.Do(req)
}
