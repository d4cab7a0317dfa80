package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// memberSel selects a member's row in the room settings.
func memberSel(username string) string {
	return `[data-testid="settings-member"][data-username="` + username + `"]`
}

// TestBlockInTheBrowser: alice blocks bob from a room's member list, with
// the keyboard alone; bob then cannot add her to a room, by creating one or
// from his room's settings, and is told no such user exists; once she
// unblocks him he can.
func TestBlockInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: a browser test; skipped with -short")
	}
	requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := startEmulator(t)
	shots := screenshotDirs(t)
	alice := newBrowser(t, ctx, "alice")
	bob := newBrowser(t, ctx, "bob")
	startAll(t, alice, bob)
	for _, b := range []*browser{alice, bob} {
		b.do("set a desktop viewport", chromedp.EmulateViewport(1280, 800))
		b.installHelpers()
		b.do("open the app", chromedp.Navigate(e.URL+"/"))
	}
	alice.signUp("alice", password)
	bob.signUp("bob", password)

	// alice makes a room with bob and opens its settings.
	alice.do("create a room with bob",
		chromedp.SendKeys(css("create-room-name"), "Book club"),
		chromedp.SendKeys(css("create-room-members"), "bob"),
		chromedp.Click(css("create-room-submit")),
	)
	alice.waitFor("the new room opens", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId`)
	alice.do("open the room's settings", chromedp.Click(css("chat-settings")))
	bobRow := memberSel("bob")
	alice.waitFor("bob's row offers Block", `document.querySelector(`+js(bobRow+` [data-testid="settings-member-block"]`)+`) !== null`)
	if n := eval[int](alice, `document.querySelectorAll('[data-testid="settings-member"][data-username="alice"] [data-testid="settings-member-block"]').length`); n != 0 {
		alice.fatalf("alice is offered to block herself")
	}

	// With the keyboard: focus Block, Enter; the dialog opens on Cancel,
	// Tab to Block, Enter.
	alice.do("focus Block and press Enter",
		chromedp.Focus(chromedp.CSS(bobRow+` [data-testid="settings-member-block"]`)),
		chromedp.KeyEvent(kb.Enter),
	)
	alice.waitFor("the confirmation opens on its safe choice", `__e2e.has('confirm-dialog') && document.activeElement === __e2e.q('confirm-cancel')`)
	if title := eval[string](alice, `__e2e.q('confirm-dialog').querySelector('h2').textContent`); title != "Block bob?" {
		alice.fatalf("the dialog asks %q, want %q", title, "Block bob?")
	}
	alice.screenshot(shots, "8-block-confirm")
	alice.do("Tab to Block and press Enter", chromedp.KeyEvent(kb.Tab))
	alice.waitFor("Block has the focus", `document.activeElement === __e2e.q('confirm-ok')`)
	alice.do("press Enter", chromedp.KeyEvent(kb.Enter))
	alice.waitFor("bob shows as blocked, with Unblock focused",
		`!__e2e.has('confirm-dialog') && document.querySelector(`+js(bobRow+` [data-testid="settings-member-blocked"]`)+`) !== null && document.activeElement === document.querySelector(`+js(bobRow+` [data-testid="settings-member-unblock"]`)+`)`)
	alice.screenshot(shots, "9-blocked")
	// The state is the server's: a fresh load shows it.
	alice.do("reload", chromedp.Reload())
	alice.waitFor("after a reload bob still shows as blocked", `document.querySelector(`+js(bobRow+` [data-testid="settings-member-unblock"]`)+`) !== null`)

	// bob cannot put alice in a new room...
	bobRooms := eval[int](bob, `__e2e.rooms().length`)
	bob.do("create a room with alice",
		chromedp.SendKeys(css("create-room-name"), "Surprise"),
		chromedp.SendKeys(css("create-room-members"), "alice"),
		chromedp.Click(css("create-room-submit")),
	)
	bob.waitFor("the form says there is no such user", `!__e2e.q('create-room-members-error').hidden && __e2e.q('create-room-members-error').textContent === 'User not found: alice.'`)
	if n := eval[int](bob, `__e2e.rooms().length`); n != bobRooms {
		bob.fatalf("bob's list went from %d to %d rooms after a refused create", bobRooms, n)
	}
	// ...nor add her to his own.
	bob.do("clear the members and create a room of his own",
		chromedp.Evaluate[chromedp.Void](`__e2e.q('create-room-members').value = ''`),
		chromedp.Click(css("create-room-submit")),
	)
	bob.waitFor("his room opens", `__e2e.has('chat-view') && __e2e.q('chat-room-name').textContent === 'Surprise'`)
	bob.do("open its settings", chromedp.Click(css("chat-settings")))
	bob.waitFor("the add form shows", `__e2e.has('settings-add-input')`)
	bob.do("add alice", chromedp.SendKeys(css("settings-add-input"), "alice"), chromedp.Click(css("settings-add-submit")))
	bob.waitFor("he sees user not found", `!__e2e.q('settings-add-error').hidden && __e2e.q('settings-add-error').textContent === 'User not found: alice.'`)
	bob.screenshot(shots, "10-user-not-found")
	if n := eval[int](bob, `document.querySelectorAll('[data-testid="settings-member"]').length`); n != 1 {
		bob.fatalf("%d members after a refused add, want bob alone", n)
	}

	// alice unblocks him, and he can add her.
	alice.do("unblock bob", chromedp.Click(chromedp.CSS(bobRow+` [data-testid="settings-member-unblock"]`)))
	alice.waitFor("bob shows as not blocked", `document.querySelector(`+js(bobRow+` [data-testid="settings-member-block"]`)+`) !== null && document.querySelector(`+js(bobRow+` [data-testid="settings-member-blocked"]`)+`) === null`)
	bob.do("add alice again", chromedp.Click(css("settings-add-submit")))
	bob.waitFor("alice is in his room", `document.querySelector(`+js(memberSel("alice"))+`) !== null`)

	for _, b := range []*browser{alice, bob} {
		for _, p := range b.problemsSeen() {
			// The browser reports the refused requests' 404s itself.
			if b == bob && strings.Contains(p, "404") {
				continue
			}
			t.Errorf("%s's console: %s", b.name, p)
		}
	}
}

// TestRoomListPagesInTheBrowser: someone in 250 rooms sees all of them in
// the sidebar, newest activity first, each once, though GET /rooms gives
// at most 200 at a time.
func TestRoomListPagesInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: a browser test; skipped with -short")
	}
	requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := startEmulator(t)
	paul := newBrowser(t, ctx, "paul")
	startAll(t, paul)
	paul.do("set a desktop viewport", chromedp.EmulateViewport(1280, 800))
	paul.installHelpers()
	paul.do("open the app", chromedp.Navigate(e.URL+"/"))
	paul.signUp("paul", password)

	// The rooms go straight into the store, each a minute apart: olga,
	// their owner, never signs in.
	const n = 250
	base := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Minute)
	want := make([]string, n) // newest first
	for i := range n {
		id := fmt.Sprintf("01JD8S%020d", i)
		events, err := chat.CreateRoom(id, "olga", fmt.Sprintf("Room %03d", i), []string{"paul"}, func(string) bool { return true }, base.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.Append(context.Background(), store.AppendRequest{RoomID: id, Events: events}); err != nil {
			t.Fatal(err)
		}
		want[n-1-i] = id
	}
	paul.do("reload to load the list", chromedp.Reload())
	paul.waitFor("the sidebar lists every room", `__e2e.rooms().length === `+fmt.Sprint(n)+` && __e2e.q('room-count').textContent === '`+fmt.Sprint(n)+`' && __e2e.q('room-list-loading-more').hidden`)
	got := eval[[]string](paul, `__e2e.rooms()`)
	for i := range want {
		if got[i] != want[i] {
			paul.fatalf("room %d of the list is %s, want %s (newest activity first, each once)", i, got[i], want[i])
		}
	}
	// It took more than one page.
	pages := eval[[]string](paul, `performance.getEntriesByType('resource').map((r) => r.name).filter((u) => new URL(u).pathname.endsWith('/api/rooms'))`)
	var cursors int
	for _, u := range pages {
		if strings.Contains(u, "cursor=") {
			cursors++
		}
	}
	if cursors == 0 {
		paul.fatalf("the list was loaded without following a cursor: %q", pages)
	}
	// The oldest room, on the last page, opens like any other. (Found and
	// clicked in one go: a refresh may redraw the list at any moment, as
	// the socket's opening asks for one.)
	last := `[data-testid="room-list-item"][data-room-id="` + want[n-1] + `"]`
	paul.do("open the oldest room", chromedp.Evaluate[chromedp.Void](`(() => { const a = document.querySelector(`+js(last)+`); a.scrollIntoView(); a.click(); })()`))
	paul.waitFor("it opens", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId === `+js(want[n-1])+` && __e2e.q('chat-room-name').textContent === 'Room 000'`)
	for _, p := range paul.problemsSeen() {
		t.Errorf("paul's console: %s", p)
	}
}
