package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// pageHelpers runs in every document the tabs load, before the app's own
// scripts (DevTools-injected, so the page's CSP does not apply). It only
// watches: it records each status a message item was drawn with, keyed by
// the message's text, so a test can see "sending" turn into "sent" however
// fast the server answers; it notes the page's requests (method and path),
// the sockets it opens, and the browser notifications it shows or asks
// permission for; and it gives the tests short names for reading the page.
const pageHelpers = `(() => {
  const seen = new Map(); // message text -> the statuses it was drawn with, in order
  const textOf = (li) => {
    const el = li.querySelector('[data-testid="message-text"]');
    return el ? el.textContent : '';
  };
  const record = (node) => {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const items = node.matches('[data-testid="message-item"]') ? [node] : node.querySelectorAll('[data-testid="message-item"]');
    for (const li of items) {
      const text = textOf(li);
      const list = seen.get(text) || [];
      if (list[list.length - 1] !== li.dataset.status) list.push(li.dataset.status);
      seen.set(text, list);
    }
  };
  // Every connection state the top bar showed, with its unsent count, so a
  // state that lasts a moment is not missed.
  const connections = [];
  const noteConnection = () => {
    const el = document.querySelector('[data-testid="connection-state"]');
    const unsent = document.querySelector('[data-testid="unsent-count"]');
    if (!el) return;
    const entry = { state: el.dataset.state || '', unsent: unsent && !unsent.hidden ? unsent.dataset.count : '0', text: el.textContent };
    const last = connections[connections.length - 1];
    if (!last || last.state !== entry.state || last.unsent !== entry.unsent) connections.push(entry);
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') noteConnection();
      else for (const n of m.addedNodes) record(n);
    }
  }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-state', 'data-count', 'hidden'] });

  const requests = []; // {method, path, body}
  const realFetch = window.fetch;
  window.fetch = function (input, init) {
    try {
      const url = new URL(typeof input === 'string' ? input : input.url, location.href);
      const entry = { method: (init && init.method) || 'GET', path: url.pathname, body: (init && typeof init.body === 'string') ? init.body : '', status: 0 };
      requests.push(entry);
      return realFetch.apply(this, arguments).then((res) => {
        entry.status = res.status;
        return res;
      });
    } catch (e) { /* only watching */ }
    return realFetch.apply(this, arguments);
  };
  const sockets = [];
  const userFrames = []; // room_summary and room_removed, as they came
  const RealWebSocket = window.WebSocket;
  window.WebSocket = class extends RealWebSocket {
    constructor(...args) {
      super(...args);
      sockets.push(this);
      this.addEventListener('message', (e) => {
        try {
          const f = JSON.parse(e.data);
          if (f.type === 'room_summary' || f.type === 'room_removed') userFrames.push(f);
        } catch (err) { /* only watching */ }
      });
    }
  };
  const notifications = []; // {title, body}
  let permissionAsks = 0;
  if (window.Notification) {
    const RealNotification = window.Notification;
    const Watched = class extends RealNotification {
      constructor(title, options) {
        notifications.push({ title: String(title), body: String((options && options.body) || '') });
        super(title, options);
      }
    };
    Watched.requestPermission = function (...args) {
      permissionAsks++;
      return RealNotification.requestPermission(...args);
    };
    window.Notification = Watched;
  }

  const q = (id) => document.querySelector('[data-testid="' + id + '"]');
  const all = (sel) => [...document.querySelectorAll(sel)];
  window.__e2e = {
    requests: (method, suffix) => requests.filter((r) => r.method === method && r.path.endsWith(suffix)),
    requestCount: () => requests.length,
    failedRequests: () => requests.filter((r) => r.status >= 400).map((r) => r.status + ' ' + r.method + ' ' + r.path),
    // The newest open socket of the page, for sending a frame as a stale client would.
    socket: () => [...sockets].reverse().find((ws) => ws.readyState === 1) || null,
    notifications: () => notifications.slice(),
    userFrames: () => userFrames.slice(),
    connections: () => connections.slice(),
    // Make the open sockets go quiet, as a connection that died without
    // closing does: what the page sends goes nowhere, nothing comes in.
    silence: () => {
      for (const ws of sockets) {
        ws.send = () => {};
        ws.onmessage = null;
      }
    },
    permissionAsks: () => permissionAsks,
    // The join/leave lines a person sees (collapsed runs, flaps hidden).
    presence: () => all('[data-testid="announcement"]:not([hidden]) [data-testid="announcement-text"]').map((el) => el.textContent),
    roomItem: (id) => document.querySelector('[data-testid="room-list-item"][data-room-id="' + id + '"]'),
    badges: (id) => {
      const a = document.querySelector('[data-testid="room-list-item"][data-room-id="' + id + '"]');
      if (!a) return null;
      const t = (tid) => { const el = a.querySelector('[data-testid="' + tid + '"]'); return el ? el.textContent : ''; };
      return { name: t('room-list-item-name'), unread: t('room-list-item-unread'), mentions: t('room-list-item-mentions'), kind: a.dataset.kind };
    },
    q,
    has: (id) => Boolean(q(id)),
    statuses: (text) => seen.get(text) || [],
    connection: () => (q('connection-state') ? q('connection-state').dataset.state : ''),
    user: () => {
      const el = document.querySelector('[data-testid="current-user"] .user-name');
      return el ? el.textContent : '';
    },
    rooms: () => all('[data-testid="room-list-item"]').map((a) => a.dataset.roomId),
    // Every line of the message list, in DOM order.
    timeline: () => all('[data-testid="message-list"] > li:not([data-testid="unread-divider"])').map((li) => ({
      testid: li.dataset.testid || '',
      seq: Number(li.dataset.seq || 0),
      type: li.dataset.type || '',
      user: li.dataset.username || li.dataset.author || '',
      status: li.dataset.status || '',
      text: li.dataset.testid === 'message-item' ? textOf(li) : li.textContent,
    })),
    messages: (text) => all('[data-testid="message-item"]').filter((li) => textOf(li) === text),
    announced: (type, user) => all('[data-testid="announcement"][data-type="' + type + '"][data-username="' + user + '"]')
      .map((el) => Number(el.dataset.seq)),
  };
})();`

// installHelpers makes every document of the tab get pageHelpers.
func (b *browser) installHelpers() {
	b.t.Helper()
	b.do("install the page helpers", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageHelpers})
		return err
	}))
}

// line is one entry of the message list as the page shows it.
type line struct {
	TestID string `json:"testid"`
	Seq    int64  `json:"seq"`
	Type   string `json:"type"`
	User   string `json:"user"`
	Status string `json:"status"`
	Text   string `json:"text"`
}

func (l line) String() string {
	return fmt.Sprintf("%d %s %s %s %s %q", l.Seq, l.TestID, l.Type, l.User, l.Status, l.Text)
}

func (b *browser) timeline() []line {
	b.t.Helper()
	return eval[[]line](b, `__e2e.timeline()`)
}

// checkSeqOrder fails unless the confirmed lines have strictly increasing
// seqs in DOM order (so no seq shows twice) and pending ones come last.
func (b *browser) checkSeqOrder(what string) []line {
	b.t.Helper()
	lines := b.timeline()
	var last int64
	pending := false
	for _, l := range lines {
		if l.Seq == 0 {
			pending = true
			continue
		}
		if pending || l.Seq <= last {
			b.fatalf("%s: the message list is out of seq order or repeats a seq at %v:\n%s", what, l, joinLines(lines))
		}
		last = l.Seq
	}
	return lines
}

func joinLines(lines []line) string {
	var out strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&out, "    %v\n", l)
	}
	return out.String()
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	raw, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(raw)
}

// css selects by data-testid.
func css(testid string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="` + testid + `"]`)
}

// connected waits until the socket is open.
func (b *browser) connected() {
	b.t.Helper()
	b.waitFor("the connection state is connected", `__e2e.connection() === 'connected'`)
}

// signUp creates the account through the login page.
func (b *browser) signUp(username, password string) {
	b.t.Helper()
	b.waitFor("the login page shows", `__e2e.has('login-view')`)
	b.do("open the sign-up tab", chromedp.Click(css("auth-tab-signup")))
	b.waitFor("the form is in sign-up mode", `__e2e.q('auth-form').dataset.mode === 'signup'`)
	b.do("fill in and submit the sign-up form",
		chromedp.SendKeys(chromedp.CSS(`input[data-testid="auth-username"]`), username),
		chromedp.SendKeys(chromedp.CSS(`input[data-testid="auth-password"]`), password),
		chromedp.Click(css("auth-submit")),
	)
	b.waitFor("the shell shows "+username+" signed in", `__e2e.has('app-shell') && __e2e.user() === `+js(username))
	b.connected()
}

// send types a message in the composer and presses Enter, then waits until
// it is confirmed (data-status sent, with a seq) after having shown as
// sending. It returns the message's seq.
func (b *browser) send(text string) int64 {
	b.t.Helper()
	b.do("type "+text+" and press Enter", chromedp.SendKeys(css("chat-input"), text), pressEnter)
	b.waitFor("own message "+js(text)+" is confirmed",
		`(() => { const m = __e2e.messages(`+js(text)+`); return m.length === 1 && m[0].dataset.status === 'sent' && Number(m[0].dataset.seq) > 0; })()`)
	statuses := eval[[]string](b, `__e2e.statuses(`+js(text)+`)`)
	if !slices.Equal(statuses, []string{"sending", "sent"}) {
		b.fatalf("own message %q went through the statuses %q, want [sending sent]", text, statuses)
	}
	if v := eval[string](b, `__e2e.q('chat-input').value`); v != "" {
		b.fatalf("the composer still holds %q after sending", v)
	}
	return eval[int64](b, `Number(__e2e.messages(`+js(text)+`)[0].dataset.seq)`)
}

// pressEnter presses Enter in the focused element as a person does: a
// keydown and a keyup. SendKeys("\n") would also send a char event, which
// CDP delivers even when the page cancelled the keydown (a real keyboard's
// would not be), and it would leave a new line in the composer.
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		}); err != nil {
			return err
		}
	}
	return nil
})

// sees waits until the message from author shows exactly once, confirmed,
// and returns its seq.
func (b *browser) sees(author, text string) int64 {
	b.t.Helper()
	b.waitFor(author+"'s message "+js(text)+" shows",
		`__e2e.messages(`+js(text)+`).some((li) => li.dataset.author === `+js(author)+` && li.dataset.status === 'sent' && Number(li.dataset.seq) > 0)`)
	return b.exactlyOnce(text)
}

// exactlyOnce fails unless the message shows once; it returns its seq.
func (b *browser) exactlyOnce(text string) int64 {
	b.t.Helper()
	var n int
	var seq int64
	for _, l := range b.timeline() {
		if l.TestID == "message-item" && l.Text == text {
			n++
			seq = l.Seq
		}
	}
	if n != 1 {
		b.fatalf("message %q shows %d times, want once", text, n)
	}
	return seq
}
