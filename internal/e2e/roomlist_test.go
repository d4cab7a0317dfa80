package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAddedRoomAppearsLive: alice adds bob to a new room through the form;
// the room appears in bob's open list with a notice, from the server's
// frame and not from a reload of the list, in well under two seconds.
// Renamed, it changes name there; bob removed, it leaves his list.
func TestAddedRoomAppearsLive(t *testing.T) {
	s := newScene(t, 90*time.Second)
	s.people("alice", "bob")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]
	bob.waitFor("bob's list has loaded, empty", `__e2e.has('room-list-empty')`)
	listLoads := eval[int](bob, `__e2e.requests('GET', '/api/rooms').length`)

	alice.do("fill in the create-room form", chromedp.SendKeys(css("create-room-name"), "Launch party"), chromedp.SendKeys(css("create-room-members"), "bob"))
	began := time.Now()
	alice.do("submit it", chromedp.Click(css("create-room-submit")))
	bob.waitFor("the room appears in bob's list", `[...document.querySelectorAll('[data-testid="room-list-item-name"]')].some((el) => el.textContent === 'Launch party')`)
	d := time.Since(began)
	t.Logf("added → room appears in %v", d.Round(time.Millisecond))
	if d >= 2*time.Second {
		t.Errorf("the room took %v to appear in bob's list, want under 2s", d)
	}
	bob.waitFor("a notice says he was added", `[...document.querySelectorAll('[data-testid="notice"]')].some((n) => n.textContent.includes('You were added to “Launch party”'))`)
	if n := eval[int](bob, `__e2e.requests('GET', '/api/rooms').length`); n != listLoads {
		bob.fatalf("bob's page loaded the list %d more times: the room came from a reload, not live", n-listLoads)
	}
	room := eval[string](bob, `document.querySelector('[data-testid="room-list-item"]').dataset.roomId`)
	if role := eval[string](bob, `__e2e.roomItem(`+js(room)+`).dataset.role`); role != "member" {
		bob.fatalf("the room shows bob as %q, want member", role)
	}

	// Renamed by alice: the new name, live.
	alice.waitFor("alice is in the room", `__e2e.has('chat-view') && __e2e.q('chat-view').dataset.roomId === `+js(room))
	alice.do("open the settings", chromedp.Click(css("chat-settings")))
	alice.waitFor("the rename form shows", `__e2e.has('settings-rename-input')`)
	alice.do("rename the room",
		chromedp.Evaluate[chromedp.Void](`__e2e.q('settings-rename-input').select()`),
		chromedp.SendKeys(css("settings-rename-input"), "Launch party (Friday)"),
		chromedp.Click(css("settings-rename-submit")),
	)
	bob.waitFor("bob's list shows the new name", `__e2e.badges(`+js(room)+`).name === 'Launch party (Friday)'`)

	// bob removed: the room leaves his list.
	alice.do("remove bob", chromedp.Click(chromedp.CSS(memberSel("bob")+` [data-testid="settings-member-remove"]`)))
	alice.waitFor("the confirmation asks", `__e2e.has('confirm-dialog')`)
	alice.do("confirm", chromedp.Click(css("confirm-ok")))
	bob.waitFor("the room leaves bob's list", `__e2e.roomItem(`+js(room)+`) === null && __e2e.has('room-list-empty')`)
	if n := eval[int](bob, `__e2e.requests('GET', '/api/rooms').length`); n != listLoads {
		bob.fatalf("bob's page loaded the list again %d times", n-listLoads)
	}
	s.checkConsole(nil, bs...)
}

// TestMentionBadgeAndTitle: alice mentions bob in a room he does not have
// open. His list shows the unread and the mention, the tab title leads
// with the count, in his second tab too; his hidden tab raises a browser
// notification (he turned them on with a click; nothing asked before).
// Opening the room clears it all, in both tabs.
func TestMentionBadgeAndTitle(t *testing.T) {
	s := newScene(t, 2*time.Minute)
	s.people("alice", "bob")
	design := s.room("alice", "Design", "bob")
	random := s.room("alice", "Random", "bob")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]
	bob.waitRoomItem(design)
	bob.openRoom(random)
	alice.openRoom(design)

	// Notifications: offered, never asked for on load; a click asks.
	bob.waitFor("the page offers notifications", `__e2e.has('enable-notifications') && !__e2e.q('enable-notifications').hidden`)
	if n := eval[int](bob, `__e2e.permissionAsks()`); n != 0 {
		bob.fatalf("the page asked for notification permission %d times without a click", n)
	}
	bob.grantNotifications(s.e.URL)
	bob.do("click Enable notifications", chromedp.Click(css("enable-notifications")))
	bob.waitFor("permission is granted and the offer goes", `__e2e.permissionAsks() === 1 && Notification.permission === 'granted' && __e2e.q('enable-notifications').hidden`)

	// bob opens a second tab: the first one is hidden now.
	bob2 := bob.newTab(s.e.URL+"/", 1280, 800)
	bob2.waitRoomItem(design)
	bob.waitFor("bob's first tab is hidden", `document.visibilityState === 'hidden'`)

	const text = "@bob could you review the mockups?"
	alice.send(text)
	for _, b := range []*browser{bob, bob2} {
		b.waitFor("Design shows 1 unread and 1 mention", `(() => { const x = __e2e.badges(`+js(design)+`); return x && x.unread === '1' && x.mentions.endsWith('1'); })()`)
		b.waitFor("the title leads with the count", `document.title.startsWith('(1) ')`)
		if x := eval[map[string]string](b, `__e2e.badges(`+js(random)+`)`); x["unread"] != "" || x["mentions"] != "" {
			b.fatalf("Random shows badges %v, want none", x)
		}
	}
	if got := eval[string](bob2, `document.title`); got != "(1) Chat" {
		bob2.fatalf("the second tab's title is %q, want %q", got, "(1) Chat")
	}
	if got := eval[string](bob, `document.title`); got != "(1) Random · Chat" {
		bob.fatalf("the first tab's title is %q, want %q", got, "(1) Random · Chat")
	}
	bob.waitFor("the hidden tab raised a notification", `__e2e.notifications().some((n) => n.title.includes('mentioned') && n.title.includes('Design'))`)
	if n := eval[int](bob2, `__e2e.notifications().length`); n != 0 {
		bob2.fatalf("the visible tab raised %d notifications", n)
	}
	bob2.screenshot(s.shots, "5-unread-badges")
	// At phone width the list is the page: the badges still show, nothing
	// spills sideways.
	bob2.do("set a phone viewport", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	bob2.waitFor("the list fits the phone with its badges in view",
		`document.documentElement.scrollWidth <= innerWidth && (() => { const r = __e2e.roomItem(`+js(design)+`).querySelector('[data-testid="room-list-item-unread"]').getBoundingClientRect(); return r.width > 0 && r.right <= innerWidth; })() && __e2e.q('new-dm').getBoundingClientRect().right <= innerWidth`)

	// bob reads it in the first tab: both clear.
	bob.bringToFront()
	bob.openRoom(design)
	bob.sees("alice", text)
	for _, b := range []*browser{bob, bob2} {
		b.waitFor("Design has no badges", `(() => { const x = __e2e.badges(`+js(design)+`); return x && x.unread === '' && x.mentions === ''; })()`)
		b.waitFor("the title has no count", `!document.title.startsWith('(')`)
	}
	if got := eval[string](bob, `document.title`); got != "Design · Chat" {
		bob.fatalf("the title is %q after reading, want %q", got, "Design · Chat")
	}
	s.checkConsole(nil, alice, bob, bob2)
}

// TestReadPositionDivider: bob comes back to a room where alice wrote
// while he was away; "New since you left" sits right above her first new
// message, reading it clears the badge with one read post, and the next
// visit (or a reload) has no divider. Messages that come while he reads
// at the bottom are marked read without a post each.
func TestReadPositionDivider(t *testing.T) {
	s := newScene(t, 2*time.Minute)
	s.people("alice", "bob")
	room := s.room("alice", "Book club", "bob")
	bs := s.browsers("alice", "bob")
	alice, bob := bs[0], bs[1]
	alice.openRoom(room)
	bob.openRoom(room)
	alice.send("Has everyone started the book?")
	bob.sees("alice", "Has everyone started the book?")
	bob.send("Halfway through")
	alice.sees("bob", "Halfway through")
	bob.goHome()

	// While bob is away.
	missed := []string{"Chapter 3 is the best part", "No spoilers please", "Meet on Thursday?"}
	for _, text := range missed {
		alice.send(text)
	}
	bob.waitFor("bob's list shows 3 unread", `__e2e.badges(`+js(room)+`).unread === '3'`)
	bob.waitFor("the title shows them", `document.title === '(3) Chat'`)
	posts := eval[int](bob, `__e2e.requests('POST', '/read').length`)

	bob.openRoom(room)
	first := bob.sees("alice", missed[0])
	bob.waitFor("the divider sits right above the first new message",
		`(() => { const d = __e2e.q('unread-divider'); return d && d.textContent === 'New since you left' && d.nextElementSibling === document.querySelector('[data-testid="message-item"][data-seq="`+fmt.Sprint(first)+`"]'); })()`)
	bob.waitFor("reading clears the badge", `__e2e.badges(`+js(room)+`).unread === '' && !document.title.startsWith('(')`)
	bob.waitFor("one read post went out", `__e2e.requests('POST', '/read').length === `+fmt.Sprint(posts+1))
	if body := eval[string](bob, `__e2e.requests('POST', '/read').at(-1).body`); !strings.Contains(body, `"seq"`) {
		bob.fatalf("the read post sent %q", body)
	}

	// Reading at the bottom while messages come: no badge, few posts.
	posts = eval[int](bob, `__e2e.requests('POST', '/read').length`)
	burst := []string{"Thursday works", "Same for me", "See you then"}
	for _, text := range burst {
		alice.send(text)
	}
	bob.sees("alice", burst[len(burst)-1])
	bob.waitFor("the burst is marked read", `__e2e.requests('POST', '/read').length > `+fmt.Sprint(posts))
	if n := eval[int](bob, `__e2e.requests('POST', '/read').length`) - posts; n > 2 {
		bob.fatalf("%d read posts for %d messages read at the bottom, want them debounced", n, len(burst))
	}
	if x := eval[string](bob, `__e2e.badges(`+js(room)+`).unread`); x != "" {
		bob.fatalf("the room shows %q unread while bob reads it", x)
	}

	// Coming back: nothing new, no divider; the server holds the position.
	bob.goHome()
	bob.openRoom(room)
	if eval[bool](bob, `__e2e.has('unread-divider')`) {
		bob.fatalf("a divider shows with nothing new")
	}
	bob.do("reload", chromedp.Reload())
	bob.waitFor("the room opens after the reload", `__e2e.has('chat-view') && __e2e.connection() === 'connected' && __e2e.messages('See you then').length === 1 && __e2e.rooms().length === 1`)
	if eval[bool](bob, `__e2e.has('unread-divider')`) {
		bob.fatalf("a divider shows after a reload with nothing new")
	}
	s.checkConsole(nil, bs...)
}
