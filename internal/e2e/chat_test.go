package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
)

const password = "correct horse battery"

func startEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	return emulatortest.Start(t, emulator.Options{Store: "bolt"})
}

// screenshotDirs are where the screenshots go: E2E_SCREENSHOTS (default a
// temporary directory), and testdata/screenshots too with
// E2E_UPDATE_SCREENSHOTS=1.
func screenshotDirs(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("E2E_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dirs := []string{dir}
	if os.Getenv("E2E_UPDATE_SCREENSHOTS") == "1" {
		update := filepath.Join("testdata", "screenshots")
		if err := os.MkdirAll(update, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, update)
	}
	return dirs
}

// connectionsOf lists the open sockets of a user, as the store knows them.
func connectionsOf(t *testing.T, e *emulator.Emulator, username string) []string {
	t.Helper()
	var ids []string
	for _, id := range e.Gateway.ConnectionIDs() {
		c, err := e.Store.Connection(context.Background(), id)
		if err == nil && c.Username == username {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestChatInTheBrowser is the "done when": two people in two
// browsers sign up, share a room, talk, come and go, reload, lose the
// connection and get back what they missed, and markup stays text.
func TestChatInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: a browser test; skipped with -short")
	}
	requireChromium(t)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	e := startEmulator(t)
	shots := screenshotDirs(t)
	alice := newBrowser(t, ctx, "alice")
	bob := newBrowser(t, ctx, "bob")
	startAll(t, alice, bob)
	t.Logf("two chromiums up in %v", time.Since(began).Round(time.Millisecond))
	lap := func(step string) { t.Logf("%-44s done at %v", step, time.Since(began).Round(time.Millisecond)) }

	for _, b := range []*browser{alice, bob} {
		b.do("set a desktop viewport", chromedp.EmulateViewport(1280, 800))
		b.installHelpers()
		// The dialog watch must work, or step 7 would prove nothing.
		b.do("open a probe dialog", chromedp.Evaluate[chromedp.Void](`setTimeout(() => alert('e2e-probe'), 0)`))
		waitUntil(t, b, "the probe dialog is seen", func() bool { return len(b.dialogsSeen()) == 1 })
		b.do("open the app", chromedp.Navigate(e.URL+"/"))
	}

	// 1. Both sign up through the UI.
	alice.waitFor("the login page shows", `__e2e.has('login-view') && __e2e.q('auth-submit').textContent !== ''`)
	alice.screenshot(shots, "1-login")
	alice.signUp("alice", password)
	bob.signUp("bob", password)
	lap("1. sign up")

	// 2. alice creates a room with bob through the form and lands in it.
	const roomName = "Weekend plans"
	alice.do("fill in and submit the create-room form",
		chromedp.SendKeys(css("create-room-name"), roomName),
		chromedp.SendKeys(css("create-room-members"), "bob"),
		chromedp.Click(css("create-room-submit")),
	)
	alice.waitFor("the new room opens", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId && location.hash === '#/rooms/' + encodeURIComponent(__e2e.q('chat-view').dataset.roomId)`)
	room := eval[string](alice, `__e2e.q('chat-view').dataset.roomId`)
	alice.waitFor("the room's name shows", `__e2e.q('chat-room-name').textContent === `+js(roomName)+` && __e2e.rooms().includes(`+js(room)+`)`)
	// bob's open page hears of the room from the server (a room_summary
	// user frame); TestAddedRoomAppearsLive times it.
	itemSel := `[data-testid="room-list-item"][data-room-id="` + room + `"]`
	bob.waitFor("bob's room list shows the room", `(() => { const a = document.querySelector(`+js(itemSel)+`); return a && a.querySelector('[data-testid="room-list-item-name"]').textContent === `+js(roomName)+` && a.dataset.role === 'member'; })()`)
	bob.screenshot(shots, "2-room-list")
	bob.do("open the room from the list", chromedp.Click(chromedp.CSS(itemSel)))
	bob.waitFor("the room opens", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId === `+js(room))
	lap("2. create and open the room")

	// 4 (first half). Each sees the other's join: alice live, bob in the
	// history.
	alice.waitFor("alice sees bob join", `__e2e.announced('user_joined', 'bob').length === 1`)
	bob.waitFor("bob sees alice's join", `__e2e.announced('user_joined', 'alice').length === 1`)
	for _, b := range []*browser{alice, bob} {
		b.waitFor("both are online", `[...document.querySelectorAll('[data-testid="online-user"]')].map((li) => li.dataset.username).sort().join() === 'alice,bob'`)
	}

	// 3. Messages both ways, typed and sent with Enter.
	talk := []struct {
		from, to *browser
		text     string
	}{
		{alice, bob, "Hi Bob! Are you free on Saturday?"},
		{bob, alice, "Hi Alice, yes, all day."},
		{alice, bob, "Great. Hiking at the lake?"},
		{bob, alice, "Sounds good. I'll bring sandwiches 🥪"},
		{alice, bob, "Perfect, see you at 9 at the station."},
		{bob, alice, "See you there!"},
	}
	for _, m := range talk {
		m.from.send(m.text)
		m.to.sees(m.from.name, m.text)
	}
	alice.checkSeqOrder("after the exchange")
	bob.checkSeqOrder("after the exchange")
	lap("3. exchange messages")

	// 4. bob goes back (the browser's Back button; chat-back is for the
	// phone layout): alice sees him leave. He comes back from the list.
	bob.do("press the browser's Back button", goBack)
	bob.waitFor("the home view shows", `__e2e.has('home-view') && !__e2e.has('chat-view')`)
	alice.waitFor("alice sees bob leave", `__e2e.announced('user_left', 'bob').length === 1`)
	alice.waitFor("bob is no longer online", `![...document.querySelectorAll('[data-testid="online-user"]')].some((li) => li.dataset.username === 'bob')`)
	bob.do("reopen the room", chromedp.Click(chromedp.CSS(itemSel)))
	bob.waitFor("the room opens again", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId === `+js(room))
	alice.waitFor("alice sees bob join again", `__e2e.announced('user_joined', 'bob').length === 2`)
	bob.waitFor("bob sees his own return", `__e2e.announced('user_joined', 'bob').length === 2`)
	bob.checkSeqOrder("after bob's return")
	lap("4. leave and come back")

	// 5. bob reloads: the history comes back, scrolled to the newest. (A
	// shorter window, so that the history, its join and leave lines
	// collapsed, still overflows it and the scroll check means something.)
	bob.do("set a shorter viewport", chromedp.EmulateViewport(1280, 560))
	bob.do("reload", chromedp.Reload())
	bob.waitFor("the room opens after the reload", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId === `+js(room)+` && __e2e.connection() === 'connected'`)
	for _, m := range talk {
		bob.sees(m.from.name, m.text)
	}
	bob.checkSeqOrder("after the reload")
	bob.waitFor("the message list is scrolled to the newest", atBottom)
	scroll := eval[map[string]float64](bob, `(() => {
		const s = __e2e.q('message-scroller');
		const items = document.querySelectorAll('[data-testid="message-item"]');
		const last = items[items.length - 1].getBoundingClientRect(), box = s.getBoundingClientRect();
		return {scrollTop: s.scrollTop, clientHeight: s.clientHeight, scrollHeight: s.scrollHeight, lastTop: last.top, lastBottom: last.bottom, boxTop: box.top, boxBottom: box.bottom};
	})()`)
	t.Logf("bob's message list after the reload: %v", scroll)
	if scroll["scrollHeight"] <= scroll["clientHeight"] {
		t.Errorf("the history does not overflow the message list (%v): the scroll check proves nothing", scroll)
	}
	if scroll["lastTop"] < scroll["boxTop"]-1 || scroll["lastBottom"] > scroll["boxBottom"]+1 {
		t.Errorf("the newest message is not in view after the reload: %v", scroll)
	}
	lap("5. reload")

	// 6. alice loses her connection: her network goes and the server closes
	// her socket. She stays away while bob sends three messages; when the
	// network is back she reconnects on her own and gets each exactly once.
	ids := connectionsOf(t, e, "alice")
	if len(ids) != 1 {
		t.Fatalf("alice has %d sockets open (%v), want 1", len(ids), ids)
	}
	// Without taking the network away the client is back within 0.25-0.5 s
	// (its first backoff), too soon for bob to type three messages. The
	// client drops its socket itself when the browser says it is offline;
	// the server closes it too, in case that close does not get through.
	alice.setOnline(false)
	for _, id := range ids {
		e.Gateway.CloseConnection(id)
	}
	alice.waitFor("alice's connection state shows the loss", `['reconnecting', 'offline'].includes(__e2e.connection())`)
	bob.waitFor("bob sees alice leave", `__e2e.announced('user_left', 'alice').length === 1`)
	missed := []string{"Alice, are you there?", "The forecast says rain 🌧", "Shall we go on Sunday instead?"}
	for _, text := range missed {
		bob.send(text)
	}
	if n := len(connectionsOf(t, e, "alice")); n != 0 {
		t.Fatalf("alice got %d sockets back while offline", n)
	}
	if state := eval[string](alice, `__e2e.connection()`); state != "reconnecting" && state != "offline" {
		alice.fatalf("alice's connection state is %q while offline", state)
	}
	for _, text := range missed {
		if n := eval[int](alice, `__e2e.messages(`+js(text)+`).length`); n != 0 {
			alice.fatalf("alice shows %q while offline", text)
		}
	}
	lastMissed := eval[int64](bob, `Number(__e2e.messages(`+js(missed[len(missed)-1])+`)[0].dataset.seq)`)
	alice.setOnline(true)
	alice.connected()
	// Her rejoin comes after everything she missed: once she sees it, the
	// history and any live repeats are in.
	alice.waitFor("alice sees her own rejoin", `__e2e.announced('user_joined', 'alice').some((seq) => seq > `+fmt.Sprint(lastMissed)+`)`)
	var seqs []int64
	for _, text := range missed {
		seqs = append(seqs, alice.sees("bob", text))
	}
	if !slices.IsSorted(seqs) || seqs[0] == seqs[1] || seqs[1] == seqs[2] {
		t.Errorf("the missed messages have seqs %v, want strictly increasing", seqs)
	}
	alice.checkSeqOrder("after the reconnect")
	bob.waitFor("bob sees alice come back", `__e2e.announced('user_joined', 'alice').length === 2`)
	lap("6. lose the connection and resume")

	// 7. Markup in a message is text: nothing runs, no element is made.
	hostile := []string{"<script>alert(1)</script><b>x</b>", `<img src=x onerror="alert(2)">`}
	for _, text := range hostile {
		alice.send(text)
		bob.sees("alice", text)
	}
	for _, b := range []*browser{alice, bob} {
		for _, text := range hostile {
			got := eval[string](b, `__e2e.messages(`+js(text)+`)[0].querySelector('[data-testid="message-text"]').textContent`)
			if got != text {
				b.fatalf("the message shows %q, want the literal %q", got, text)
			}
		}
		if n := eval[int](b, `document.querySelectorAll('[data-testid="message-list"] :is(b, script, img)').length`); n != 0 {
			b.fatalf("%d b/script/img elements were made inside the message list", n)
		}
		if d := b.dialogsSeen(); len(d) != 1 {
			b.fatalf("dialogs opened: %q, want only the probe's", d)
		}
	}
	lap("7. markup stays text")

	// 8. The chat, on a desktop and on a phone.
	alice.waitFor("the chat is scrolled to the newest", atBottom)
	alice.screenshot(shots, "3-chat")
	alice.do("set a phone viewport", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	alice.waitFor("the phone layout shows the chat", `__e2e.q('message-scroller').getBoundingClientRect().width <= 375 && getComputedStyle(__e2e.q('rooms-view')).display === 'none'`)
	// She was reading the newest messages: the narrower, shorter list keeps
	// them in view.
	alice.waitFor("the newest message stays in view on the phone", atBottom)
	alice.screenshot(shots, "4-chat-phone")
	lap("8. screenshots")

	// The page must not throw, nor log errors other than those of the
	// requests alice's browser refused while offline.
	for _, b := range []*browser{alice, bob} {
		for _, p := range b.problemsSeen() {
			if b == alice && strings.Contains(p, "net::ERR_INTERNET_DISCONNECTED") {
				continue
			}
			t.Errorf("%s's console: %s", b.name, p)
		}
	}
	t.Logf("the scenario took %v", time.Since(began).Round(time.Millisecond))
}

// atBottom is true when the message list shows its end: scrollTop +
// clientHeight is scrollHeight, give or take a rounding.
const atBottom = `(() => {
	const s = __e2e.q('message-scroller');
	return s.scrollHeight > 0 && Math.abs(s.scrollTop + s.clientHeight - s.scrollHeight) <= 2;
})()`

// goBack is the browser's Back button. (chromedp.NavigateBack waits for a
// load event, which a hash change does not bring.)
var goBack = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	h, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		return err
	}
	if h.CurrentIndex < 1 {
		return fmt.Errorf("no page to go back to: %d entries, at %d", len(h.Entries), h.CurrentIndex)
	}
	_, err = cdp.Call(ctx, t, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID})
	return err
})

// waitUntil polls a condition on the Go side.
func waitUntil(t *testing.T, b *browser, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.fatalf("waiting until %s: timed out after %v", what, stepTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
