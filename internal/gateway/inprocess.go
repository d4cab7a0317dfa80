package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ManagementClient is an HTTP client for the SDK's management API client
// that serves its requests in this process: the SDK builds, signs and
// reads them as it would over the network, and the gateway answers them
// with the same code as on its /@connections route, only without the
// socket, the HTTP parser and the goroutine hand-offs of a round trip on
// loopback. It is what `make run` pushes through by default.
type ManagementClient struct{ g *Gateway }

// ManagementClient returns the in-process client.
func (g *Gateway) ManagementClient() ManagementClient { return ManagementClient{g} }

// Do implements the SDK's HTTP client interface.
func (m ManagementClient) Do(req *http.Request) (*http.Response, error) {
	id, ok := m.connectionID(req.URL.Path)
	if !ok {
		return nil, fmt.Errorf("gateway: %s %s is not a management API request", req.Method, req.URL.Path)
	}
	if req.Body == nil {
		req.Body = http.NoBody
	}
	defer req.Body.Close()
	w := responseRecorder{status: http.StatusOK}
	m.g.manage(&w, req, id)
	if err := req.Context().Err(); err != nil {
		return nil, err // as a network client does once its caller gives up
	}
	resp := &http.Response{
		Status: strconv.Itoa(w.status) + " " + http.StatusText(w.status), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, ContentLength: int64(w.body.Len()), Body: http.NoBody, Request: req,
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if w.body.Len() > 0 {
		resp.Body = io.NopCloser(&w.body)
	}
	return resp, nil
}

// connectionID takes the id out of /@connections/{id} or
// /{stage}/@connections/{id}, the paths the management API serves.
func (m ManagementClient) connectionID(path string) (string, bool) {
	path = strings.TrimPrefix(path, "/"+m.g.cfg.Stage)
	id, ok := strings.CutPrefix(path, "/@connections/")
	return id, ok && id != ""
}

// responseRecorder is the least of an http.ResponseWriter: the success path
// of a post sets only the status, so the header is made on demand.
type responseRecorder struct {
	status int
	header http.Header
	body   bytes.Buffer
	wrote  bool
}

func (w *responseRecorder) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *responseRecorder) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
}

func (w *responseRecorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}
