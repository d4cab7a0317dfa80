// The HTTP API (PROTOCOL.md, "HTTP API"). One method per route; errors come
// back as ApiError with the contract's code, so views can put each one beside
// the field it is about.

// GET /rooms pages: the largest the server gives, so a long list takes few
// requests; and a bound on how many a list may take (100,000 rooms), so a
// server that never ends its pages cannot keep the client asking.
const ROOM_PAGE = 200;
const MAX_ROOM_PAGES = 500;

export class ApiError extends Error {
  constructor(status, code, message, usernames = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.usernames = usernames; // the people an error names (user_not_found, already_member …)
  }
}

/**
 * The people an error is about. The emulator adds a "usernames" list to
 * the error body; the contract only promises the message names them
 * ("no such user: zed, qqq"), so fall back to reading the message.
 */
function namesFrom(error) {
  if (Array.isArray(error.usernames)) return error.usernames.map(String);
  const m = /:\s*(.+)$/.exec(String(error.message || ''));
  if (!m) return null;
  const names = m[1].split(/[\s,]+/).map((s) => s.replace(/^["']|["']$/g, '')).filter((s) => /^[a-z0-9_]+$/i.test(s));
  return names.length ? names : null;
}

export class Api {
  /**
   * @param {string} baseUrl  e.g. http://localhost:3000/api (no trailing slash needed)
   * @param {{getToken: () => string|null, onUnauthenticated: () => void}} hooks
   */
  constructor(baseUrl, { getToken, onUnauthenticated }) {
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    this.getToken = getToken;
    this.onUnauthenticated = onUnauthenticated;
  }

  async request(method, path, { body, auth = true, query } = {}) {
    let url = this.baseUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      const token = this.getToken();
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    let res;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'network', "Can't reach the server. Check your connection and try again.");
    }
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const e = (data && data.error) || {};
      const err = new ApiError(res.status, e.code || `http_${res.status}`, e.message || `The server answered ${res.status}.`, namesFrom(e));
      // A dead token anywhere but login/signup means the session is over.
      if (res.status === 401 && auth && err.code === 'unauthenticated' && this.onUnauthenticated) {
        this.onUnauthenticated();
      }
      throw err;
    }
    return data;
  }

  signup(username, password) {
    return this.request('POST', '/auth/signup', { body: { username, password }, auth: false });
  }

  login(username, password) {
    return this.request('POST', '/auth/login', { body: { username, password }, auth: false });
  }

  logout() {
    return this.request('POST', '/auth/logout');
  }

  me() {
    return this.request('GET', '/me');
  }

  /** A single-use ticket to open one socket with (the token never goes in a URL). */
  async ticket() {
    const data = await this.request('POST', '/auth/ticket');
    return data && data.ticket;
  }

  /** One page of my rooms, newest activity first: {rooms, next}; next is null on the last page. */
  async roomsPage({ limit = ROOM_PAGE, cursor } = {}) {
    const data = await this.request('GET', '/rooms', { query: { limit, cursor } });
    return { rooms: (data && data.rooms) || [], next: (data && data.next) || null };
  }

  /**
   * Every room of mine, page after page. onPage(roomsSoFar) is told after
   * each page, so a first load can show rooms before the last page comes.
   */
  async listRooms({ onPage } = {}) {
    const rooms = [];
    const seen = new Set();
    let cursor;
    for (let pages = 0; pages < MAX_ROOM_PAGES; pages++) {
      const page = await this.roomsPage({ cursor });
      // A room that gains activity while we page moves to the top: the
      // next look at the first page has it. Never show one twice.
      for (const r of page.rooms) {
        if (!seen.has(r.room_id)) {
          seen.add(r.room_id);
          rooms.push(r);
        }
      }
      if (onPage) onPage(rooms);
      if (!page.next || page.next === cursor) break;
      cursor = page.next;
    }
    return rooms;
  }

  createRoom(name, members) {
    const body = { name };
    if (members && members.length) body.members = members;
    return this.request('POST', '/rooms', { body });
  }

  getRoom(roomId) {
    return this.request('GET', `/rooms/${encodeURIComponent(roomId)}`);
  }

  renameRoom(roomId, name) {
    return this.request('PATCH', `/rooms/${encodeURIComponent(roomId)}`, { body: { name } });
  }

  addMembers(roomId, usernames, admin = false) {
    return this.request('POST', `/rooms/${encodeURIComponent(roomId)}/members`, { body: { usernames, admin } });
  }

  removeMember(roomId, username) {
    return this.request('DELETE', `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(username)}`);
  }

  deleteRoom(roomId) {
    return this.request('DELETE', `/rooms/${encodeURIComponent(roomId)}`);
  }

  /** The people I blocked, by name. */
  async blocks() {
    const data = await this.request('GET', '/me/blocks');
    return (data && data.usernames) || [];
  }

  block(username) {
    return this.request('POST', '/me/blocks', { body: { username } });
  }

  unblock(username) {
    return this.request('DELETE', `/me/blocks/${encodeURIComponent(username)}`);
  }

  /** Move my read position in a room forward to seq. */
  markRead(roomId, seq) {
    return this.request('POST', `/rooms/${encodeURIComponent(roomId)}/read`, { body: { seq } });
  }

  /** Start (201) or find (200) the direct message room with someone: a room object, kind "direct". */
  startDirect(username) {
    return this.request('POST', '/dms', { body: { username } });
  }

  /** One page of events, ascending: {events, has_more}. Pass before or after (not both). */
  events(roomId, { before, after, limit = 50 } = {}) {
    return this.request('GET', `/rooms/${encodeURIComponent(roomId)}/events`, {
      query: { before_seq: before, after_seq: after, limit },
    });
  }
}
