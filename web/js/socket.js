// The WebSocket connection (PROTOCOL.md, "WebSocket API"): one per tab,
// opened after login, reopened on its own after any drop with exponential
// backoff and jitter. Rooms rejoin themselves on the 'open' event (see
// room.js), which is how a resume with after_seq happens.
//
// Events: 'state' (state), 'open', 'close', 'frame' (object).
// States: 'idle' (not started), 'connecting' (first attempt), 'connected',
//         'reconnecting' (after a drop, waiting or retrying), 'offline' (the
//         browser says there is no network, or a send went unanswered;
//         retried when the browser says the network is back).
//
// The browser's offline event is trusted at once: the socket is closed
// (an open WebSocket on a dead network often notices nothing for minutes)
// and no handshake is tried until the online event, or OFFLINE_RETRY_MS
// in case that event never comes.

import { Emitter } from './emitter.js';

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
// A connection that lived this long was healthy: the next drop starts the
// backoff from the beginning again. Shorter lives keep growing the delay, so
// a server that accepts and drops at once is not hammered.
const HEALTHY_MS = 10000;
const OFFLINE_RETRY_MS = 30000;

export class ChatSocket extends Emitter {
  /**
   * @param {string} url  ws(s)://host/ws
   * @param {{getTicket: () => Promise<string|null>, checkAuth: () => Promise<void>}} hooks
   *   getTicket asks the HTTP API for a single-use ticket for the next
   *   handshake (null: not logged in). checkAuth runs when the handshake
   *   keeps failing: the WebSocket API gives a browser no status code, so
   *   ask the HTTP API whether the token is still good (a 401 there logs
   *   the user out).
   */
  constructor(url, { getTicket, checkAuth }) {
    super();
    this.url = url;
    this.getTicket = getTicket;
    this.checkAuth = checkAuth;
    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.failedHandshakes = 0;
    this.timer = null;
    this.running = false;
    this.fetchingTicket = false;
    this.suspected = false; // a send went unanswered: offline until a socket opens
    this.onOnline = () => {
      this.attempt = 0;
      this.reconnectNow();
    };
    this.onOffline = () => {
      if (!this.running) return;
      this.drop();
      this.setState('offline');
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.running) this.connect();
      }, OFFLINE_RETRY_MS);
    };
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  start() {
    if (this.running) return;
    this.running = true;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connect();
  }

  /** Close for good (logout). No reconnect. */
  stop() {
    this.running = false;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      detach(ws);
      try {
        ws.close(1000, 'logout');
      } catch {
        /* already closed */
      }
    }
    this.setState('idle');
  }

  /** Close the current socket without waiting for the server (the 'close' event still fires). */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    detach(ws);
    try {
      ws.close(4000, 'gone');
    } catch {
      /* already closed */
    }
    this.emit('close');
  }

  /**
   * A send got no answer: the connection is dead without having closed.
   * Drop it, say offline, and open a new one.
   */
  suspect() {
    if (!this.running || !this.ws) return;
    this.suspected = true;
    this.drop();
    this.scheduleReconnect(true);
  }

  /** Skip the wait and try now (the "Retry now" button, the browser coming online). */
  reconnectNow() {
    if (!this.running || this.isOpen || (this.ws && this.ws.readyState === WebSocket.CONNECTING)) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /** Send one action; false when the socket is not open (the caller retries after 'open'). */
  send(message) {
    if (!this.isOpen) return false;
    try {
      this.ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  async connect() {
    if (navigator.onLine === false) {
      // No network: wait for the online event (or the slow retry).
      this.setState('offline');
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.running) this.connect();
      }, OFFLINE_RETRY_MS);
      return;
    }
    if (this.suspected) this.setState('offline');
    else this.setState(this.state === 'idle' || this.state === 'connecting' ? 'connecting' : 'reconnecting');
    // One attempt at a time: a second connect() while a ticket is on its
    // way would open a second socket.
    if (this.fetchingTicket) return;
    this.fetchingTicket = true;
    let ticket;
    try {
      ticket = await this.getTicket();
    } catch {
      ticket = undefined; // unreachable or refused: try again later
    } finally {
      this.fetchingTicket = false;
    }
    if (!this.running || this.ws) return; // stopped, or opened meanwhile
    if (ticket === null) {
      this.stop();
      return;
    }
    if (!ticket) {
      this.scheduleReconnect(true); // the server said nothing of the socket
      return;
    }
    let ws;
    try {
      const url = new URL(this.url);
      url.searchParams.set('ticket', ticket);
      ws = new WebSocket(url.toString());
    } catch {
      this.scheduleReconnect(false);
      return;
    }
    this.ws = ws;
    let openedAt = 0;
    ws.onopen = () => {
      openedAt = Date.now();
      this.failedHandshakes = 0;
      this.suspected = false;
      this.setState('connected');
      this.emit('open');
    };
    ws.onmessage = (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return; // the server only sends JSON; ignore anything else
      }
      if (frame && typeof frame === 'object') this.emit('frame', frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      detach(ws);
      const lived = openedAt ? Date.now() - openedAt : 0;
      if (lived >= HEALTHY_MS) this.attempt = 0;
      this.emit('close');
      if (this.running) this.scheduleReconnect(Boolean(openedAt));
    };
    // onerror is always followed by onclose; nothing to do here.
    ws.onerror = () => {};
  }

  scheduleReconnect(wasOpen) {
    if (!wasOpen) {
      this.failedHandshakes++;
      // Twice in a row without getting in: maybe the token died (logged out
      // elsewhere, expired). The HTTP API can tell us.
      if (this.failedHandshakes >= 2 && this.checkAuth) {
        this.checkAuth().catch(() => {});
      }
    }
    const exp = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    // "Equal jitter": half fixed, half random, so many clients dropped at
    // once by a restart don't all come back in the same instant.
    const delay = Math.round(exp / 2 + Math.random() * (exp / 2));
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setState(navigator.onLine === false || this.suspected ? 'offline' : 'reconnecting');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) this.connect();
    }, delay);
  }
}

function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}
