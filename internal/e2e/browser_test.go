package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium (package chromium).
const chromiumPath = "/usr/bin/chromium"

const installHint = "install it with: apt-get update && apt-get install -y chromium"

// stepTimeout bounds one wait for the page; the test's own deadline bounds
// the whole run.
const stepTimeout = 30 * time.Second

// requireChromium skips the test when Chromium is missing, or fails it when
// the environment variable CI is true.
func requireChromium(t *testing.T) {
	t.Helper()
	info, err := os.Stat(chromiumPath)
	if err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
		return
	}
	msg := fmt.Sprintf("e2e: no Chromium at %s (%v); %s", chromiumPath, err, installHint)
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// allocatorOptions start Chromium headless with a profile of its own and
// nothing that talks to the network by itself (background fetches,
// component updates, sync, QUIC), so the only traffic is the test's.
// chromedp.DefaultExecAllocatorOptions is not used: it brings two dozen
// flags of its own. chromedp adds --remote-debugging-pipe and the first
// page, about:blank; no debugging port is opened.
func allocatorOptions(userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(userDataDir),
	}
}

// browser is one person's Chromium: a process of its own with a profile of
// its own (so localStorage is not shared), and one tab.
type browser struct {
	t    *testing.T
	name string
	ctx  context.Context // the tab

	mu       sync.Mutex
	dialogs  []string // JavaScript dialogs that opened (and were dismissed)
	problems []string // uncaught exceptions and console errors
}

// newBrowser prepares a browser; start launches it. The browser is closed,
// and every process it started is gone, when the test ends.
func newBrowser(t *testing.T, parent context.Context, name string) *browser {
	t.Helper()
	dir := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, allocatorOptions(dir)...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{t: t, name: name, ctx: ctx}
	t.Cleanup(func() {
		// Ask politely, then make sure: cancelAlloc kills the process if it
		// is still there and waits for it.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = chromedp.Cancel(ctx)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Logf("%s: chromium did not close within 10s; killing it", name)
		}
		cancelTab()
		cancelAlloc()
		if n := reapLeftovers(dir); n > 0 {
			t.Logf("%s: killed %d chromium helper processes left behind", name, n)
		}
	})
	return b
}

// start launches Chromium and opens the tab. It may run in parallel with
// another browser's start.
func (b *browser) start() error {
	if err := chromedp.Do(b.ctx); err != nil {
		return fmt.Errorf("%s: start chromium: %w", b.name, err)
	}
	// Subscribe before anything can open a dialog. A dialog left open
	// would block the page, so each one is dismissed.
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, fmt.Sprintf("%s(%q)", ev.Type, ev.Message))
			b.mu.Unlock()
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	console := chromedp.Console(b.ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return nil
}

// startAll launches the browsers in parallel: each Chromium start can take
// seconds on a loaded machine.
func startAll(t *testing.T, browsers ...*browser) {
	t.Helper()
	errs := make([]error, len(browsers))
	var wg sync.WaitGroup
	for i, b := range browsers {
		wg.Go(func() { errs[i] = b.start() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func (b *browser) dialogsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

func (b *browser) problemsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// stepCtx bounds one step.
func (b *browser) stepCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// do runs actions; on an error the test fails with what the page shows.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// waitFor polls a JavaScript expression until it is truthy.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(25*time.Millisecond),
		chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		b.fatalf("waiting until %s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into a T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// fatalf fails the test with the page's state, for a precise report.
func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	b.t.Fatalf("%s: %s\n%s", b.name, fmt.Sprintf(format, args...), b.describe())
}

// describe summarizes what the page shows.
func (b *browser) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](describeJS))
	var out strings.Builder
	if err != nil {
		fmt.Fprintf(&out, "  (page state unavailable: %v)\n", err)
	} else {
		var pretty bytes.Buffer
		if json.Indent(&pretty, state, "  ", "  ") == nil {
			state = pretty.Bytes()
		}
		fmt.Fprintf(&out, "  page: %s\n", state)
	}
	if d := b.dialogsSeen(); len(d) > 0 {
		fmt.Fprintf(&out, "  dialogs: %q\n", d)
	}
	if p := b.problemsSeen(); len(p) > 0 {
		fmt.Fprintf(&out, "  console: %q\n", p)
	}
	return out.String()
}

const describeJS = `(() => {
  const q = (id) => document.querySelector('[data-testid="' + id + '"]');
  const text = (el) => el ? el.textContent.trim().replace(/\s+/g, ' ').slice(0, 200) : null;
  return {
    url: location.href,
    user: text(q('current-user')),
    connection: q('connection-state') ? q('connection-state').dataset.state : null,
    views: ['login-view', 'home-view', 'chat-view', 'settings-view', 'fatal-view'].filter((id) => q(id)),
    errors: [...document.querySelectorAll('[data-testid$="-error"]:not([hidden]), [data-testid="notice"]')].map(text).filter(Boolean),
    rooms: [...document.querySelectorAll('[data-testid="room-list-item"]')].map(text),
    timeline: [...document.querySelectorAll('[data-testid="message-list"] > li')].map((li) =>
      [li.dataset.seq || '-', li.dataset.testid, li.dataset.status || li.dataset.type || '', text(li)].join(' | ')),
  };
})()`

// setOnline turns the tab's network on or off, as a lost connection
// would: navigator.onLine and the online/offline events follow, and no
// request (WebSocket handshakes included) gets through while off.
func (b *browser) setOnline(online bool) {
	b.t.Helper()
	b.do(fmt.Sprintf("set the network online=%v", online), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		rule := &network.Conditions{Offline: !online, DownloadThroughput: -1, UploadThroughput: -1}
		if _, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{rule},
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: !online, DownloadThroughput: -1, UploadThroughput: -1,
		})
		return err
	}))
}

// screenshot saves what the tab shows as name.png in each of dirs, and logs
// where.
func (b *browser) screenshot(dirs []string, name string) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		b.t.Logf("screenshot: %s", path)
	}
}

// reapLeftovers waits for the processes Chromium started with the profile
// dir to end, killing those still there after a moment, so the profile can
// be removed. It returns how many it killed. Each process is found by the
// --user-data-dir= of this browser alone, which every Chromium process
// carries on its command line.
func reapLeftovers(dir string) int {
	want := []byte("--user-data-dir=" + dir)
	find := func() []int {
		entries, _ := os.ReadDir("/proc")
		var pids []int
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					pids = append(pids, pid)
					break
				}
			}
		}
		return pids
	}
	killed := 0
	graceUntil := time.Now().Add(2 * time.Second)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pids := find()
		if len(pids) == 0 {
			return killed
		}
		if time.Now().After(graceUntil) {
			for _, pid := range pids {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}
	}
	return killed
}
