package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestSmallerItems: the sign-up page reports a bad name and a short
// password together; a grouped follow-up shows its time on hover;
// Settings opened from the keyboard takes the focus, and gives it back
// when closed; a half-typed message survives being removed from the room.
func TestSmallerItems(t *testing.T) {
	s := newScene(t, 90*time.Second)
	s.people("alice", "bob")
	room := s.room("alice", "Garden", "bob")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]

	// 1. Sign-up errors, both at once, before anything is sent. (bob's
	// browser is logged in: this is a third, fresh one.)
	carol := newBrowser(t, s.ctx, "carol")
	startAll(t, carol)
	carol.installHelpers()
	carol.do("open the app", chromedp.Navigate(s.e.URL+"/"))
	carol.waitFor("the login page shows", `__e2e.has('login-view')`)
	carol.do("open the sign-up tab", chromedp.Click(css("auth-tab-signup")))
	carol.do("fill in a bad name and a short password and submit",
		chromedp.SendKeys(chromedp.CSS(`input[data-testid="auth-username"]`), "Carol Smith!"),
		chromedp.SendKeys(chromedp.CSS(`input[data-testid="auth-password"]`), "short"),
		chromedp.Click(css("auth-submit")),
	)
	carol.waitFor("both fields say what is wrong",
		`!__e2e.q('auth-username-error').hidden && __e2e.q('auth-username-error').textContent.includes('3–32') && !__e2e.q('auth-password-error').hidden && __e2e.q('auth-password-error').textContent.includes('8–128')`)
	if n := eval[int](carol, `__e2e.requests('POST', '/auth/signup').length`); n != 0 {
		carol.fatalf("the form sent %d sign-ups with known-bad fields", n)
	}
	if id := eval[string](carol, activeTestID); id != "auth-username" {
		carol.fatalf("the focus is on %q, want the first bad field", id)
	}
	s.checkConsole(nil, carol)

	// 2. Hover time on a grouped follow-up.
	alice.openRoom(room)
	bob.openRoom(room)
	alice.send("Tomatoes are in")
	second := alice.send("And the basil")
	follow := msgSel(second)
	bob.waitFor("the follow-up is grouped under the first", `(() => { const m = document.querySelector(`+js(follow)+`); return m && m.classList.contains('msg--cont'); })()`)
	hoverTime := follow + ` [data-testid="message-hover-time"]`
	bob.hover(`[data-testid="chat-form"]`)
	if v := eval[string](bob, `getComputedStyle(document.querySelector(`+js(hoverTime)+`)).visibility`); v != "hidden" {
		bob.fatalf("the follow-up's time shows without a hover (visibility %s)", v)
	}
	bob.hover(follow)
	bob.waitFor("the time shows on hover", `getComputedStyle(document.querySelector(`+js(hoverTime)+`)).visibility === 'visible' && document.querySelector(`+js(hoverTime)+`).textContent !== ''`)
	title := eval[string](bob, `document.querySelector(`+js(hoverTime)+`).title`)
	year := time.Now().Format("2006")
	if !strings.Contains(title, year) {
		bob.fatalf("the hover time's title is %q, want the full date", title)
	}

	// 3. Settings from the keyboard: the focus goes in, and comes back.
	bob.do("focus Settings and press Enter", chromedp.Focus(css("chat-settings")), chromedp.KeyEvent(kb.Enter))
	bob.waitFor("the focus is in the settings view", `__e2e.has('settings-view') && __e2e.q('settings-view').contains(document.activeElement) && document.activeElement === __e2e.q('settings-room-name')`)
	bob.do("focus Back and press Enter", chromedp.Focus(css("settings-back")), chromedp.KeyEvent(kb.Enter))
	bob.waitFor("the focus is back on Settings", `__e2e.has('chat-view') && document.activeElement === __e2e.q('chat-settings')`)

	// 4. bob is halfway through a message when alice removes him.
	const draft = "I was going to say the courgettes are"
	bob.do("type without sending", chromedp.Focus(css("chat-input")), chromedp.SendKeys(css("chat-input"), draft))
	req, err := http.NewRequestWithContext(s.ctx, http.MethodDelete, s.e.URL+"/api/rooms/"+url.PathEscape(room)+"/members/bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.api["alice"].Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("alice removes bob: HTTP %d", res.StatusCode)
	}
	bob.waitFor("bob is told, and his text is kept", `__e2e.has('home-view') && __e2e.has('draft-notice') && __e2e.q('draft-text').value === `+js(draft))
	notices := eval[[]string](bob, `[...document.querySelectorAll('[data-testid="notice"]')].map((n) => n.textContent)`)
	if !slices.ContainsFunc(notices, func(n string) bool { return strings.Contains(n, "removed") && strings.Contains(n, "kept") }) {
		bob.fatalf("no notice says he was removed and his text is kept: %q", notices)
	}
	bob.do("dismiss", chromedp.Click(css("draft-dismiss")))
	bob.waitFor("the kept text is gone", `!__e2e.has('draft-notice')`)
	s.checkConsole(nil, alice, bob)
}
