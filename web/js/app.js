// The application: boot (config, session check), the hash router, the shell
// (top bar, sidebar, main pane) and the one open room. Views are mounted into
// the main pane and destroyed when the route changes.
//
// The room list lives on the server's user frames (room_summary,
// room_removed), which come on the socket whether or not a room is open:
// new rooms appear with a notice, unread and mention counts move, the tab
// title leads with the total unread, and a mention or a direct message in a
// hidden tab raises a browser notification (if the person turned them on).
// The list is loaded again when the socket (re)opens, since frames sent
// while it was down are lost, and, as a fallback, every few minutes.
//
// Routes:  #/login   #/   #/rooms/<id>   #/rooms/<id>/settings
// Hash routes need nothing from the server, so the same files work from the
// emulator and from a static bucket in the cloud.

import { h, icon, avatar, setChildren } from './dom.js';
import { Api } from './api.js';
import { ChatSocket } from './socket.js';
import { session } from './session.js';
import { Timeline } from './timeline.js';
import { RoomSession } from './room.js';
import { notify } from './notify.js';
import { loginView } from './views/login.js';
import { roomsView, summaryOfRoom, displayName } from './views/rooms.js';
import { chatView } from './views/chat.js';
import { settingsView } from './views/settings.js';
import { setTitle, setUnreadTotal } from './title.js';
import { desktop } from './desktop.js';
import { drafts } from './drafts.js';

// A fallback: the user frames keep the list current; this only repairs a
// list that missed one without the socket closing.
const ROOMS_FALLBACK_REFRESH_MS = 5 * 60 * 1000;
// room_removed for the open room: its own frame (room_deleted,
// removed_from_room) says why and normally comes first; this is the wait.
const OPEN_ROOM_REMOVED_GRACE_MS = 1500;

const CONNECTION_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

async function loadConfig() {
  const res = await fetch(new URL('config.json', document.baseURI), { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json answered ${res.status}`);
  const cfg = await res.json();
  if (!cfg.httpApiUrl || !cfg.webSocketUrl) throw new Error('config.json lacks httpApiUrl or webSocketUrl');
  return cfg;
}

export class App {
  constructor(root) {
    this.root = root;
    this.me = null;
    this.shell = null; // {el, main, layout, rooms, conn}
    this.view = null; // the view in the main pane (or the login page)
    this.room = null; // the RoomSession of the open room
    this.timelines = new Map(); // room id -> Timeline, kept across visits for resumes
    this.pendingNotice = '';
    this.keptDraft = null; // {roomId, roomName, text}: the draft of a room that went away
    this.startingDirect = new Set(); // usernames of direct messages I am starting
    this.lastRoute = null; // {roomId, settings}
    this.announcer = document.getElementById('announcer');
  }

  async boot() {
    let config;
    try {
      config = await loadConfig();
    } catch (err) {
      this.fatal("Can't load the app's settings.", err.message);
      return;
    }
    this.api = new Api(config.httpApiUrl, {
      getToken: () => session.token,
      onUnauthenticated: () => this.sessionEnded('Your session has ended. Please log in again.'),
    });
    this.socket = new ChatSocket(config.webSocketUrl, {
      // A 401 here ends the session through the API's own hook.
      getTicket: () => (session.token ? this.api.ticket() : Promise.resolve(null)),
      checkAuth: () => this.api.me().then(() => undefined),
    });
    this.socket.on('state', () => this.renderConnection());
    this.socket.on('frame', (f) => this.onFrame(f));
    this.socket.on('open', () => this.shell && this.shell.rooms.refresh());

    session.onExternalChange((token) => {
      if (!token) this.sessionEnded('You logged out in another tab.');
      else window.location.reload(); // logged in (maybe as someone else) in another tab
    });
    window.addEventListener('hashchange', () => this.route());

    if (session.token) {
      try {
        const me = await this.api.me();
        this.me = me.username;
        session.save(session.token, me.username);
      } catch (err) {
        if (err.code !== 'unauthenticated') this.fatal("Can't reach the chat server.", err.message);
        // unauthenticated: sessionEnded() has already cleared the session and shown the login page
        return;
      }
    }
    this.route();
  }

  fatal(title, detail) {
    this.teardown();
    setChildren(
      this.root,
      h(
        'main',
        { class: 'auth-page', testid: 'fatal-view' },
        h(
          'div',
          { class: 'auth-card' },
          h('h1', { class: 'auth-title', text: title }),
          h('p', { class: 'auth-sub', text: detail }),
          h('button', { type: 'button', class: 'btn btn--primary', testid: 'fatal-retry', text: 'Try again', onClick: () => window.location.reload() }),
        ),
      ),
    );
  }

  // ---- routing ----

  route() {
    const hash = window.location.hash || '#/';
    if (!this.me) {
      this.showLogin();
      return;
    }
    if (hash === '#/login') {
      window.location.replace('#/');
      return; // hashchange routes again
    }
    this.ensureShell();
    const m = /^#\/rooms\/([^/]+)(\/settings)?\/?$/.exec(hash);
    const last = this.lastRoute;
    this.lastRoute = null;
    if (!m) {
      this.closeRoom();
      this.mount(homeView({ kept: this.keptDraft, onDismiss: () => this.dismissDraft() }));
      this.shell.layout.dataset.view = 'list';
      this.shell.rooms.setActive(null);
      setTitle('Chat');
      return;
    }
    let roomId;
    try {
      roomId = decodeURIComponent(m[1]);
    } catch {
      window.location.replace('#/');
      return;
    }
    const room = this.openRoom(roomId);
    this.lastRoute = { roomId, settings: Boolean(m[2]) };
    const view = m[2]
      ? settingsView({
          session: room,
          api: this.api,
          me: this.me,
          notify,
          onRoomsChanged: () => this.shell.rooms.refresh(),
          onLeft: (reason) => this.roomGone(roomId, reason),
          onStartDirect: (username) => this.startDirect(username),
        })
      : chatView({
          session: room,
          me: this.me,
          api: this.api,
          announce: (text) => this.announce(text),
          readInfo: room.readInfo,
          // Where the server's read position is now (the divider keeps the
          // one from when the room was opened).
          readSeq: this.currentReadSeq(roomId),
          onSeen: () => this.seen(roomId),
          onRead: (seq) => this.markedRead(roomId, seq),
          focusSettings: Boolean(last && last.roomId === roomId && last.settings),
        });
    this.mount(view);
    this.shell.layout.dataset.view = 'room';
    this.shell.rooms.setActive(roomId);
  }

  mount(view) {
    if (this.view) this.view.destroy();
    this.view = view;
    const target = this.shell ? this.shell.main : this.root;
    setChildren(target, view.el);
    view.mounted();
  }

  // ---- login / logout ----

  showLogin() {
    this.teardown();
    const notice = this.pendingNotice;
    this.pendingNotice = '';
    setTitle('Log in · Chat');
    const view = loginView({
      api: this.api,
      notice,
      initialMode: 'login',
      onLoggedIn: (res) => {
        session.save(res.token, res.username);
        this.me = res.username;
        this.route();
      },
    });
    this.view = view;
    setChildren(this.root, view.el);
    view.mounted();
  }

  async logout() {
    try {
      await this.api.logout();
    } catch {
      /* the token is dropped here whatever the server said */
    }
    session.clear();
    this.me = null;
    this.keptDraft = null;
    this.pendingNotice = 'You have logged out.';
    if (window.location.hash === '#/login') this.route();
    else window.location.hash = '#/login'; // hashchange routes to the login page
  }

  /** The token stopped working (expired, revoked, logged out elsewhere). */
  sessionEnded(message) {
    if (!this.me && !session.token) return;
    session.clear();
    this.me = null;
    this.pendingNotice = message;
    this.route();
  }

  teardown() {
    this.closeRoom({ leave: false });
    if (this.socket) this.socket.stop();
    this.timelines.clear();
    if (this.view) this.view.destroy();
    this.view = null;
    if (this.shell) {
      this.shell.rooms.destroy();
      clearInterval(this.shell.poll);
      document.removeEventListener('visibilitychange', this.shell.onVisible);
      this.shell = null;
    }
    setUnreadTotal(0);
  }

  // ---- the shell ----

  ensureShell() {
    if (this.shell) return;
    const rooms = roomsView({
      api: this.api,
      me: this.me,
      onCreated: (room) => {
        window.location.hash = `#/rooms/${encodeURIComponent(room.room_id)}`;
      },
      onStartDirect: (username) => this.startDirect(username),
      onChange: () => this.listChanged(),
    });
    const connText = h('span', { class: 'conn-text' });
    const unsentEl = h('span', { class: 'conn-unsent', testid: 'unsent-count', hidden: true });
    const retryBtn = h('button', { type: 'button', class: 'link-btn conn-retry', testid: 'reconnect-now', text: 'Retry now', hidden: true, onClick: () => this.socket.reconnectNow() });
    const conn = h('div', { class: 'conn', testid: 'connection-state', role: 'status' }, h('span', { class: 'status-dot', 'aria-hidden': 'true' }), connText, unsentEl, retryBtn);
    const main = h('main', { class: 'main', id: 'main', testid: 'main-pane', tabindex: '-1' });
    const layout = h('div', { class: 'layout', dataset: { view: 'list' } }, rooms.el, main);
    const topbar = h(
      'header',
      { class: 'topbar' },
      h('a', { href: '#/', class: 'brand', 'aria-label': 'Chat, all rooms' }, h('span', { class: 'brand-mark' }, icon('chat', 18)), h('span', { class: 'brand-name', text: 'Chat' })),
      conn,
      h('div', { class: 'topbar-spacer' }),
      h('span', { class: 'user-chip', testid: 'current-user' }, avatar(this.me, 'sm'), h('span', { class: 'user-name', text: this.me })),
      h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'logout', onClick: () => this.logout() }, icon('logout', 16), h('span', { class: 'hide-sm', text: 'Log out' })),
    );
    const el = h('div', { class: 'shell', testid: 'app-shell' }, h('a', { href: '#main', class: 'skip-link', text: 'Skip to content', onClick: (e) => { e.preventDefault(); main.focus(); } }), topbar, layout);
    const onVisible = () => {
      if (document.visibilityState === 'visible') {
        // Coming back to the tab: catch up at once (a sleeping laptop may
        // have lost frames without the socket noticing yet).
        rooms.refresh();
        this.socket.reconnectNow();
        rooms.refreshNotifyButton();
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    const poll = setInterval(() => {
      if (document.visibilityState === 'visible') rooms.refresh();
    }, ROOMS_FALLBACK_REFRESH_MS);
    this.shell = { el, main, layout, rooms, conn, connText, unsentEl, retryBtn, poll, onVisible };
    setChildren(this.root, el);
    this.renderConnection();
    rooms.refresh().then(() => this.listLoaded());
    this.socket.start();
  }

  /** The connection state, and how many messages wait to go out. */
  renderConnection() {
    if (!this.shell) return;
    const state = this.socket.state;
    const { conn, connText, unsentEl, retryBtn } = this.shell;
    conn.dataset.state = state;
    connText.textContent = CONNECTION_TEXT[state] || state;
    retryBtn.hidden = !(state === 'reconnecting' || state === 'offline');
    let unsent = 0;
    for (const t of this.timelines.values()) unsent += t.pending.size;
    const show = unsent > 0 && state !== 'connected';
    unsentEl.hidden = !show;
    unsentEl.dataset.count = String(show ? unsent : 0);
    unsentEl.textContent = show ? `· ${unsent} unsent` : '';
  }

  // ---- the room list, unread counts and notifications ----

  /** The list redrew: the title's count may have changed. */
  listChanged() {
    if (this.shell) setUnreadTotal(this.shell.rooms.totalUnread());
  }

  /** The first load of the list: the open room learns its read position. */
  listLoaded() {
    if (!this.shell || !this.room || this.room.readInfo) return;
    const s = this.shell.rooms.summaryOf(this.room.roomId);
    if (!s) return;
    this.room.readInfo = readInfoOf(s);
    if (!this.room.readInfo) return;
    if (this.view && this.view.setReadInfo) this.view.setReadInfo(this.room.readInfo);
  }

  onSummary(summary) {
    if (!summary || !summary.room_id || !this.shell) return;
    const rooms = this.shell.rooms;
    const wasLoaded = rooms.loaded;
    const open = this.room && this.room.roomId === summary.room_id ? this.room : null;
    const s = { ...summary };
    // Frames and HTTP answers can cross: a summary read before my position
    // moved must not bring back the counts the move cleared.
    const held = rooms.summaryOf(s.room_id);
    if (held && Number.isInteger(held.read_seq) && Number.isInteger(s.read_seq) && s.read_seq < held.read_seq) {
      s.read_seq = held.read_seq;
      s.unread = held.unread;
      s.mentions = held.mentions;
    }
    if (open && this.view && this.view.isReading && this.view.isReading()) {
      // I am looking at the newest messages; the read post is on its way.
      s.unread = 0;
      s.mentions = 0;
    }
    if (open && this.view && this.view.readKnown) this.view.readKnown(s.read_seq);
    const prev = rooms.upsert(s);
    const name = displayName(s);
    if (!prev && wasLoaded) {
      const mine = s.owner === this.me || (s.kind === 'direct' && this.startingDirect.has(s.peer));
      if (!mine) {
        const text = s.kind === 'direct' ? `${name} started a direct message with you.` : `You were added to “${name}”.`;
        notify(text, 'info', { action: { label: 'Open', onClick: () => this.go(s.room_id) } });
        this.announce(text);
      }
    }
    // A browser notification for news the person would want to hear of.
    const before = prev || { unread: 0, mentions: 0 };
    const mentioned = (s.mentions || 0) > (before.mentions || 0);
    const direct = s.kind === 'direct' && (s.unread || 0) > (before.unread || 0);
    if (mentioned || direct) {
      desktop.show({
        title: mentioned ? `You were mentioned in ${s.kind === 'direct' ? `a message from ${name}` : name}` : `New message from ${name}`,
        body: mentioned ? `${s.mentions} unread ${s.mentions === 1 ? 'mention' : 'mentions'} in ${name}` : `${s.unread} unread ${s.unread === 1 ? 'message' : 'messages'}`,
        tag: s.room_id,
        onClick: () => this.go(s.room_id),
      });
    }
  }

  onRoomRemoved(roomId) {
    if (!this.shell || !roomId) return;
    if (this.room && this.room.roomId === roomId) {
      // The room's own frame says why (deleted, removed) and normally came
      // first; if not, say removed after a moment.
      setTimeout(() => {
        if (this.room && this.room.roomId === roomId) this.roomGone(roomId, 'removed');
      }, OPEN_ROOM_REMOVED_GRACE_MS);
      return;
    }
    this.shell.rooms.remove(roomId);
    this.timelines.delete(roomId);
  }

  /** A live event in the open room: count it unread unless it is being read. */
  onOpenRoomEvent(room, ev, live) {
    if (!live || ev.type !== 'message_sent' || ev.username === this.me || !this.shell) return;
    const rooms = this.shell.rooms;
    const s = rooms.summaryOf(room.roomId);
    const mentioned = Array.isArray(ev.mentions) && ev.mentions.includes(this.me);
    const reading = this.view && this.view.isReading && this.view.isReading();
    if (s && !reading) rooms.update(room.roomId, { unread: (s.unread || 0) + 1, mentions: (s.mentions || 0) + (mentioned ? 1 : 0), last_seq: Math.max(s.last_seq || 0, ev.seq) });
    const direct = (room.room && room.room.kind === 'direct') || (s && s.kind === 'direct');
    if (mentioned || direct) {
      const where = s ? displayName(s) : room.room ? room.room.name : 'a room';
      desktop.show({
        title: direct ? `New message from ${ev.username}` : `${ev.username} mentioned you in ${where}`,
        body: ev.text,
        tag: room.roomId,
        onClick: () => this.go(room.roomId),
      });
    }
  }

  /** I am reading the open room's newest messages: its badge goes now, the read post follows. */
  seen(roomId) {
    if (this.shell) this.shell.rooms.update(roomId, { unread: 0, mentions: 0 });
  }

  /** My read position in a room moved to seq. */
  markedRead(roomId, seq) {
    if (!this.shell) return;
    const s = this.shell.rooms.summaryOf(roomId);
    if (s && (s.read_seq || 0) < seq) this.shell.rooms.update(roomId, { read_seq: seq, unread: 0, mentions: 0 });
  }

  currentReadSeq(roomId) {
    const s = this.shell && this.shell.rooms.summaryOf(roomId);
    return s && Number.isInteger(s.read_seq) ? s.read_seq : 0;
  }

  go(roomId) {
    window.location.hash = `#/rooms/${encodeURIComponent(roomId)}`;
  }

  /** Start (or find) the direct message room with username and open it. Throws ApiError. */
  async startDirect(username) {
    this.startingDirect.add(username);
    try {
      const room = await this.api.startDirect(username);
      if (this.shell) this.shell.rooms.upsert(summaryOfRoom(room, this.me));
      this.go(room.room_id);
      return room;
    } finally {
      // The frame about the new room may come a moment after the answer.
      setTimeout(() => this.startingDirect.delete(username), 5000);
    }
  }

  dismissDraft() {
    if (this.keptDraft) drafts.clear(this.me, this.keptDraft.roomId);
    this.keptDraft = null;
  }

  // ---- the open room ----

  openRoom(roomId) {
    if (this.room && this.room.roomId === roomId) return this.room;
    this.closeRoom();
    let timeline = this.timelines.get(roomId);
    if (!timeline) {
      timeline = new Timeline(roomId);
      this.timelines.set(roomId, timeline);
    }
    const room = new RoomSession(roomId, { api: this.api, socket: this.socket, me: this.me, timeline });
    room.knownName = this.shell ? this.shell.rooms.nameOf(roomId) : null;
    const summary = this.shell ? this.shell.rooms.summaryOf(roomId) : null;
    // Where "New since you left" goes: fixed for this visit.
    room.readInfo = summary && this.shell.rooms.loaded ? readInfoOf(summary) : null;
    room.on('gone', ({ reason }) => this.roomGone(roomId, reason));
    room.on('room', (r) => this.shell && this.shell.rooms.rename(roomId, r.name));
    room.on('activity', (at) => this.shell && this.shell.rooms.touch(roomId, at));
    room.on('event', (ev, { live }) => this.onOpenRoomEvent(room, ev, live));
    room.on('unsent', () => this.renderConnection());
    room.start();
    this.room = room;
    return room;
  }

  closeRoom({ leave = true } = {}) {
    if (!this.room) return;
    const room = this.room;
    this.room = null;
    if (!leave) room.joined = room.joining = false; // destroy() then sends no leave_room
    room.destroy();
  }

  /** The open room went away: deleted, we were removed, we left, or it never was ours. */
  roomGone(roomId, reason) {
    const current = this.room && this.room.roomId === roomId ? this.room : null;
    if (this.shell) this.shell.rooms.remove(roomId);
    this.timelines.delete(roomId);
    if (!current) return; // already handled (the frame and the HTTP answer both tell us)
    if (this.view && this.view.stopReading) this.view.stopReading();
    const plainName = current.room ? (current.room.kind === 'direct' ? (current.room.members.find((m) => m.username !== this.me) || {}).username || current.room.name : current.room.name) : null;
    const name = plainName ? `“${plainName}”` : 'the room';
    const messages = {
      deleted: `${cap(name)} was deleted.`,
      removed: current.selfLeaving ? `You left ${name}.` : `You were removed from ${name}.`,
      left: `You left ${name}.`,
      not_found: "That room doesn't exist, or you're not a member of it.",
    };
    // A half-typed message is not lost with the room: it is kept, and
    // shown on the home page to copy.
    const draft = drafts.get(this.me, roomId);
    if (draft.trim()) this.keptDraft = { roomId, roomName: plainName || 'the room', text: draft };
    // Messages that never went out there cannot go now.
    timelineUnsent(current.timeline);
    // The server already took us out of the room; no leave_room to send.
    this.closeRoom({ leave: false });
    const text = messages[reason] || messages.not_found;
    notify(draft.trim() ? `${text} Your unsent text is kept on the home page.` : text, reason === 'not_found' ? 'error' : 'info');
    this.renderConnection();
    if (window.location.hash === '#/' || window.location.hash === '') this.route();
    else window.location.hash = '#/';
  }

  /** User frames, and frames for rooms that are not open (late ones, after we left). */
  onFrame(f) {
    if (!this.shell) return;
    if (f.type === 'room_summary') {
      this.onSummary(f.room);
      return;
    }
    if (f.type === 'room_removed') {
      this.onRoomRemoved(f.room_id);
      return;
    }
    if (this.room && f.room_id === this.room.roomId) return;
    if (f.type === 'room_deleted' || f.type === 'removed_from_room') this.shell.rooms.remove(f.room_id);
  }

  announce(text) {
    if (!text || !this.announcer) return;
    this.announcer.append(h('p', { text }));
    while (this.announcer.childElementCount > 5) this.announcer.firstElementChild.remove();
  }
}

function cap(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * What the chat view needs for the "New since you left" divider, from a
 * summary; null from a server that keeps no read positions.
 */
function readInfoOf(summary) {
  if (!summary || !Number.isInteger(summary.read_seq)) return null;
  return { read_seq: summary.read_seq, last_seq: summary.last_seq || 0 };
}

/** The pending messages of a room that went away are dropped. */
function timelineUnsent(timeline) {
  if (timeline) timeline.pending.clear();
}

function homeView({ kept, onDismiss }) {
  const card = h(
    'div',
    { class: 'home-card' },
    h('span', { class: 'home-icon' }, icon('chat', 28)),
    h('h2', { class: 'home-title', text: 'Pick a room to start chatting' }),
    h('p', { class: 'muted', text: 'Your rooms are on the left. Create a new one and add people by their usernames.' }),
  );
  const el = h('section', { class: 'home', testid: 'home-view' });
  if (kept) {
    const notice = draftNotice(kept, () => {
      onDismiss();
      notice.remove();
    });
    el.append(notice);
  }
  el.append(card);
  return { el, mounted() {}, destroy() {} };
}

/** The text of a draft whose room went away, to copy somewhere else. */
function draftNotice(kept, dismiss) {
  const text = h('textarea', { class: 'draft-text', testid: 'draft-text', readonly: true, rows: '3', 'aria-labelledby': 'draft-title' });
  text.value = kept.text;
  const status = h('span', { class: 'muted', role: 'status' });
  const copy = h('button', {
    type: 'button',
    class: 'btn btn--primary btn--sm',
    testid: 'draft-copy',
    text: 'Copy text',
    onClick: async () => {
      try {
        await navigator.clipboard.writeText(kept.text);
        status.textContent = 'Copied.';
      } catch {
        text.focus();
        text.select();
        status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
      }
    },
  });
  return h(
    'section',
    { class: 'card draft-notice', testid: 'draft-notice', 'aria-labelledby': 'draft-title' },
    h('h3', { class: 'card-title', id: 'draft-title', text: `Your unsent text in “${kept.roomName}”` }),
    h('p', { class: 'muted', text: 'You are no longer in that room, so it was not sent. Here it is, to keep.' }),
    text,
    h('div', { class: 'draft-actions' }, copy, h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'draft-dismiss', text: 'Dismiss', onClick: dismiss }), status),
  );
}
