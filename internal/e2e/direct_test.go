package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDirectMessages: alice starts a direct message from bob's name in a
// room's members; it opens, and both lists show it under the other
// person's name (bob's live, with a notice). bob starts one with carol
// from the list, is told when the name is his own or nobody's, and
// starting one with alice again opens the same conversation.
func TestDirectMessages(t *testing.T) {
	s := newScene(t, 2*time.Minute)
	s.people("alice", "bob", "carol")
	team := s.room("alice", "Team", "bob", "carol")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]
	bob.waitRoomItem(team)

	// 1. From the member list of a room.
	alice.openRoom(team)
	alice.do("open the settings", chromedp.Click(css("chat-settings")))
	alice.waitFor("bob's row offers Message", `document.querySelector(`+js(memberSel("bob")+` [data-testid="settings-member-message"]`)+`) !== null`)
	if n := eval[int](alice, `document.querySelectorAll(`+js(memberSel("alice")+` [data-testid="settings-member-message"]`)+`).length`); n != 0 {
		alice.fatalf("alice is offered to message herself")
	}
	alice.do("click Message on bob", chromedp.Click(chromedp.CSS(memberSel("bob")+` [data-testid="settings-member-message"]`)))
	alice.waitFor("the direct message opens, named bob", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.kind === 'direct' && __e2e.q('chat-room-name').textContent === 'bob' && __e2e.q('chat-room-meta').textContent === 'Direct message'`)
	dm := eval[string](alice, `__e2e.q('chat-view').dataset.roomId`)
	alice.waitFor("alice's list shows it under bob's name", `(() => { const x = __e2e.badges(`+js(dm)+`); return x && x.name === 'bob' && x.kind === 'direct'; })()`)
	bob.waitFor("bob's list shows it under alice's name, live", `(() => { const x = __e2e.badges(`+js(dm)+`); return x && x.name === 'alice' && x.kind === 'direct'; })()`)
	bob.waitFor("a notice tells bob", `[...document.querySelectorAll('[data-testid="notice"]')].some((n) => n.textContent.includes('alice started a direct message with you'))`)

	alice.waitFor("alice has joined it", `!__e2e.q('history-status').textContent.includes('Loading')`)
	alice.send("Got a minute? Just us.")
	bob.waitFor("bob's list counts it unread", `__e2e.badges(`+js(dm)+`).unread === '1'`)
	bob.openRoom(dm)
	bob.sees("alice", "Got a minute? Just us.")
	bob.send("Sure")
	alice.sees("bob", "Sure")
	bob.waitFor("the chat is at the bottom and the badge is gone", atBottom+` && __e2e.badges(`+js(dm)+`).unread === ''`)
	bob.screenshot(s.shots, "7-direct-message")
	// Nothing to manage in a direct room: no rename, no adding people.
	bob.do("open its settings", chromedp.Click(css("chat-settings")))
	bob.waitFor("the settings offer Leave only", `__e2e.has('settings-leave') && !__e2e.has('settings-rename-input') && !__e2e.has('settings-add-input') && !__e2e.has('settings-delete') && __e2e.q('settings-room-name').textContent === 'alice'`)

	// 2. From the list: mistakes first.
	startDM := func(name string) {
		t.Helper()
		bob.do("open New direct message", chromedp.Evaluate[chromedp.Void](`__e2e.q('dm-form').hidden && __e2e.q('new-dm').click()`))
		bob.waitFor("the form shows, focused", `!__e2e.q('dm-form').hidden && document.activeElement === __e2e.q('dm-username')`)
		bob.do("type "+name+" and submit",
			chromedp.Evaluate[chromedp.Void](`__e2e.q('dm-username').value = ''`),
			chromedp.SendKeys(css("dm-username"), name),
			chromedp.Click(css("dm-submit")),
		)
	}
	startDM("bob")
	bob.waitFor("he is told it is himself", `!__e2e.q('dm-username-error').hidden && __e2e.q('dm-username-error').textContent === "That's you. Type someone else's username."`)
	startDM("zed")
	bob.waitFor("he is told there is no zed", `!__e2e.q('dm-username-error').hidden && __e2e.q('dm-username-error').textContent === 'No one is called zed.'`)
	startDM("carol")
	bob.waitFor("the direct message with carol opens", `__e2e.has('chat-view') && __e2e.q('chat-room-name').textContent === 'carol' && __e2e.q('dm-form').hidden`)
	withCarol := eval[string](bob, `__e2e.q('chat-view').dataset.roomId`)
	bob.waitFor("his list shows it under carol's name", `__e2e.badges(`+js(withCarol)+`).name === 'carol'`)

	// 3. The same person again: the same conversation, listed once.
	startDM("alice")
	bob.waitFor("the conversation with alice opens again", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId === `+js(dm))
	if n := eval[int](bob, `[...document.querySelectorAll('[data-testid="room-list-item-name"]')].filter((el) => el.textContent === 'alice').length`); n != 1 {
		bob.fatalf("alice is listed %d times", n)
	}
	bob.sees("alice", "Got a minute? Just us.")
	s.checkConsole(func(b *browser, msg string) bool {
		// The browser reports the refused starts itself (400, 404).
		return b == bob && (strings.Contains(msg, "400 (Bad Request)") || strings.Contains(msg, "404 (Not Found)"))
	}, bs...)
}
