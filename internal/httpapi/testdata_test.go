package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TestTestdataEvents checks the functions' event files are what API
// Gateway sends (HTTP API, payload 2.0, $default stage) and consistent in
// themselves, and that every route a function serves has at least one.
func TestTestdataEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, adapters[0].Open(t))
	served := map[string][]string{"auth": e.auth.RouteKeys(), "rooms": e.rooms.RouteKeys()}
	requestIDs := map[string]string{}
	for fn, keys := range served {
		files, err := filepath.Glob(filepath.Join(testdataDir(fn), "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no event files (%v)", fn, err)
		}
		if _, err := os.Stat(filepath.Join(testdataDir(fn), "README.md")); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
		covered := map[string]bool{}
		for _, path := range files {
			name := fn + "/" + filepath.Base(path)
			t.Run(name, func(t *testing.T) {
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				// Every field is one aws-lambda-go knows.
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				var ev events.APIGatewayV2HTTPRequest
				if err := dec.Decode(&ev); err != nil {
					t.Fatal(err)
				}
				// The same again with the placeholders filled.
				ev = load(t, fn, filepath.Base(path), "TOKEN", "01JD8Q00000000000000000001")
				rc := ev.RequestContext
				check := func(ok bool, format string, args ...any) bool {
					t.Helper()
					if !ok {
						t.Errorf(format, args...)
					}
					return ok
				}
				check(ev.Version == "2.0", "version %q", ev.Version)
				check(rc.Stage == "$default", "stage %q", rc.Stage)
				check(rc.RouteKey == ev.RouteKey, "routeKey %q, requestContext.routeKey %q", ev.RouteKey, rc.RouteKey)
				check(rc.DomainName == "abc123.execute-api.us-east-1.amazonaws.com" && rc.DomainPrefix == "abc123" && rc.APIID == "abc123",
					"domain %q prefix %q api %q", rc.DomainName, rc.DomainPrefix, rc.APIID)
				check(len(rc.AccountID) == 12, "accountId %q", rc.AccountID)
				check(rc.RequestID != "", "no requestId")
				if other, dup := requestIDs[rc.RequestID]; dup {
					t.Errorf("requestId %s also in %s", rc.RequestID, other)
				}
				requestIDs[rc.RequestID] = name
				check(rc.HTTP.Path == ev.RawPath, "rawPath %q, http.path %q", ev.RawPath, rc.HTTP.Path)
				check(rc.HTTP.Protocol == "HTTP/1.1" && rc.HTTP.SourceIP != "" && rc.HTTP.UserAgent != "", "http %+v", rc.HTTP)
				check(!strings.HasPrefix(ev.RawPath, "/api"), "rawPath %q has the /api prefix", ev.RawPath)
				at, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time)
				check(err == nil && at.Unix() == rc.TimeEpoch/1000, "time %q and timeEpoch %d disagree (%v)", rc.Time, rc.TimeEpoch, err)
				for k, v := range ev.Headers {
					check(k == strings.ToLower(k), "header %q not lower-case", k)
					check(v != "", "header %q empty", k)
				}
				check(ev.Headers["host"] == rc.DomainName, "host %q", ev.Headers["host"])
				check(ev.Headers["user-agent"] == rc.HTTP.UserAgent, "user-agent %q, http.userAgent %q", ev.Headers["user-agent"], rc.HTTP.UserAgent)
				check(strings.HasPrefix(ev.Headers["x-forwarded-for"], rc.HTTP.SourceIP), "x-forwarded-for %q, sourceIp %q", ev.Headers["x-forwarded-for"], rc.HTTP.SourceIP)

				// The query, raw and parsed.
				q, err := url.ParseQuery(ev.RawQueryString)
				check(err == nil && len(q) == len(ev.QueryStringParameters), "rawQueryString %q, queryStringParameters %v", ev.RawQueryString, ev.QueryStringParameters)
				for k, v := range ev.QueryStringParameters {
					check(strings.Join(q[k], ",") == v, "query %s: raw %q, parsed %q", k, q[k], v)
				}

				// The body and its length.
				if ev.Body != "" {
					body := []byte(ev.Body)
					if ev.IsBase64Encoded {
						body, err = base64.StdEncoding.DecodeString(ev.Body)
						check(err == nil, "body is not base64: %v", err)
					}
					check(ev.Headers["content-length"] == strconv.Itoa(len(body)), "content-length %q, body of %d bytes", ev.Headers["content-length"], len(body))
					check(ev.Headers["content-type"] != "", "a body and no content-type")
				} else {
					check(ev.Headers["content-length"] == "" && !ev.IsBase64Encoded, "no body, yet content-length %q or base64", ev.Headers["content-length"])
				}

				if ev.RouteKey == "$default" {
					return
				}
				// The route key names a served route, and the path fits it
				// with exactly the path parameters given.
				method, pattern, _ := strings.Cut(ev.RouteKey, " ")
				check(rc.HTTP.Method == method, "method %q, route key %q", rc.HTTP.Method, ev.RouteKey)
				found := false
				for _, k := range keys {
					found = found || k == ev.RouteKey
				}
				check(found, "%s does not serve %q", fn, ev.RouteKey)
				covered[ev.RouteKey] = true
				ps, xs := strings.Split(pattern, "/"), strings.Split(ev.RawPath, "/")
				params := map[string]string{}
				if greedy := strings.HasSuffix(pattern, "+}"); greedy && len(xs) >= len(ps) {
					// {name+} takes the rest of the path.
					xs = append(xs[:len(ps)-1], strings.Join(xs[len(ps)-1:], "/"))
				}
				if check(len(ps) == len(xs), "rawPath %q does not fit %q", ev.RawPath, pattern) {
					for i, p := range ps {
						if strings.HasPrefix(p, "{") {
							params[strings.Trim(p, "{+}")] = xs[i]
						} else {
							check(p == xs[i], "rawPath %q does not fit %q", ev.RawPath, pattern)
						}
					}
				}
				check(len(params) == len(ev.PathParameters), "pathParameters %v, want %v", ev.PathParameters, params)
				for k, v := range params {
					check(ev.PathParameters[k] == v, "pathParameters %v, want %v", ev.PathParameters, params)
				}
				_, hasAuth := ev.Headers["authorization"]
				anonymous := ev.RouteKey == "POST /auth/signup" || ev.RouteKey == "POST /auth/login"
				check(hasAuth != anonymous || strings.Contains(name, "no-token"), "authorization header present: %v", hasAuth)
			})
		}
		// One file stands for all the catch-all routes (METHOD /{proxy+}).
		catchAllCovered := false
		for k := range covered {
			catchAllCovered = catchAllCovered || isCatchAll(k)
		}
		for _, k := range keys {
			if !covered[k] && !(isCatchAll(k) && catchAllCovered) {
				t.Errorf("%s: no event file for %s", fn, k)
			}
		}
	}
}

// isCatchAll reports whether a route key is a catch-all, METHOD /{proxy+},
// whose only answer is route_not_found.
func isCatchAll(key string) bool { return strings.HasSuffix(key, " /{proxy+}") }
