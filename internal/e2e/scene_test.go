package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatroom/chat/internal/chatclient"
	"github.com/chatroom/chat/internal/emulator"
)

// scene is one feature test's world: the emulator, the people (accounts
// made over the API, which is quicker than the sign-up page and not what
// these tests are about) and their browsers.
type scene struct {
	t     *testing.T
	ctx   context.Context
	e     *emulator.Emulator
	shots []string
	api   map[string]*chatclient.Client
}

// newScene starts the emulator; the test has budget to run in all.
func newScene(t *testing.T, budget time.Duration) *scene {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: a browser test; skipped with -short")
	}
	requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	t.Cleanup(cancel)
	return &scene{t: t, ctx: ctx, e: startEmulator(t), shots: screenshotDirs(t), api: map[string]*chatclient.Client{}}
}

// people signs each name up over the API.
func (s *scene) people(names ...string) {
	s.t.Helper()
	for _, name := range names {
		c, err := chatclient.SignUp(s.ctx, http.DefaultClient, s.e.URL, name, password)
		if err != nil {
			s.t.Fatalf("sign up %s: %v", name, err)
		}
		s.api[name] = c
	}
}

// room creates a room owned by owner with members, over the API.
func (s *scene) room(owner, name string, members ...string) string {
	s.t.Helper()
	r, err := s.api[owner].CreateRoom(s.ctx, name, members)
	if err != nil {
		s.t.Fatalf("%s creates %q: %v", owner, name, err)
	}
	return r.RoomID
}

// browsers starts one Chromium per name, in parallel, each at a desktop
// size with the page helpers, logged in as that person and connected.
func (s *scene) browsers(names ...string) []*browser {
	s.t.Helper()
	bs := make([]*browser, len(names))
	for i, name := range names {
		bs[i] = newBrowser(s.t, s.ctx, name)
	}
	startAll(s.t, bs...)
	for _, b := range bs {
		b.do("set a desktop viewport", chromedp.EmulateViewport(1280, 800))
		b.installHelpers()
		s.logIn(b)
	}
	for _, b := range bs {
		b.connected()
	}
	return bs
}

// logIn opens a session for b's person over the API and gives the page its
// token, as the login page would have stored it, then opens the app.
func (s *scene) logIn(b *browser) {
	s.t.Helper()
	c, err := chatclient.LogIn(s.ctx, http.DefaultClient, s.e.URL, b.name, password)
	if err != nil {
		s.t.Fatalf("log %s in: %v", b.name, err)
	}
	// The login page first (a page of the app's origin whose icon exists;
	// config.json would make the browser ask for a missing /favicon.ico).
	b.do("open the login page", chromedp.Navigate(s.e.URL+"/#/login"))
	b.waitFor("the login page shows", `__e2e.has('login-view')`)
	b.do("store the session and open the app",
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('chat.token', `+js(c.Token)+`); localStorage.setItem('chat.username', `+js(c.Username)+`)`),
		chromedp.Navigate(s.e.URL+"/#/"),
		chromedp.Reload(),
	)
	b.waitFor(b.name+" is signed in", `__e2e.has('app-shell') && __e2e.user() === `+js(b.name))
}

// checkConsole fails the test for every console error or exception a
// browser logged, except those allow says are expected.
func (s *scene) checkConsole(allow func(b *browser, msg string) bool, bs ...*browser) {
	s.t.Helper()
	for _, b := range bs {
		failed := false
		for _, p := range b.problemsSeen() {
			if allow != nil && allow(b, p) {
				continue
			}
			s.t.Errorf("%s's console: %s", b.name, p)
			failed = true
		}
		if failed {
			s.t.Logf("%s's refused requests: %q", b.name, eval[[]string](b, `__e2e.failedRequests()`))
		}
	}
}

// openRoom clicks the room in the list and waits for its chat to show
// joined (its history drawn).
func (b *browser) openRoom(roomID string) {
	b.t.Helper()
	b.do("open the room from the list", chromedp.Evaluate[chromedp.Void](`__e2e.roomItem(`+js(roomID)+`).click()`))
	b.waitFor("the room opens", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId === `+js(roomID)+` && !__e2e.q('history-status').textContent.includes('Loading')`)
}

// waitRoomItem waits until the room shows in the list.
func (b *browser) waitRoomItem(roomID string) {
	b.t.Helper()
	b.waitFor("the room shows in the list", `__e2e.roomItem(`+js(roomID)+`) !== null`)
}

// goHome follows the brand link back to the room list.
func (b *browser) goHome() {
	b.t.Helper()
	b.do("go back to the list", chromedp.Evaluate[chromedp.Void](`location.hash = '#/'`))
	b.waitFor("the home view shows", `__e2e.has('home-view') && !__e2e.has('chat-view')`)
}

// newTab opens a second tab in b's browser (same profile, so the same
// session) at the app. The first tab becomes hidden, as when a person
// switches tabs.
func (b *browser) newTab(url string, width, height int64) *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewWindow(false))
	b.t.Cleanup(cancel)
	tab := &browser{t: b.t, name: b.name + " (second tab)", ctx: ctx}
	if err := tab.start(); err != nil {
		b.t.Fatal(err)
	}
	tab.do("set the viewport", chromedp.EmulateViewport(width, height))
	tab.installHelpers()
	tab.do("open the app", chromedp.Navigate(url))
	tab.waitFor("the app shows signed in", `__e2e.has('app-shell') && __e2e.user() === `+js(b.name))
	return tab
}

// bringToFront makes b's tab the visible one again.
func (b *browser) bringToFront() {
	b.t.Helper()
	b.do("bring the tab to the front", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.BringToFront, cdp.Empty{})
		return err
	}))
	b.waitFor("the page is visible", `document.visibilityState === 'visible'`)
}

// grantNotifications answers "allow" for the app's origin from now on,
// as a person would in the browser's prompt.
func (b *browser) grantNotifications(origin string) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	_, err := cdp.Call(ctx, chromedp.FromContext(b.ctx).Browser, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"},
		Setting:    cdpbrowser.PermissionSettingGranted,
		Origin:     origin,
	})
	if err != nil {
		b.fatalf("grant notifications: %v", err)
	}
}

// hover moves the mouse over the element, as a pointer would.
func (b *browser) hover(selector string) {
	b.t.Helper()
	at := eval[[]float64](b, `(() => { const el = document.querySelector(`+js(selector)+`); el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	b.do("move the mouse over "+selector, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, at[0], at[1]))
}

// press sends one key to the focused element (keydown and keyup).
func press(key, code string, keyCode int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: keyCode, NativeVirtualKeyCode: keyCode,
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

var (
	pressArrowUp   = press("ArrowUp", "ArrowUp", 38)
	pressArrowDown = press("ArrowDown", "ArrowDown", 40)
	pressEscape    = press("Escape", "Escape", 27)
)

// activeTestID is the data-testid of the focused element (or of its
// nearest marked ancestor).
const activeTestID = `(() => { const el = document.activeElement && document.activeElement.closest('[data-testid]'); return el ? el.dataset.testid : ''; })()`

// msgSel selects the message item showing text (or, once deleted, by seq).
func msgSel(seq int64) string {
	return fmt.Sprintf(`[data-testid="message-item"][data-seq="%d"]`, seq)
}

// allowOffline lets through the console errors of requests a browser
// refused while its network was off.
func allowOffline(_ *browser, msg string) bool {
	return strings.Contains(msg, "net::ERR_INTERNET_DISCONNECTED")
}
