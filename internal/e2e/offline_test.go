package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestOfflineQueue: alice's network goes. Within seconds her page says
// Offline and counts the messages she types as unsent; bob sees none of
// them. When the network is back she reconnects by herself and the
// queued messages arrive, each exactly once, in the order she typed them.
func TestOfflineQueue(t *testing.T) {
	s := newScene(t, 90*time.Second)
	s.people("alice", "bob")
	room := s.room("alice", "Commute", "bob")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]
	alice.openRoom(room)
	bob.openRoom(room)
	alice.send("Boarding the train")
	bob.sees("alice", "Boarding the train")

	// The network goes; the browser says so (the emulated state fires
	// "offline"; it is dispatched too, in case this Chromium does not).
	alice.setOnline(false)
	alice.do("tell the page it is offline", chromedp.Evaluate[chromedp.Void](`navigator.onLine || window.dispatchEvent(new Event('offline'))`))
	began := time.Now()
	alice.waitFor("the connection shows Offline", `__e2e.connection() === 'offline' && __e2e.q('connection-state').textContent.includes('Offline')`)
	queued := []string{"In the tunnel now", "Still in the tunnel"}
	for _, text := range queued {
		alice.do("type "+text+" and press Enter", chromedp.SendKeys(css("chat-input"), text), pressEnter)
	}
	alice.waitFor("two unsent messages are counted", `!__e2e.q('unsent-count').hidden && __e2e.q('unsent-count').dataset.count === '2' && __e2e.q('unsent-count').textContent.includes('2 unsent')`)
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Offline and the unsent count took %v to show, want a few seconds at most", d)
	}
	for _, text := range queued {
		if st := eval[string](alice, `__e2e.messages(`+js(text)+`)[0].dataset.status`); st != "sending" {
			alice.fatalf("%q is %q while offline, want sending (queued)", text, st)
		}
		if n := eval[int](bob, `__e2e.messages(`+js(text)+`).length`); n != 0 {
			bob.fatalf("bob sees %q while alice is offline", text)
		}
	}

	// Back online: she reconnects, and the queue goes out once.
	alice.setOnline(true)
	alice.do("tell the page it is online", chromedp.Evaluate[chromedp.Void](`navigator.onLine && window.dispatchEvent(new Event('online'))`))
	alice.connected()
	var seqs []int64
	for _, text := range queued {
		alice.waitFor(text+" is confirmed", `__e2e.messages(`+js(text)+`).length === 1 && __e2e.messages(`+js(text)+`)[0].dataset.status === 'sent'`)
		seqs = append(seqs, bob.sees("alice", text))
	}
	if seqs[0] >= seqs[1] {
		t.Errorf("the queued messages arrived with seqs %v, want the order they were typed in", seqs)
	}
	alice.waitFor("the unsent count is gone", `__e2e.q('unsent-count').hidden`)
	// Nothing comes twice later (a late repeat of a resend).
	bob.send("Welcome back")
	alice.sees("bob", "Welcome back")
	for _, text := range queued {
		bob.exactlyOnce(text)
		alice.exactlyOnce(text)
	}
	bob.checkSeqOrder("after the queue went out")
	alice.checkSeqOrder("after the queue went out")

	// A connection that dies without closing, and without the browser
	// noticing: the unanswered send gives it away within seconds, the page
	// says Offline with the count, opens a new socket and sends again.
	alice.do("silence alice's socket", chromedp.Evaluate[chromedp.Void](`__e2e.silence()`))
	const unanswered = "Can anyone hear me?"
	began = time.Now()
	alice.do("type and press Enter", chromedp.SendKeys(css("chat-input"), unanswered), pressEnter)
	alice.waitFor("the page said Offline with one unsent message", `__e2e.connections().some((c) => c.state === 'offline' && c.unsent === '1' && c.text.includes('Offline'))`)
	if d := time.Since(began); d > 8*time.Second {
		t.Errorf("the dead connection took %v to show, want about 5s", d)
	}
	alice.waitFor("the message is confirmed over a new socket", `__e2e.connection() === 'connected' && __e2e.messages(`+js(unanswered)+`).length === 1 && __e2e.messages(`+js(unanswered)+`)[0].dataset.status === 'sent'`)
	bob.sees("alice", unanswered)
	bob.send("Loud and clear")
	alice.sees("bob", "Loud and clear")
	bob.exactlyOnce(unanswered)
	s.checkConsole(allowOffline, bs...)
}
