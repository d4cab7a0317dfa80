package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/chatroom/chat/internal/chatclient"
)

// TestLinksAndMentionHighlight: an http(s) address in a message is a link
// that opens in a new tab without a reference back to the chat, a
// javascript: address stays text, and a mention of the reader stands out
// (for the others it is marked, not highlighted as theirs).
func TestLinksAndMentionHighlight(t *testing.T) {
	s := newScene(t, 90*time.Second)
	s.people("alice", "bob")
	room := s.room("alice", "Reading list", "bob")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]
	alice.openRoom(room)
	bob.openRoom(room)

	const text = "Docs: https://example.com/guide?x=1&y=2, not javascript:alert(1) nor JAVASCRIPT://x%0aalert(2) — ping @bob (see http://example.org/a_(b))."
	alice.send(text)
	bob.sees("alice", text)

	for _, b := range bs {
		sel := `__e2e.messages(` + js(text) + `)[0]`
		links := eval[[]map[string]string](b, `[...`+sel+`.querySelectorAll('a')].map((a) => ({href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target}))`)
		want := []map[string]string{
			{"href": "https://example.com/guide?x=1&y=2", "text": "https://example.com/guide?x=1&y=2", "rel": "noopener noreferrer", "target": "_blank"},
			{"href": "http://example.org/a_(b)", "text": "http://example.org/a_(b)", "rel": "noopener noreferrer", "target": "_blank"},
		}
		if fmt.Sprint(links) != fmt.Sprint(want) {
			b.fatalf("the message's links are %v, want %v", links, want)
		}
		// The javascript: addresses are plain text, and the text reads as sent.
		if got := eval[string](b, sel+`.querySelector('[data-testid="message-text"]').textContent`); got != text {
			b.fatalf("the message reads %q, want %q", got, text)
		}
		if n := eval[int](b, `document.querySelectorAll('[data-testid="message-list"] a[href^="javascript" i], [data-testid="message-list"] [onclick]').length`); n != 0 {
			b.fatalf("%d javascript links or handlers in the message list", n)
		}
	}
	// The mention: highlighted as his own for bob, marked for alice.
	bob.waitFor("bob sees the mention of him highlighted",
		`(() => { const m = __e2e.messages(`+js(text)+`)[0]; const s = m.querySelector('[data-testid="mention"]'); return m.dataset.mentionsMe === 'true' && s && s.textContent === '@bob' && s.dataset.me === 'true' && s.classList.contains('mention--me'); })()`)
	if got := eval[string](alice, `(() => { const m = __e2e.messages(`+js(text)+`)[0]; const s = m.querySelector('[data-testid="mention"]'); return m.dataset.mentionsMe + '/' + (s ? s.dataset.me : 'none'); })()`); got != "false/false" {
		alice.fatalf("for alice the mention reads %s (mentions-me/me), want false/false", got)
	}
	// A name that is not a member is not a mention.
	alice.send("cc @nobody_here")
	bob.sees("alice", "cc @nobody_here")
	if n := eval[int](bob, `__e2e.messages('cc @nobody_here')[0].querySelectorAll('[data-testid="mention"]').length`); n != 0 {
		bob.fatalf("@nobody_here is drawn as a mention")
	}
	s.checkConsole(nil, bs...)
}

// TestJoinLeaveCollapse: a run of joins and leaves reads as one line, and
// someone who leaves and is back within five minutes shows neither line;
// the events themselves stay in the list (their elements, their seqs), and
// a reload draws the same from the history.
func TestJoinLeaveCollapse(t *testing.T) {
	s := newScene(t, 90*time.Second)
	s.people("alice", "bob", "carol")
	room := s.room("alice", "Standup", "bob", "carol")
	alice := s.browsers("alice")[0]
	alice.openRoom(room)

	// bob and carol come and go from sockets of their own.
	conns := map[string]*chatclient.Conn{}
	for _, name := range []string{"bob", "carol"} {
		c, err := s.api[name].Dial(s.ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		conns[name] = c
		go drain(s.ctx, c)
	}
	act := func(name string, frame []byte) {
		t.Helper()
		if err := conns[name].Send(s.ctx, frame); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	act("bob", chatclient.JoinFrame(room, -1))
	alice.waitFor("alice sees bob join", `__e2e.announced('user_joined', 'bob').length === 1`)
	act("carol", chatclient.JoinFrame(room, -1))
	alice.waitFor("alice sees carol join", `__e2e.announced('user_joined', 'carol').length === 1`)
	// alice's own join, bob's and carol's: one run, one line.
	alice.waitFor("the three joins read as one line", `JSON.stringify(__e2e.presence()) === JSON.stringify(['alice, bob, carol joined'])`)

	alice.send("Morning, both")
	// bob drops out and is back at once; carol leaves for good.
	act("bob", chatclient.LeaveFrame(room))
	alice.waitFor("alice's list has bob's leave", `__e2e.announced('user_left', 'bob').length === 1`)
	act("bob", chatclient.JoinFrame(room, -1))
	alice.waitFor("alice's list has bob's return", `__e2e.announced('user_joined', 'bob').length === 2`)
	act("carol", chatclient.LeaveFrame(room))
	alice.waitFor("alice's list has carol's leave", `__e2e.announced('user_left', 'carol').length === 1`)
	want := `["alice, bob, carol joined","carol left"]`
	alice.waitFor("bob's leave and return are hidden and carol's leave shows", `JSON.stringify(__e2e.presence()) === `+js(want))
	// Everything is still in the stream, in seq order.
	lines := alice.checkSeqOrder("after the joins and leaves")
	var kinds []string
	for _, l := range lines {
		if l.TestID == "announcement" {
			kinds = append(kinds, l.Type+":"+l.User)
		}
	}
	wantKinds := []string{"user_joined:alice", "user_joined:bob", "user_joined:carol", "user_left:bob", "user_joined:bob", "user_left:carol"}
	if !slices.Equal(kinds, wantKinds) {
		alice.fatalf("the announcements in the list are %v, want %v", kinds, wantKinds)
	}

	// From the history the same: alice's own leave and rejoin, a reload
	// apart, are hidden too.
	alice.do("reload", chromedp.Reload())
	alice.waitFor("the room opens after the reload", `__e2e.has('chat-view') && __e2e.connection() === 'connected' && __e2e.announced('user_left', 'alice').length === 1 && __e2e.announced('user_joined', 'alice').length === 2`)
	alice.waitFor("the history reads the same", `JSON.stringify(__e2e.presence()) === `+js(want))
	s.checkConsole(nil, alice)
}

// drain reads a socket's frames until it closes, so the server never
// waits on it.
func drain(ctx context.Context, c *chatclient.Conn) {
	for {
		if _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

// TestEditAndDelete: bob edits his message from its menu with the keyboard
// alone, and his last one with Up in the empty composer (Escape cancels);
// alice sees "(edited)". He deletes one, alice (the owner) deletes another
// of his; each sees the placeholder. bob has no menu on alice's messages,
// a refused edit is explained, and a reload folds it all the same way.
func TestEditAndDelete(t *testing.T) {
	s := newScene(t, 2*time.Minute)
	s.people("alice", "bob")
	room := s.room("alice", "Planning", "bob")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]
	alice.openRoom(room)
	bob.openRoom(room)

	alice.send("Meeting at 10 tomorrow?")
	bob.sees("alice", "Meeting at 10 tomorrow?")
	first := bob.send("See you at 10")
	alice.sees("bob", "See you at 10")

	// 1. The menu, by keyboard: focus its button, Enter opens it on Edit,
	// Enter opens the editor on the text.
	firstMenu := msgSel(first) + ` [data-testid="message-menu-button"]`
	bob.do("focus the message's menu button and press Enter", chromedp.Focus(chromedp.CSS(firstMenu)), chromedp.KeyEvent(kb.Enter))
	bob.waitFor("the menu opens with Edit focused", `__e2e.has('message-menu') && document.activeElement === __e2e.q('message-menu-edit')`)
	bob.do("arrow to Delete and back", pressArrowDown)
	bob.waitFor("Delete has the focus", `document.activeElement === __e2e.q('message-menu-delete')`)
	bob.do("arrow back up and press Enter", pressArrowUp)
	bob.waitFor("Edit has the focus", `document.activeElement === __e2e.q('message-menu-edit')`)
	bob.do("press Enter", chromedp.KeyEvent(kb.Enter))
	bob.waitFor("the editor holds the text, focused", `document.activeElement === __e2e.q('message-edit-input') && __e2e.q('message-edit-input').value === 'See you at 10'`)
	bob.do("change the text and press Enter",
		chromedp.Evaluate[chromedp.Void](`__e2e.q('message-edit-input').select()`),
		chromedp.SendKeys(css("message-edit-input"), "See you at 11"),
		pressEnter,
	)
	for _, b := range bs {
		b.waitFor("the message reads as edited", `(() => { const m = document.querySelector(`+js(msgSel(first))+`); return m && m.querySelector('[data-testid="message-text"]').textContent === 'See you at 11' && m.querySelector('[data-testid="message-edited"]') !== null; })()`)
	}
	bob.waitFor("the focus is back on the menu button", `document.activeElement === document.querySelector(`+js(firstMenu)+`)`)

	// 2. Up in the empty composer edits the last one; Escape cancels.
	second := bob.send("Typo heer")
	alice.sees("bob", "Typo heer")
	bob.do("focus the composer and press Up", chromedp.Focus(css("chat-input")), pressArrowUp)
	bob.waitFor("the editor opens on the last message", `document.activeElement === __e2e.q('message-edit-input') && __e2e.q('message-edit-input').closest('[data-testid="message-item"]').dataset.seq === '`+fmt.Sprint(second)+`'`)
	bob.do("press Escape", pressEscape)
	bob.waitFor("the editor closes, nothing changed, focus back in the composer", `!__e2e.has('message-edit-input') && document.activeElement === __e2e.q('chat-input') && __e2e.messages('Typo heer').length === 1`)
	bob.do("press Up again", pressArrowUp)
	bob.waitFor("the editor opens again", `document.activeElement === __e2e.q('message-edit-input')`)
	bob.do("fix the typo and press Enter",
		chromedp.Evaluate[chromedp.Void](`__e2e.q('message-edit-input').select()`),
		chromedp.SendKeys(css("message-edit-input"), "Typo here"),
		pressEnter,
	)
	alice.waitFor("alice sees the fix, edited", `(() => { const m = document.querySelector(`+js(msgSel(second))+`); return m && m.querySelector('[data-testid="message-text"]').textContent === 'Typo here' && m.dataset.edited === 'true'; })()`)
	bob.waitFor("the focus is back in the composer", `document.activeElement === __e2e.q('chat-input')`)

	// 3. bob deletes his first message (menu, Delete, confirm).
	bob.do("open the menu and choose Delete", chromedp.Click(chromedp.CSS(firstMenu)))
	bob.waitFor("the menu opens", `__e2e.has('message-menu-delete')`)
	bob.do("choose Delete", chromedp.Click(css("message-menu-delete")))
	bob.waitFor("the confirmation asks", `__e2e.has('confirm-dialog')`)
	bob.do("confirm", chromedp.Click(css("confirm-ok")))
	for _, b := range bs {
		b.waitFor("the message is a placeholder", `(() => { const m = document.querySelector(`+js(msgSel(first))+`); return m && m.dataset.deleted === 'true' && m.querySelector('[data-testid="message-deleted"]').textContent === 'message deleted' && !m.querySelector('[data-testid="message-text"]') && !m.querySelector('[data-testid="message-menu-button"]'); })()`)
	}

	// 4. bob has no menu on alice's message; alice, the owner, has one on
	// his, with Delete only.
	aliceMsg := eval[int64](bob, `Number(__e2e.messages('Meeting at 10 tomorrow?')[0].dataset.seq)`)
	if d := eval[string](bob, `getComputedStyle(document.querySelector(`+js(msgSel(aliceMsg)+` .msg-actions`)+`)).display`); d != "none" {
		bob.fatalf("bob, a member, is offered a menu on alice's message (display %s)", d)
	}
	alice.do("open the menu of bob's message", chromedp.Click(chromedp.CSS(msgSel(second)+` [data-testid="message-menu-button"]`)))
	alice.waitFor("it offers Delete and not Edit", `__e2e.has('message-menu-delete') && !__e2e.has('message-menu-edit')`)
	alice.screenshot(s.shots, "6-edit-delete")
	alice.do("choose Delete", chromedp.Click(css("message-menu-delete")))
	alice.waitFor("the confirmation asks", `__e2e.has('confirm-dialog')`)
	alice.do("confirm", chromedp.Click(css("confirm-ok")))
	for _, b := range bs {
		b.waitFor("bob's second message is a placeholder", `document.querySelector(`+js(msgSel(second))+`).dataset.deleted === 'true'`)
	}
	if n := eval[int](bob, `__e2e.messages('Typo here').length + __e2e.messages('See you at 11').length`); n != 0 {
		bob.fatalf("the deleted texts still show")
	}

	// 5. A refused edit (of a message deleted meanwhile) is explained.
	msgID := eval[string](bob, `document.querySelector(`+js(msgSel(second))+`).dataset.messageId`)
	bob.do("send an edit of the deleted message, as a page that had not heard of the deletion would",
		chromedp.Evaluate[chromedp.Void](`__e2e.socket().send(JSON.stringify({action: 'edit_message', room_id: `+js(room)+`, message_id: `+js(msgID)+`, text: 'too late'}))`))
	bob.waitFor("bob is told politely", `!__e2e.q('chat-error').hidden && __e2e.q('chat-error').textContent === 'That message no longer exists; it may have been deleted.'`)

	// 6. The history folds edits and deletions the same way.
	alice.do("reload", chromedp.Reload())
	alice.waitFor("the room opens after the reload", `__e2e.has('chat-view') && __e2e.connection() === 'connected' && document.querySelector(`+js(msgSel(second))+`) !== null`)
	if got := eval[string](alice, `[`+fmt.Sprint(first)+`, `+fmt.Sprint(second)+`].map((s) => document.querySelector('[data-testid="message-item"][data-seq="' + s + '"]').dataset.deleted).join()`); got != "true,true" {
		alice.fatalf("after a reload the deleted messages show deleted=%s, want true,true", got)
	}
	alice.checkSeqOrder("after the reload")
	s.checkConsole(nil, bs...)
}
