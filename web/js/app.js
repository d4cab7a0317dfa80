// The application: boot (config, session check), the hash router, the shell
// (top bar, sidebar, main pane) and the one open room. Views are mounted into
// the main pane and destroyed when the route changes.
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
import { roomsView } from './views/rooms.js';
import { chatView } from './views/chat.js';
import { settingsView } from './views/settings.js';

const ROOMS_POLL_MS = 30000;

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
    this.socket.on('state', (state) => this.renderConnection(state));
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
    if (!m) {
      this.closeRoom();
      this.mount(homeView());
      this.shell.layout.dataset.view = 'list';
      this.shell.rooms.setActive(null);
      document.title = 'Chat';
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
    const view = m[2]
      ? settingsView({
          session: room,
          api: this.api,
          me: this.me,
          notify,
          onRoomsChanged: () => this.shell.rooms.refresh(),
          onLeft: (reason) => this.roomGone(roomId, reason),
        })
      : chatView({ session: room, me: this.me, announce: (text) => this.announce(text) });
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
    document.title = 'Log in · Chat';
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
  }

  // ---- the shell ----

  ensureShell() {
    if (this.shell) return;
    const rooms = roomsView({
      api: this.api,
      onCreated: (room) => {
        window.location.hash = `#/rooms/${encodeURIComponent(room.room_id)}`;
      },
    });
    const connText = h('span', { class: 'conn-text' });
    const retryBtn = h('button', { type: 'button', class: 'link-btn conn-retry', testid: 'reconnect-now', text: 'Retry now', hidden: true, onClick: () => this.socket.reconnectNow() });
    const conn = h('div', { class: 'conn', testid: 'connection-state', role: 'status' }, h('span', { class: 'status-dot', 'aria-hidden': 'true' }), connText, retryBtn);
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
        rooms.refresh();
        this.socket.reconnectNow();
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    const poll = setInterval(() => {
      if (document.visibilityState === 'visible') rooms.refresh();
    }, ROOMS_POLL_MS);
    this.shell = { el, main, layout, rooms, conn, connText, retryBtn, poll, onVisible };
    setChildren(this.root, el);
    this.renderConnection(this.socket.state);
    rooms.refresh();
    this.socket.start();
  }

  renderConnection(state) {
    if (!this.shell) return;
    const { conn, connText, retryBtn } = this.shell;
    conn.dataset.state = state;
    connText.textContent = CONNECTION_TEXT[state] || state;
    retryBtn.hidden = !(state === 'reconnecting' || state === 'offline');
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
    room.on('gone', ({ reason }) => this.roomGone(roomId, reason));
    room.on('room', (r) => this.shell && this.shell.rooms.rename(roomId, r.name));
    room.on('activity', (at) => this.shell && this.shell.rooms.touch(roomId, at));
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
    const name = current.room ? `“${current.room.name}”` : 'the room';
    const messages = {
      deleted: `${cap(name)} was deleted.`,
      removed: current.selfLeaving ? `You left ${name}.` : `You were removed from ${name}.`,
      left: `You left ${name}.`,
      not_found: "That room doesn't exist, or you're not a member of it.",
    };
    // The server already took us out of the room; no leave_room to send.
    this.closeRoom({ leave: false });
    notify(messages[reason] || messages.not_found, reason === 'not_found' ? 'error' : 'info');
    window.location.hash = '#/';
  }

  /** Frames for rooms that are not open (late ones, after we left). */
  onFrame(f) {
    if (!this.shell || (this.room && f.room_id === this.room.roomId)) return;
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

function homeView() {
  const el = h(
    'section',
    { class: 'home', testid: 'home-view' },
    h(
      'div',
      { class: 'home-card' },
      h('span', { class: 'home-icon' }, icon('chat', 28)),
      h('h2', { class: 'home-title', text: 'Pick a room to start chatting' }),
      h('p', { class: 'muted', text: 'Your rooms are on the left. Create a new one and add people by their usernames.' }),
    ),
  );
  return { el, mounted() {}, destroy() {} };
}
