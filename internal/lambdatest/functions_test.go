package lambdatest_test

// The function binaries, built and run as Lambda runs them: each `make
// build-<LogicalId>` writes a static linux/arm64 bootstrap, and each
// function, built for this machine, answers its testdata events through
// the Runtime API, against DynamoDB Local and a fake management API.

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/iamactions"
	"github.com/chatroom/chat/internal/lambdatest"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/samtemplate"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/dynamostore"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

const (
	repoRoot       = "../.."
	maxBootstrap   = 20 << 20
	invokeTimeout  = 30 * time.Second
	processStartup = 20 * time.Second
)

// buildSlots bounds the go builds running at once across the tests: the
// machine has two cores, and each build uses both.
var buildSlots = make(chan struct{}, 2)

func withBuildSlot(fn func()) {
	buildSlots <- struct{}{}
	defer func() { <-buildSlots }()
	fn()
}

// function is one AWS::Serverless::Function and the package it is built from.
type function struct {
	logicalID string
	pkg       string // under functions/
}

var buildTarget = regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+):.*\./functions/([A-Za-z0-9_]+)`)

// functions lists the template's functions with the package their
// Makefile target builds.
func functions(t *testing.T) []function {
	t.Helper()
	tmpl, err := samtemplate.Load(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]string{}
	for _, m := range buildTarget.FindAllStringSubmatch(string(raw), -1) {
		pkgs[m[1]] = m[2]
	}
	var fns []function
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		pkg, ok := pkgs[id]
		if !ok {
			t.Errorf("the Makefile has no build-%s target building a ./functions/<name> package", id)
			continue
		}
		fns = append(fns, function{logicalID: id, pkg: pkg})
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].logicalID < fns[j].logicalID })
	if len(fns) == 0 {
		t.Fatal("found no function to build")
	}
	return fns
}

// TestBootstrapBuilds runs each function's Makefile target as `sam build`
// does and checks the bootstrap it writes is what provided.al2023 on arm64
// runs: a static linux/arm64 ELF executable, under 20 MB.
func TestBootstrapBuilds(t *testing.T) {
	t.Parallel()
	fns := functions(t)
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	build := func(t *testing.T, fn function) {
		dir := t.TempDir()
		var out []byte
		var err error
		start := time.Now()
		withBuildSlot(func() {
			cmd := exec.Command("make", "--no-print-directory", "-C", abs, "build-"+fn.logicalID, "ARTIFACTS_DIR="+dir)
			out, err = cmd.CombinedOutput()
		})
		if err != nil {
			t.Fatalf("make build-%s ARTIFACTS_DIR=%s: %v\n%s", fn.logicalID, dir, err, out)
		}
		checkBootstrap(t, fn.logicalID, filepath.Join(dir, "bootstrap"), time.Since(start))
	}
	// The first build compiles the shared dependencies for linux/arm64
	// into the build cache; the others then only compile and link their
	// own package, two at a time.
	t.Run(fns[0].logicalID, func(t *testing.T) { build(t, fns[0]) })
	for _, fn := range fns[1:] {
		t.Run(fn.logicalID, func(t *testing.T) {
			t.Parallel()
			build(t, fn)
		})
	}
}

func checkBootstrap(t *testing.T, logicalID, path string, took time.Duration) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the build wrote no bootstrap: %v", err)
	}
	t.Logf("%s bootstrap: %.1f MB (%d bytes), built in %v", logicalID, float64(st.Size())/(1<<20), st.Size(), took.Round(100*time.Millisecond))
	if st.Mode()&0o111 == 0 {
		t.Errorf("bootstrap is not executable (mode %v)", st.Mode())
	}
	if st.Size() >= maxBootstrap {
		t.Errorf("bootstrap is %d bytes, want under %d (20 MB)", st.Size(), maxBootstrap)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("bootstrap is not an ELF file: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("bootstrap is for %v (%v), want EM_AARCH64 (ELFCLASS64): Lambda runs the function on arm64", f.Machine, f.Class)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is an ELF %v, want ET_EXEC (a static, non-PIE executable)", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("bootstrap has a %v program header: it is dynamically linked (build with CGO_ENABLED=0)", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("bootstrap needs shared libraries %v, want none", libs)
	}
}

// ---- Running functions through the Runtime API.

// buildHost starts building every function for this machine, with one go
// build (which compiles the shared packages once and uses both cores), and
// returns a wait that gives the directory of the binaries.
func buildHost(t *testing.T, fns []function) (wait func(t *testing.T) string) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-tags", "lambda.norpc", "-o", dir + string(filepath.Separator)}
	for _, fn := range fns {
		args = append(args, "./functions/"+fn.pkg)
	}
	var out []byte
	var err error
	var took time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		withBuildSlot(func() {
			cmd := exec.Command("go", args...)
			cmd.Dir = repoRoot
			out, err = cmd.CombinedOutput()
		})
		took = time.Since(start)
	}()
	// Registered after TempDir, so it runs before the directory goes.
	t.Cleanup(func() { <-done })
	return func(t *testing.T) string {
		t.Helper()
		<-done
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("built %d functions for the host in %v", len(fns), took.Round(100*time.Millisecond))
		return dir
	}
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a function process and the Runtime API it polls.
type proc struct {
	name string
	srv  *lambdatest.Server
	cmd  *exec.Cmd
	out  *syncBuffer
	// alive ends, with the exit as its cause, when the process exits.
	alive  context.Context
	exited chan struct{}
}

// startProcess starts bin with the Lambda environment plus env (NAME=value;
// NAME= alone removes NAME) and kills it when the test ends.
func startProcess(t *testing.T, bin, logicalID string, env []string) *proc {
	t.Helper()
	srv, err := lambdatest.NewServer(lambdatest.Options{FunctionName: logicalID})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	base := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            home,
		"AWS_LAMBDA_RUNTIME_API":          srv.Addr(),
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_ACCESS_KEY_ID":               "AKIALAMBDATEST",
		"AWS_SECRET_ACCESS_KEY":           "lambdatest",
		"AWS_CONFIG_FILE":                 filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE":     filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_FUNCTION_NAME":        logicalID,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + logicalID,
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                filepath.Dir(bin),
		"LOG_LEVEL":                       "DEBUG",
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if v == "" {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	cmd := exec.Command(bin)
	for k, v := range base {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		srv.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	alive, stop := context.WithCancelCause(context.Background())
	p := &proc{name: logicalID, srv: srv, cmd: cmd, out: out, alive: alive, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exit status 0")
		}
		stop(fmt.Errorf("the %s process exited: %w", logicalID, err))
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		srv.Close()
		if t.Failed() {
			t.Logf("output of %s:\n%s", logicalID, out.String())
		}
	})
	return p
}

// invoke sends event through the Runtime API and decodes the answer.
func (p *proc) invoke(t *testing.T, event []byte, answer any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.alive, invokeTimeout)
	defer cancel()
	raw, err := p.srv.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("%s: invoke: %v (%v)\noutput so far:\n%s", p.name, err, context.Cause(ctx), p.out.String())
	}
	if err := json.Unmarshal(raw, answer); err != nil {
		t.Fatalf("%s: the answer %s is not the JSON expected: %v", p.name, raw, err)
	}
}

// httpAnswer is an HTTP API (payload 2.0) Lambda response.
type httpAnswer struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func (a httpAnswer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.Body), &m); err != nil {
		t.Fatalf("the body %q is not a JSON object: %v", a.Body, err)
	}
	return m
}

func (a httpAnswer) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(a.Body), &e)
	return e.Error.Code
}

// wsAnswer is a WebSocket route's Lambda response.
type wsAnswer struct {
	StatusCode int `json:"statusCode"`
}

// ---- The fake API Gateway management API.

type frame struct {
	conn string
	raw  string
	f    map[string]any
}

type managementAPI struct {
	*httptest.Server
	mu      sync.Mutex
	posts   []frame
	deletes []string
	// gone are connections answered 410 GoneException, as API Gateway
	// answers for a socket that closed without its $disconnect running.
	gone map[string]bool
}

func newManagementAPI(t *testing.T) *managementAPI {
	m := &managementAPI{gone: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /@connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if m.isGone(r.PathValue("id")) {
			writeGone(w)
			return
		}
		var f map[string]any
		if err := json.Unmarshal(body, &f); err != nil {
			t.Errorf("management API: a post to %s is not a JSON object: %q", r.PathValue("id"), body)
		}
		m.mu.Lock()
		m.posts = append(m.posts, frame{conn: r.PathValue("id"), raw: string(body), f: f})
		m.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("DELETE /@connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		if m.isGone(r.PathValue("id")) {
			writeGone(w)
			return
		}
		m.mu.Lock()
		m.deletes = append(m.deletes, r.PathValue("id"))
		m.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /@connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"connectedAt":"2026-11-21T10:00:00Z","lastActiveAt":"2026-11-21T10:00:00Z","identity":{"sourceIp":"127.0.0.1"}}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("management API: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	m.Server = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(m.Close)
	return m
}

// writeGone answers as API Gateway does for a connection that is gone.
func writeGone(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", "GoneException")
	w.WriteHeader(http.StatusGone)
	_, _ = io.WriteString(w, `{"message":null}`)
}

// setGone makes every later call for the connection answer 410.
func (m *managementAPI) setGone(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gone[id] = true
}

func (m *managementAPI) isGone(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gone[id]
}

// mark is the number of posts so far; since(mark) the ones after it.
func (m *managementAPI) mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.posts)
}

func (m *managementAPI) since(mark int) []frame {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.posts[mark:])
}

// framesTo lists the frames of one type posted to conn.
func framesTo(frames []frame, conn, typ string) []map[string]any {
	var out []map[string]any
	for _, f := range frames {
		if f.conn == conn && f.f["type"] == typ {
			out = append(out, f.f)
		}
	}
	return out
}

func describe(frames []frame) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "\n  to %s: %s", f.conn, f.raw)
	}
	if b.Len() == 0 {
		return " none"
	}
	return b.String()
}

// ---- Test events.

var placeholder = regexp.MustCompile(`\{\{([a-z_]+)\}\}`)

// event reads functions/<pkg>/testdata/<file> and fills its placeholders.
func event(t *testing.T, pkg, file string, vars map[string]string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "functions", pkg, "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	out := placeholder.ReplaceAllStringFunc(string(raw), func(s string) string {
		name := placeholder.FindStringSubmatch(s)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, s)
			return s
		}
		return v
	})
	if len(missing) > 0 {
		t.Fatalf("functions/%s/testdata/%s has placeholders %v this test has no value for (it has %v)", pkg, file, missing, mapKeys(vars))
	}
	if !json.Valid([]byte(out)) {
		t.Fatalf("functions/%s/testdata/%s is not valid JSON once filled in", pkg, file)
	}
	return []byte(out)
}

// withBody replaces the body of an event.
func withBody(t *testing.T, ev []byte, body string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		t.Fatal(err)
	}
	m["body"] = body
	out, _ := json.Marshal(m)
	return out
}

func mapKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// testdataFiles lists functions/<pkg>/testdata/*.json.
func testdataFiles(pkg string) []string {
	paths, _ := filepath.Glob(filepath.Join(repoRoot, "functions", pkg, "testdata", "*.json"))
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	sort.Strings(names)
	return names
}

// step is one testdata event and what its answer must be. A check may be
// nil: then only the status is checked.
type step struct {
	file   string
	status int
	check  func(t *testing.T, a httpAnswer)
}

// runHTTPFiles drives a function with the steps in order, then with any
// other testdata file (which must not fail with a 5xx) but those handled
// elsewhere, then with last.
func runHTTPFiles(t *testing.T, p *proc, pkg string, vars map[string]string, handled []string, steps, last []step) {
	t.Helper()
	known := map[string]bool{}
	for _, f := range handled {
		known[f] = true
	}
	for _, s := range slices.Concat(steps, last) {
		known[s.file] = true
	}
	var extra []step
	for _, f := range testdataFiles(pkg) {
		if !known[f] {
			extra = append(extra, step{file: f})
		}
	}
	for _, s := range slices.Concat(steps, extra, last) {
		t.Run(strings.TrimSuffix(s.file, ".json"), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(repoRoot, "functions", pkg, "testdata", s.file)); err != nil {
				t.Skipf("functions/%s/testdata/%s does not exist (yet)", pkg, s.file)
			}
			var a httpAnswer
			p.invoke(t, event(t, pkg, s.file, vars), &a)
			switch {
			case s.status == 0 && a.StatusCode >= 500:
				t.Errorf("status %d, want no server error; body %s", a.StatusCode, a.Body)
			case s.status != 0 && a.StatusCode != s.status:
				t.Fatalf("status %d, want %d; body %s", a.StatusCode, s.status, a.Body)
			}
			if a.StatusCode >= 400 && a.errorCode() == "" {
				t.Errorf("a %d answer without the contract's error body: %q", a.StatusCode, a.Body)
			}
			if s.check != nil {
				s.check(t, a)
			}
		})
	}
}

func wantError(code string) func(t *testing.T, a httpAnswer) {
	return func(t *testing.T, a httpAnswer) {
		t.Helper()
		if got := a.errorCode(); got != code {
			t.Errorf("error code %q, want %q; body %s", got, code, a.Body)
		}
	}
}

// TestFunctionsThroughRuntimeAPI builds every function for this machine,
// starts each as Lambda would (AWS_LAMBDA_RUNTIME_API and the template's
// environment) and drives it with its testdata events: accounts through
// the auth function, rooms through rooms, then a chat over the WebSocket
// functions, whose pushes reach a fake management API.
func TestFunctionsThroughRuntimeAPI(t *testing.T) {
	t.Parallel()
	fns := functions(t)
	wait := buildHost(t, fns)
	// DynamoDB Local (a JVM) starts while the functions build.
	var endpoint string
	t.Run("start DynamoDB Local", func(t *testing.T) { endpoint = dynamolocaltest.Endpoint(t) })
	bins := wait(t)
	bin := map[string]string{}     // by package
	logical := map[string]string{} // by package
	for _, fn := range fns {
		bin[fn.pkg] = filepath.Join(bins, fn.pkg)
		logical[fn.pkg] = fn.logicalID
	}
	need := func(t *testing.T, pkg string) {
		t.Helper()
		if bin[pkg] == "" {
			t.Fatalf("no function of the template is built from functions/%s", pkg)
		}
	}

	t.Run("without TABLE_NAME the function does not start", func(t *testing.T) {
		need(t, "auth")
		p := startProcess(t, bin["auth"], logical["auth"], []string{"TABLE_NAME=", "WS_MANAGEMENT_ENDPOINT=http://127.0.0.1:9"})
		select {
		case <-p.srv.InitFailed():
			errs := p.srv.InitErrors()
			if !strings.Contains(errs[0].Message, "TABLE_NAME") {
				t.Errorf("the init error %q does not name TABLE_NAME", errs[0].Message)
			}
			t.Logf("init error reported: %s: %s", errs[0].Type, errs[0].Message)
		case <-p.exited:
			var exit *exec.ExitError
			if err := context.Cause(p.alive); !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("%v; want a non-zero exit", err)
			}
			if out := p.out.String(); !strings.Contains(out, "TABLE_NAME") {
				t.Errorf("the process exited without a log line naming TABLE_NAME; its output:\n%s", out)
			} else {
				t.Logf("%v; it logged: %s", context.Cause(p.alive), strings.TrimSpace(out))
			}
		case <-time.After(processStartup):
			t.Fatalf("after %v the process neither reported an init error nor exited; output:\n%s", processStartup, p.out.String())
		}
	})

	if endpoint == "" {
		t.Skip("DynamoDB Local is not available; see the skipped subtest")
	}
	table := dynamolocaltest.NewTable(t, dynamolocaltest.Client(t), dynamostore.TableDefinition("lambdatest"))
	mgmt := newManagementAPI(t)
	env := []string{"TABLE_NAME=" + table, "DYNAMODB_ENDPOINT=" + endpoint, "WS_MANAGEMENT_ENDPOINT=" + mgmt.URL}

	procs := map[string]*proc{}
	// The functions that push hand big rooms' shards to the fan-out
	// function through the Lambda Invoke API, which the SDK finds at
	// AWS_ENDPOINT_URL_LAMBDA: here a fake that hands each to the fan-out
	// function's process, as Lambda would.
	lambdaAPI := newLambdaAPI(t, func() *proc { return procs["fanout"] })
	// Each function records the IAM actions its DynamoDB and Lambda calls
	// need, for the least-privilege check at the end.
	actionsDir := t.TempDir()
	actionsLog := func(pkg string) string { return filepath.Join(actionsDir, pkg+".actions") }
	start := func(t *testing.T, pkg string) *proc {
		t.Helper()
		need(t, pkg)
		if procs[pkg] == nil {
			fnEnv := append(slices.Clone(env), app.EnvActionsLog+"="+actionsLog(pkg))
			// As in the template, the fan-out function has none: it
			// pushes its own leaves.
			if pkg != "fanout" {
				fnEnv = append(fnEnv, app.EnvFanoutFunction+"="+logical["fanout"], "AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI.URL)
			}
			procs[pkg] = startProcess(t, bin[pkg], logical[pkg], fnEnv)
		}
		return procs[pkg]
	}
	// The processes live as long as the whole test: start them here.
	for _, pkg := range []string{"auth", "rooms", "connect", "disconnect", "join_room", "send_message", "leave_room", "default", "fanout"} {
		if bin[pkg] != "" {
			start(t, pkg)
		}
	}
	t.Cleanup(func() {
		for _, p := range procs {
			for line := range strings.SplitSeq(p.out.String(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					t.Errorf("%s logged an error: %s", p.name, line)
				}
			}
		}
	})

	tokens := map[string]string{}
	tickets := map[string]string{} // one socket ticket each for alice and bob
	var roomID string

	// scenarioOK stays true while every step of the scenario passes: only
	// then has each function walked all its paths.
	scenarioOK := true
	t.Run("auth", func(t *testing.T) {
		defer func() { scenarioOK = scenarioOK && !t.Failed() && !t.Skipped() }()
		auth := start(t, "auth")
		signup := func(t *testing.T, user string) {
			ev := event(t, "auth", "signup.json", nil)
			if user != "alice" {
				ev = withBody(t, ev, `{"username":"`+user+`","password":"correct horse battery staple"}`)
			}
			var a httpAnswer
			auth.invoke(t, ev, &a)
			if a.StatusCode != http.StatusCreated {
				t.Fatalf("signup %s: status %d, want 201; body %s", user, a.StatusCode, a.Body)
			}
			b := a.json(t)
			tok, _ := b["token"].(string)
			if b["username"] != user || tok == "" || b["expires_at"] == nil {
				t.Fatalf("signup %s: body %s, want username, token and expires_at", user, a.Body)
			}
			tokens[user] = tok
		}
		t.Run("signup", func(t *testing.T) {
			for _, u := range []string{"alice", "bob", "carol", "dave"} {
				signup(t, u)
			}
		})
		if tokens["alice"] == "" {
			t.Fatal("no token: the rest needs a signed-up user")
		}
		vars := map[string]string{"token": tokens["alice"]}
		var loginToken string
		runHTTPFiles(t, auth, "auth", vars, []string{"signup.json", "logout.json", "ticket.json"}, []step{
			{"signup-invalid-json.json", 400, wantError("invalid_json")},
			{"login.json", 200, func(t *testing.T, a httpAnswer) {
				b := a.json(t)
				loginToken, _ = b["token"].(string)
				if b["username"] != "alice" || loginToken == "" {
					t.Errorf("login: body %s, want alice's new token", a.Body)
				}
			}},
			{"login-base64.json", 200, nil},
			{"login-wrong-password.json", 401, wantError("invalid_credentials")},
			{"me.json", 200, func(t *testing.T, a httpAnswer) {
				if b := a.json(t); b["username"] != "alice" {
					t.Errorf("GET /me: body %s, want username alice", a.Body)
				}
			}},
			{"me-no-token.json", 401, wantError("unauthenticated")},
			{"route-not-found.json", 404, wantError("route_not_found")},
		}, nil)
		// A socket ticket each for alice and bob, through ticket.json.
		t.Run("ticket", func(t *testing.T) {
			for _, user := range []string{"alice", "bob"} {
				var a httpAnswer
				auth.invoke(t, event(t, "auth", "ticket.json", map[string]string{"token": tokens[user]}), &a)
				b := a.json(t)
				ticket, _ := b["ticket"].(string)
				if a.StatusCode != http.StatusCreated || ticket == "" || ticket == tokens[user] || b["expires_at"] == nil {
					t.Fatalf("ticket for %s: status %d body %s, want 201 with a ticket and expires_at", user, a.StatusCode, a.Body)
				}
				tickets[user] = ticket
			}
		})
		// Log out the session login.json opened (alice's first token
		// goes on to the rooms and the sockets), then it is dead.
		t.Run("logout", func(t *testing.T) {
			if loginToken == "" {
				t.Skip("login.json gave no token")
			}
			lv := map[string]string{"token": loginToken}
			var a httpAnswer
			auth.invoke(t, event(t, "auth", "logout.json", lv), &a)
			if a.StatusCode != http.StatusNoContent {
				t.Fatalf("logout: status %d, want 204; body %s", a.StatusCode, a.Body)
			}
			auth.invoke(t, event(t, "auth", "me.json", lv), &a)
			if a.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /me after logout: status %d, want 401", a.StatusCode)
			}
		})
	})

	createRoom := func(t *testing.T, rooms *proc) string {
		t.Helper()
		var a httpAnswer
		rooms.invoke(t, event(t, "rooms", "create-room.json", map[string]string{"token": tokens["alice"]}), &a)
		if a.StatusCode != http.StatusCreated {
			t.Fatalf("create room: status %d, want 201; body %s", a.StatusCode, a.Body)
		}
		b := a.json(t)
		id, _ := b["room_id"].(string)
		if id == "" || b["owner"] != "alice" || b["name"] != "general" {
			t.Fatalf("create room: body %s, want a room_id, owner alice, name general", a.Body)
		}
		members, _ := json.Marshal(b["members"])
		if !strings.Contains(string(members), `"bob"`) {
			t.Errorf("create room: members %s, want bob among them", members)
		}
		return id
	}

	t.Run("rooms", func(t *testing.T) {
		defer func() { scenarioOK = scenarioOK && !t.Failed() && !t.Skipped() }()
		if tokens["alice"] == "" || tokens["bob"] == "" {
			t.Skip("needs alice and bob signed up through the auth function")
		}
		rooms := start(t, "rooms")
		var id string
		t.Run("create-room", func(t *testing.T) { id = createRoom(t, rooms) })
		if id == "" {
			t.Fatal("no room")
		}
		vars := map[string]string{"token": tokens["alice"], "room_id": id}
		roomOK := func(t *testing.T, a httpAnswer) {
			if b := a.json(t); b["room_id"] != id {
				t.Errorf("body %s, want room %s", a.Body, id)
			}
		}
		runHTTPFiles(t, rooms, "rooms", vars, []string{"create-room.json"}, []step{
			{"create-room-invalid-json.json", 400, wantError("invalid_json")},
			{"get-room.json", 200, roomOK},
			{"list-rooms.json", 200, func(t *testing.T, a httpAnswer) {
				if !strings.Contains(a.Body, id) {
					t.Errorf("GET /rooms: body %s, want room %s listed", a.Body, id)
				}
			}},
			{"list-events.json", 200, func(t *testing.T, a httpAnswer) {
				var b struct {
					Events []struct {
						Seq  int64  `json:"seq"`
						Type string `json:"type"`
					} `json:"events"`
				}
				_ = json.Unmarshal([]byte(a.Body), &b)
				if len(b.Events) == 0 || b.Events[0].Seq != 1 || b.Events[0].Type != "room_created" {
					t.Errorf("events: body %s, want seq 1 room_created first", a.Body)
				}
			}},
			{"rename-room.json", 200, func(t *testing.T, a httpAnswer) {
				if b := a.json(t); b["name"] != "random" {
					t.Errorf("rename: body %s, want the name trimmed to random", a.Body)
				}
			}},
			{"rename-room-invalid-json.json", 400, wantError("invalid_json")},
			{"add-members.json", 200, roomOK},
			{"add-admins.json", 200, roomOK},
			{"list-events-after.json", 200, nil},
			{"list-events-before.json", 200, nil},
			{"list-events-invalid-query.json", 400, wantError("invalid_query")},
			{"list-rooms-page.json", 200, func(t *testing.T, a httpAnswer) {
				if !strings.Contains(a.Body, id) || !strings.Contains(a.Body, `"next":null`) {
					t.Errorf("GET /rooms?limit=2: body %s, want room %s listed and no next page", a.Body, id)
				}
			}},
			{"block-user.json", 204, nil},
			{"list-blocks.json", 200, func(t *testing.T, a httpAnswer) {
				if a.Body != `{"usernames":["bob"]}` {
					t.Errorf("GET /me/blocks: body %s, want bob alone", a.Body)
				}
			}},
			{"unblock-user.json", 204, nil},
			{"remove-member.json", 204, nil},
		}, []step{
			{"delete-room.json", 204, nil},
			{"get-room.json", 404, wantError("room_not_found")},
		})
		// The WebSocket functions get a room of their own, alice and bob in it.
		t.Run("create a room to chat in", func(t *testing.T) { roomID = createRoom(t, rooms) })
	})

	t.Run("websocket", func(t *testing.T) {
		defer func() { scenarioOK = scenarioOK && !t.Failed() && !t.Skipped() }()
		if roomID == "" {
			t.Skip("needs a room created through the rooms function")
		}
		const aliceConn, bobConn = "L0SM9cOFvHcCIhw=", "L0SNbdJ7vHcCFZg="
		alice := map[string]string{"token": tokens["alice"], "ticket": tickets["alice"], "connection_id": aliceConn, "room_id": roomID}
		bob := map[string]string{"token": tokens["bob"], "ticket": tickets["bob"], "connection_id": bobConn, "room_id": roomID}
		ws := func(t *testing.T, pkg, file string, vars map[string]string, status int) []frame {
			t.Helper()
			p := start(t, pkg)
			mark := mgmt.mark()
			var a wsAnswer
			p.invoke(t, event(t, pkg, file, vars), &a)
			if a.StatusCode != status {
				t.Fatalf("%s/%s: status %d, want %d", pkg, file, a.StatusCode, status)
			}
			return mgmt.since(mark)
		}
		ok := true
		sub := func(name string, fn func(t *testing.T)) {
			if ok {
				ok = t.Run(name, fn)
			} else {
				t.Run(name, func(t *testing.T) { t.Skip("an earlier step failed") })
			}
		}

		sub("$connect", func(t *testing.T) {
			ws(t, "connect", "connect.json", alice, 200)
			ws(t, "connect", "connect.json", bob, 200)
			if got := ws(t, "connect", "connect_no_ticket.json", map[string]string{"connection_id": "L0SNrefusedAA="}, 401); len(got) > 0 {
				t.Errorf("a refused $connect posted frames:%s", describe(got))
			}
			ws(t, "connect", "connect.json", map[string]string{"ticket": "not-a-ticket", "connection_id": "L0SNrefusedBB="}, 401)
			// The session token is no ticket.
			ws(t, "connect", "connect.json", map[string]string{"ticket": tokens["alice"], "connection_id": "L0SNrefusedCC="}, 401)
		})
		sub("join_room", func(t *testing.T) {
			got := ws(t, "join_room", "join.json", alice, 200)
			h := framesTo(got, aliceConn, "history")
			if len(h) != 1 || h[0]["room_id"] != roomID {
				t.Errorf("alice's connection got history frames %v, want one for the room; all posts:%s", h, describe(got))
			}
			ann := framesTo(got, aliceConn, "join_room_announcement")
			if len(ann) != 1 || ann[0]["username"] != "alice" || ann[0]["room_id"] != roomID {
				t.Errorf("alice's connection got announcements %v, want alice's join; all posts:%s", ann, describe(got))
			}
			got = ws(t, "join_room", "join.json", bob, 200)
			if h := framesTo(got, bobConn, "history"); len(h) != 1 || fmt.Sprint(h[0]["online"]) != "[alice bob]" {
				t.Errorf("bob's history frames %v, want one with online [alice bob]; all posts:%s", h, describe(got))
			}
			for _, c := range []string{aliceConn, bobConn} {
				if ann := framesTo(got, c, "join_room_announcement"); len(ann) != 1 || ann[0]["username"] != "bob" {
					t.Errorf("connection %s got %v, want bob's join announcement; all posts:%s", c, ann, describe(got))
				}
			}
			resume := with(alice, "after_seq", "1")
			got = ws(t, "join_room", "join_resume.json", resume, 200)
			if h := framesTo(got, aliceConn, "history"); len(h) != 1 {
				t.Errorf("a resume got history frames %v, want one; all posts:%s", h, describe(got))
			}
		})
		sub("send_message", func(t *testing.T) {
			got := ws(t, "send_message", "send.json", with(alice, "client_msg_id", "msg-0001"), 200)
			for _, c := range []string{aliceConn, bobConn} {
				m := framesTo(got, c, "receive_message")
				if len(m) != 1 || m[0]["text"] != "hello, everyone" || m[0]["username"] != "alice" || m[0]["client_msg_id"] != "msg-0001" {
					t.Errorf("connection %s got %v, want alice's message; all posts:%s", c, m, describe(got))
				}
			}
			got = ws(t, "send_message", "send_untrimmed.json", with(alice, "client_msg_id", "msg-0002"), 200)
			if m := framesTo(got, bobConn, "receive_message"); len(m) != 1 || m[0]["text"] != "Grüße aus Köln 👋" {
				t.Errorf("bob got %v, want the message trimmed; all posts:%s", m, describe(got))
			}
		})
		sub("edit_message and delete_message", func(t *testing.T) {
			// The send function serves both routes; the message's id is
			// the one its receive_message carried.
			got := ws(t, "send_message", "send.json", with(alice, "client_msg_id", "msg-0010"), 200)
			m := framesTo(got, bobConn, "receive_message")
			if len(m) != 1 {
				t.Fatalf("bob got %v; all posts:%s", m, describe(got))
			}
			id, _ := m[0]["message_id"].(string)
			got = ws(t, "send_message", "edit.json", with(alice, "message_id", id), 200)
			if e := framesTo(got, bobConn, "message_edited"); len(e) != 1 || e[0]["text"] != "hello again, everyone" || e[0]["message_id"] != id {
				t.Errorf("bob got %v, want the edit; all posts:%s", e, describe(got))
			}
			got = ws(t, "send_message", "delete.json", with(alice, "message_id", id), 200)
			if d := framesTo(got, bobConn, "message_deleted"); len(d) != 1 || d[0]["message_id"] != id {
				t.Errorf("bob got %v, want the deletion; all posts:%s", d, describe(got))
			}
		})
		sub("$default", func(t *testing.T) {
			got := ws(t, "default", "typing.json", alice, 200)
			if ty := framesTo(got, bobConn, "typing"); len(ty) != 1 || ty[0]["username"] != "alice" {
				t.Errorf("bob got %v, want alice typing; all posts:%s", ty, describe(got))
			}
			if ty := framesTo(got, aliceConn, "typing"); len(ty) != 0 {
				t.Errorf("the typer got her own typing frame; all posts:%s", describe(got))
			}
			for file, code := range map[string]string{"unknown_action.json": "unknown_action", "missing_action.json": "unknown_action", "invalid_json.json": "invalid_json"} {
				if _, err := os.Stat(filepath.Join(repoRoot, "functions/default/testdata", file)); err != nil {
					continue
				}
				got := ws(t, "default", file, alice, 200)
				if e := framesTo(got, aliceConn, "error"); len(e) != 1 || e[0]["code"] != code {
					t.Errorf("%s: alice got %v, want one error frame %s; all posts:%s", file, e, code, describe(got))
				}
			}
		})
		sub("leave_room", func(t *testing.T) {
			got := ws(t, "leave_room", "leave.json", alice, 200)
			for _, c := range []string{aliceConn, bobConn} {
				if l := framesTo(got, c, "leave_room_announcement"); len(l) != 1 || l[0]["username"] != "alice" {
					t.Errorf("connection %s got %v, want alice's leave; all posts:%s", c, l, describe(got))
				}
			}
		})
		sub("$disconnect", func(t *testing.T) {
			got := ws(t, "disconnect", "disconnect.json", bob, 200)
			if l := framesTo(got, bobConn, "leave_room_announcement"); len(l) != 0 {
				t.Errorf("the closed connection was sent %v", l)
			}
			ws(t, "disconnect", "disconnect.json", alice, 200)
		})
		// Every other testdata file of the WebSocket functions is driven
		// too, with alice's values; none may fail with a 5xx.
		t.Run("other testdata", func(t *testing.T) {
			covered := map[string]bool{
				"connect/connect.json": true, "connect/connect_no_ticket.json": true,
				"join_room/join.json": true, "join_room/join_resume.json": true,
				"send_message/send.json": true, "send_message/send_untrimmed.json": true,
				"send_message/edit.json": true, "send_message/delete.json": true,
				"default/typing.json": true, "default/unknown_action.json": true, "default/missing_action.json": true, "default/invalid_json.json": true,
				"leave_room/leave.json": true, "disconnect/disconnect.json": true,
			}
			vars := with(with(alice, "after_seq", "1"), "client_msg_id", "msg-0003")
			for _, pkg := range []string{"connect", "join_room", "send_message", "default", "leave_room", "disconnect"} {
				for _, f := range testdataFiles(pkg) {
					if covered[pkg+"/"+f] {
						continue
					}
					t.Run(pkg+"/"+f, func(t *testing.T) {
						var a wsAnswer
						start(t, pkg).invoke(t, event(t, pkg, f, vars), &a)
						if a.StatusCode >= 500 || a.StatusCode == 0 {
							t.Errorf("status %d, want no server error", a.StatusCode)
						}
					})
				}
			}
		})
	})
	// API Gateway answers 410 for a socket that closed while its
	// $disconnect never ran (best effort, in the cloud). Whichever function
	// meets such a socket first cleans it up: it leaves the socket's rooms,
	// announced, and deletes it. That path needs DynamoDB actions the
	// happy path does not, so each function that posts is driven through
	// it here, for the policies below as much as for the cleanup.
	t.Run("a socket found gone is cleaned up by the function that finds it", func(t *testing.T) {
		defer func() { scenarioOK = scenarioOK && !t.Failed() && !t.Skipped() }()
		if roomID == "" || tokens["alice"] == "" || tokens["bob"] == "" {
			t.Skip("needs alice, bob and their room from the steps above")
		}
		st, err := dynamostore.New(dynamolocaltest.Client(t), table, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		auth := start(t, "auth")
		ticketFor := func(t *testing.T, token string) string {
			t.Helper()
			var a httpAnswer
			auth.invoke(t, event(t, "auth", "ticket.json", map[string]string{"token": token}), &a)
			ticket, _ := a.json(t)["ticket"].(string)
			if a.StatusCode != http.StatusCreated || ticket == "" {
				t.Fatalf("ticket: status %d body %s", a.StatusCode, a.Body)
			}
			return ticket
		}
		socket := func(t *testing.T, pkg, file string, vars map[string]string) []frame {
			t.Helper()
			mark := mgmt.mark()
			var a wsAnswer
			start(t, pkg).invoke(t, event(t, pkg, file, vars), &a)
			if a.StatusCode != http.StatusOK {
				t.Fatalf("%s/%s: status %d, want 200", pkg, file, a.StatusCode)
			}
			return mgmt.since(mark)
		}
		// connect opens a socket for the session and joins the room.
		connect := func(t *testing.T, token, conn string) map[string]string {
			t.Helper()
			vars := map[string]string{"token": token, "ticket": ticketFor(t, token), "connection_id": conn, "room_id": roomID}
			socket(t, "connect", "connect.json", vars)
			socket(t, "join_room", "join.json", vars)
			return vars
		}
		// stale leaves a socket of bob's in the room that went away a
		// minute after it opened, its $disconnect lost: a push finding a
		// socket gone any younger leaves it to its $disconnect, since its
		// handshake may still be under way (wsapi.ConnectGrace).
		db := dynamolocaltest.Client(t)
		stale := func(t *testing.T, conn string) {
			t.Helper()
			connect(t, tokens["bob"], conn)
			backdate(t, db, table, conn, time.Minute)
			mgmt.setGone(conn)
		}
		forgotten := func(t *testing.T, got []frame, alice, conn string) {
			t.Helper()
			if _, err := st.Connection(context.Background(), conn); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the gone socket %s is still stored (%v)", conn, err)
			}
			if alice == "" {
				return
			}
			if l := framesTo(got, alice, "leave_room_announcement"); len(l) != 1 || l[0]["username"] != "bob" {
				t.Errorf("alice's socket got %v, want bob's leave announced once; all posts:%s", l, describe(got))
			}
		}

		const aliceConn = "L0SQaliceAAAAA="
		var alice map[string]string
		t.Run("join_room", func(t *testing.T) {
			stale(t, "L0SQgoneJoin0=")
			ticket := ticketFor(t, tokens["alice"])
			alice = map[string]string{"token": tokens["alice"], "ticket": ticket, "connection_id": aliceConn, "room_id": roomID}
			socket(t, "connect", "connect.json", alice)
			forgotten(t, socket(t, "join_room", "join.json", alice), aliceConn, "L0SQgoneJoin0=")
		})
		if alice == nil {
			t.Fatal("alice has no socket in the room")
		}
		t.Run("send_message", func(t *testing.T) {
			stale(t, "L0SQgoneSend0=")
			got := socket(t, "send_message", "send.json", with(alice, "client_msg_id", "msg-gone-1"))
			forgotten(t, got, aliceConn, "L0SQgoneSend0=")
			// The same message again is answered from what is stored.
			got = socket(t, "send_message", "send.json", with(alice, "client_msg_id", "msg-gone-1"))
			if m := framesTo(got, aliceConn, "receive_message"); len(m) > 1 {
				t.Errorf("a repeated client_msg_id was delivered %d times", len(m))
			}
		})
		t.Run("default", func(t *testing.T) {
			stale(t, "L0SQgoneType0=")
			forgotten(t, socket(t, "default", "typing.json", alice), aliceConn, "L0SQgoneType0=")
		})
		t.Run("rooms", func(t *testing.T) {
			stale(t, "L0SQgoneRoom0=")
			mark := mgmt.mark()
			var a httpAnswer
			start(t, "rooms").invoke(t, event(t, "rooms", "rename-room.json", map[string]string{"token": tokens["alice"], "room_id": roomID}), &a)
			if a.StatusCode != http.StatusOK {
				t.Fatalf("rename: status %d body %s", a.StatusCode, a.Body)
			}
			forgotten(t, mgmt.since(mark), aliceConn, "L0SQgoneRoom0=")
		})
		t.Run("disconnect", func(t *testing.T) {
			stale(t, "L0SQgoneDisc0=")
			forgotten(t, socket(t, "disconnect", "disconnect.json", alice), "", "L0SQgoneDisc0=")
			alice = connect(t, tokens["alice"], "L0SQaliceBBBBB=")
		})
		t.Run("leave_room", func(t *testing.T) {
			stale(t, "L0SQgoneLeav0=")
			// Alice is out of the room before bob's leave: no one is left to tell.
			forgotten(t, socket(t, "leave_room", "leave.json", alice), "", "L0SQgoneLeav0=")
		})
		// A logout closes the session's sockets; one already gone is
		// deleted by the auth function itself.
		t.Run("auth", func(t *testing.T) {
			var a httpAnswer
			auth.invoke(t, withBody(t, event(t, "auth", "login.json", nil), `{"username":"bob","password":"correct horse battery staple"}`), &a)
			token, _ := a.json(t)["token"].(string)
			if a.StatusCode != http.StatusOK || token == "" {
				t.Fatalf("login: status %d body %s", a.StatusCode, a.Body)
			}
			connect(t, token, "L0SQgoneAuth0=")
			backdate(t, db, table, "L0SQgoneAuth0=", time.Minute)
			mgmt.setGone("L0SQgoneAuth0=")
			auth.invoke(t, event(t, "auth", "logout.json", map[string]string{"token": token}), &a)
			if a.StatusCode != http.StatusNoContent {
				t.Fatalf("logout: status %d body %s", a.StatusCode, a.Body)
			}
			forgotten(t, nil, "", "L0SQgoneAuth0=")
		})
		// The fan-out function pushes a shard of a big room's frame in
		// its slots' turn, marks them, and forgets the connections it
		// finds gone, announcing their leaves (the shard is not quiet).
		// The room here is small; the shard is what a pusher would hand
		// off, for the event after the last one delivered, so its turn
		// has come. (A shard for an event already delivered would be a
		// second run, which posts nothing: wsapi's TestBigRoomGoesOutInShards.)
		t.Run("fanout", func(t *testing.T) {
			const aliceFan, goneFan = "L0SQaliceFanou=", "L0SQgoneFanou0="
			connect(t, tokens["alice"], aliceFan)
			stale(t, goneFan)
			d, err := st.Delivered(context.Background(), roomID, true)
			if err != nil {
				t.Fatalf("the room's delivery marks: %v", err)
			}
			seq := d.UpTo(store.Slots{From: 0, To: store.DeliverySlots})
			mark := mgmt.mark()
			var answer any
			shard := event(t, "fanout", "shard.json", map[string]string{"room_id": roomID, "connection_id": aliceFan, "gone_connection_id": goneFan})
			start(t, "fanout").invoke(t, withSeq(t, shard, seq+1), &answer)
			if answer != nil {
				t.Errorf("DeliverShard answered %v, want null", answer)
			}
			got := mgmt.since(mark)
			if m := framesTo(got, aliceFan, "receive_message"); len(m) != 1 || m[0]["client_msg_id"] != "fanout-0001" {
				t.Errorf("alice's socket got %v, want the shard's frame once; all posts:%s", m, describe(got))
			}
			forgotten(t, got, aliceFan, goneFan)
			after, err := st.Delivered(context.Background(), roomID, true)
			if err != nil || after.UpTo(store.Slots{From: 0, To: store.DeliverySlots}) < seq+1 {
				t.Errorf("the room's marks after the shard and the leave it announced: %+v, %v; want them past %d", after, err, seq)
			}
		})
		// A room past the shard size: send_message hands the frame to the
		// fan-out function in shards, asynchronous invocations through
		// the Lambda API (the fake hands them to the fan-out function's
		// process), and every socket gets it once. The 200 other
		// sockets are presences made through the rooms service here, as
		// joins through the functions would make them, only faster.
		t.Run("send_message to a big room", func(t *testing.T) {
			big := createRoom(t, start(t, "rooms"))
			const aliceBig = "L0SQaliceBigRm="
			vars := map[string]string{"token": tokens["alice"], "ticket": ticketFor(t, tokens["alice"]), "connection_id": aliceBig, "room_id": big}
			socket(t, "connect", "connect.json", vars)
			socket(t, "join_room", "join.json", vars)
			rs, err := rooms.NewService(st, slog.New(slog.DiscardHandler), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{aliceBig}
			for i := range 200 {
				id := fmt.Sprintf("L0SQbig%06d=", i)
				ch, err := rs.Join(context.Background(), "bob", big, store.Presence{ConnectionID: id, Username: "bob", ExpiresAt: time.Now().Add(time.Hour)})
				if err != nil {
					t.Fatalf("joining %s: %v", id, err)
				}
				ch.Delivery.Done()
				want = append(want, id)
			}
			before, mark := lambdaAPI.count(), mgmt.mark()
			socket(t, "send_message", "send.json", with(vars, "client_msg_id", "msg-big-1"))
			// The shards are pushed after send_message has answered.
			lambdaAPI.wait(t)
			got := mgmt.since(mark)
			var to []string
			for _, f := range got {
				if f.f["type"] == "receive_message" && f.f["client_msg_id"] == "msg-big-1" {
					to = append(to, f.conn)
				}
			}
			slices.Sort(to)
			slices.Sort(want)
			if !slices.Equal(to, want) {
				t.Errorf("the message reached %d sockets, want each of the room's %d once", len(to), len(want))
			}
			// Shards end at slot boundaries, nearest the shard size: 201
			// sockets may make one shard or two, never none.
			if n := lambdaAPI.count() - before; n < 1 {
				t.Errorf("%d asynchronous invocations of the fan-out function, want the room past the shard size pushed in shards", n)
			}
		})
	})

	// Least privilege: each function's policy grants exactly the DynamoDB
	// actions the function was seen to call above, happy paths and the
	// cleanup of a gone socket alike. One it lacks fails in the cloud with
	// AccessDenied; one it never calls is privilege nobody needs.
	t.Run("policies grant exactly what the functions call", func(t *testing.T) {
		tmpl, err := samtemplate.Load(filepath.Join(repoRoot, "template.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for pkg, id := range logical {
			if procs[pkg] == nil {
				continue
			}
			used, err := iamactions.Read(actionsLog(pkg))
			if err != nil {
				t.Errorf("%s: %v", id, err)
				continue
			}
			granted := slices.Concat(dynamoDBActions(t, tmpl, id), lambdaActions(t, tmpl, id))
			t.Logf("%s calls %v", id, used)
			for _, a := range used {
				if !slices.Contains(granted, a) {
					t.Errorf("%s calls %s, which its policy does not grant (it grants %v)", id, a, granted)
				}
			}
			for _, a := range granted {
				// Only send_message meets a room big enough to shard
				// here; which functions may invoke the fan-out function
				// is internal/samtemplate's TestFanout.
				if strings.HasPrefix(a, "lambda:") && pkg != "send_message" {
					continue
				}
				if scenarioOK && !slices.Contains(used, a) {
					t.Errorf("%s's policy grants %s, which the function never called (it called %v)", id, a, used)
				}
			}
		}
	})
}

// dynamoDBActions lists the DynamoDB actions a function's policies grant,
// sorted: the actions of its Statement policies and of SAM's policy
// templates (DynamoDBCrudPolicy and DynamoDBReadPolicy, expanded as SAM
// expands them).
func dynamoDBActions(t *testing.T, tmpl *samtemplate.Template, logicalID string) []string {
	t.Helper()
	samTemplates := map[string][]string{
		"DynamoDBCrudPolicy": {"GetItem", "DeleteItem", "PutItem", "Scan", "Query", "UpdateItem", "BatchWriteItem", "BatchGetItem", "DescribeTable", "ConditionCheckItem"},
		"DynamoDBReadPolicy": {"GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable"},
	}
	res, ok := tmpl.Resources[logicalID]
	if !ok {
		t.Fatalf("no resource %s in the template", logicalID)
	}
	set := map[string]bool{}
	policies, _ := res.Properties["Policies"].([]any)
	for _, p := range policies {
		m, _ := p.(map[string]any)
		for name, body := range m {
			for _, a := range samTemplates[name] {
				set["dynamodb:"+a] = true
			}
			if name != "Statement" {
				continue
			}
			for _, a := range statementActions(body, "dynamodb:") {
				set[a] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// withSeq sets a shard's first and last seq, and its frame's, to seq.
func withSeq(t *testing.T, shard []byte, seq int64) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(shard, &m); err != nil {
		t.Fatal(err)
	}
	m["first"], m["last"] = seq, seq
	if f, ok := m["frame"].(map[string]any); ok {
		f["seq"] = seq
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeLambdaAPI is the Lambda Invoke API as the functions call it to hand
// off shards: it takes asynchronous invocations of the fan-out function
// only, answers 202, and then hands each to the fan-out function's
// process through the Runtime API.
type fakeLambdaAPI struct {
	*httptest.Server
	mu      sync.Mutex
	invoked int
	running sync.WaitGroup
}

func newLambdaAPI(t *testing.T, fanout func() *proc) *fakeLambdaAPI {
	l := &fakeLambdaAPI{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/FanoutFunction/invocations" || r.Header.Get("X-Amz-Invocation-Type") != "Event" {
			t.Errorf("Lambda API: %s %s (X-Amz-Invocation-Type %q), want an Event invocation of FanoutFunction", r.Method, r.URL.Path, r.Header.Get("X-Amz-Invocation-Type"))
			w.Header().Set("X-Amzn-ErrorType", "InvalidParameterValueException")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		p := fanout()
		if p == nil {
			t.Error("Lambda API: the fan-out function is not running")
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		l.mu.Lock()
		l.invoked++
		l.mu.Unlock()
		l.running.Go(func() {
			ctx, cancel := context.WithTimeout(p.alive, invokeTimeout)
			defer cancel()
			if out, err := p.srv.Invoke(ctx, payload); err != nil || string(out) != "null" {
				t.Errorf("the fan-out function on a shard: %s, %v", out, err)
			}
		})
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(func() {
		l.running.Wait()
		l.Close()
	})
	return l
}

func (l *fakeLambdaAPI) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.invoked
}

// wait waits for the shards handed off so far to be pushed.
func (l *fakeLambdaAPI) wait(t *testing.T) {
	t.Helper()
	l.running.Wait()
}

// lambdaActions lists the Lambda actions a function's Statement policies
// grant, sorted.
func lambdaActions(t *testing.T, tmpl *samtemplate.Template, logicalID string) []string {
	t.Helper()
	set := map[string]bool{}
	policies, _ := tmpl.Resources[logicalID].Properties["Policies"].([]any)
	for _, p := range policies {
		m, _ := p.(map[string]any)
		for _, a := range statementActions(m["Statement"], "lambda:") {
			set[a] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// statementActions lists the actions with the prefix that a policy's
// Statement list grants.
func statementActions(statement any, prefix string) []string {
	var out []string
	statements, _ := statement.([]any)
	for _, st := range statements {
		sm, _ := st.(map[string]any)
		var actions []any
		switch a := sm["Action"].(type) {
		case string:
			actions = []any{a}
		case []any:
			actions = a
		}
		for _, a := range actions {
			if s, _ := a.(string); strings.HasPrefix(s, prefix) {
				out = append(out, s)
			}
		}
	}
	return out
}

// with returns a copy of m with k set to v.
func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range m {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}

// backdate moves a connection's $connect back by age, as if its socket
// had been open that long.
func backdate(t *testing.T, db *dynamodb.Client, table, conn string, age time.Duration) {
	t.Helper()
	_, err := db.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			dynamostore.AttrPK: &types.AttributeValueMemberS{Value: "CONN#" + conn},
			dynamostore.AttrSK: &types.AttributeValueMemberS{Value: "CONN"},
		},
		UpdateExpression:          aws.String("SET connected_at = :at"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": &types.AttributeValueMemberS{Value: time.Now().Add(-age).UTC().Format(chat.TimeFormat)}},
	})
	if err != nil {
		t.Fatalf("backdate connection %s: %v", conn, err)
	}
}
