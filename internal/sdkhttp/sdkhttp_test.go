package sdkhttp

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

type recorder struct{ body io.ReadCloser }

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.body = req.Body
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// closedWriterTo mimics smithy-go's request body: WriteTo fails once closed.
type closedWriterTo struct{ io.ReadCloser }

func (closedWriterTo) WriteTo(io.Writer) (int64, error) { return 0, io.EOF }

func TestWrapHidesWriteTo(t *testing.T) {
	rec := &recorder{}
	c := Wrap(rec)
	req, _ := http.NewRequest("POST", "http://127.0.0.1/", closedWriterTo{io.NopCloser(strings.NewReader("x"))})
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.body.(io.WriterTo); ok {
		t.Fatal("the wrapped client passed a body with WriteTo on to net/http")
	}
	if b, _ := io.ReadAll(rec.body); string(b) != "x" {
		t.Fatalf("body = %q, want the original bytes", b)
	}
	if Wrap(c) != c {
		t.Fatal("wrapping twice nests the workaround")
	}
	if _, ok := req.Body.(io.WriterTo); !ok {
		t.Fatal("the caller's request was changed")
	}
}
