// One open room: joins it on the socket (and again after every reconnect,
// resuming with after_seq), turns history/live frames and HTTP pages into
// timeline events, fills gaps, and sends messages with client_msg_ids. It
// holds no DOM; the chat and settings views listen to it.
//
// Events emitted:
//   'room' (room object)             name/members known or changed
//   'history' ({fresh, added})       a history frame was applied
//   'event' (event, {live})          one new event, not one of our pending messages
//   'older' (events)                 a page of older events was added (oldest first)
//   'pending' (p) / 'pending-update' (p) / 'pending-removed' (clientMsgId)
//   'confirm' ({clientMsgId, event, isNew})  our message came back with its seq
//   'online' (Set)  'typing' (username)  'joined' (bool)  'activity' (iso time)
//   'gone' ({reason: 'deleted'|'removed'|'not_found'})
//   'error' (message)
//   'action-error' ({action, code, message})   an edit or a deletion was refused
//   'unsent' (count)                 how many of our messages have no answer yet
//
// Sending: one message at a time is out waiting for its echo, the others
// wait their turn, so they are stored in the order they were typed (the
// server handles a connection's frames concurrently and could reorder two
// sent together, which matters most when a queue goes out after a
// reconnect). Nothing goes out until the room is joined; after a rejoin
// the queue goes again from its oldest message, with the same
// client_msg_ids (the server stores a repeated id once). No echo within
// ACK_SUSPECT_MS means the connection is dead without knowing it (a lost
// network often closes nothing): the socket is dropped and opened again.
// A message unanswered on MAX_UNANSWERED connections in a row is marked
// failed, with Retry, and the next one goes.

import { Emitter } from './emitter.js';
import { newClientMsgId } from './format.js';

const ACK_SUSPECT_MS = 5000;
const MAX_UNANSWERED = 3;
const GAP_FILL_DELAY_MS = 250;
const PAGE_LIMIT = 50;
const FORWARD_PAGE_LIMIT = 200;

const ACTION_ERRORS = {
  message_not_found: 'That message no longer exists; it may have been deleted.',
  forbidden: {
    edit_message: 'You can only edit your own messages.',
    delete_message: 'Only its author or a room admin can delete that message.',
  },
  rate_limited: 'You are doing that too fast. Wait a moment and try again.',
  invalid_message: "That text can't be saved: messages are 1 to 4000 characters.",
  not_joined: 'You are not connected to this room right now. Try again in a moment.',
  internal: 'The server had a problem. Try again.',
};

const SEND_ERRORS = {
  rate_limited: "You're sending messages too fast. Wait a moment and retry.",
  invalid_message: "This message can't be sent.",
  internal: 'The server had a problem. Try again.',
};

function sentence(text) {
  const s = String(text || '').trim();
  if (!s) return '';
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
}

export class RoomSession extends Emitter {
  constructor(roomId, { api, socket, me, timeline }) {
    super();
    this.roomId = roomId;
    this.api = api;
    this.socket = socket;
    this.me = me;
    this.timeline = timeline;
    this.room = null;
    this.knownName = null; // the name from the room list, shown until GET /rooms/{id} answers
    this.lastUpdate = null; // the newest room_updated frame
    this.joined = false; // a history arrived on the current connection
    this.joining = false; // join_room sent, history not yet here
    this.resuming = false;
    this.buffer = []; // live frames that arrived before the history
    this.inFlight = null; // the pending message sent and waiting for its echo
    this.ackTimer = null;
    this.filling = false;
    this.fillAgain = false;
    this.gapTimer = null;
    this.loadingOlder = false;
    this.destroyed = false;
    this.unsubs = [];
  }

  start() {
    this.unsubs.push(
      this.socket.on('frame', (f) => this.onFrame(f)),
      this.socket.on('open', () => this.join()),
      this.socket.on('close', () => this.onSocketClose()),
    );
    this.loadRoom();
    if (this.socket.isOpen) this.join();
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const off of this.unsubs) off();
    this.unsubs = [];
    clearTimeout(this.gapTimer);
    clearTimeout(this.ackTimer);
    this.inFlight = null;
    // Leave so the others see us go and we stop counting as online here.
    if (this.joined || this.joining) this.socket.send({ action: 'leave_room', room_id: this.roomId });
    this.joined = this.joining = false;
  }

  get myRole() {
    const m = this.room && this.room.members.find((x) => x.username === this.me);
    return m ? m.role : null;
  }

  async loadRoom() {
    try {
      let room = await this.api.getRoom(this.roomId);
      if (this.destroyed) return;
      // A room_updated may have overtaken this answer; keep the newer state.
      const u = this.lastUpdate;
      if (u && u.seq > (room.last_seq || 0)) room = { ...room, name: u.name, members: u.members, last_seq: u.seq };
      this.setRoom(room);
    } catch (err) {
      if (this.destroyed) return;
      if (err.code === 'room_not_found') this.emit('gone', { reason: 'not_found' });
      else if (err.code !== 'unauthenticated') setTimeout(() => !this.destroyed && this.loadRoom(), 3000);
    }
  }

  setRoom(room) {
    this.room = room;
    this.emit('room', room);
  }

  // ---- joining and frames ----

  join() {
    if (this.destroyed || !this.socket.isOpen) return;
    const msg = { action: 'join_room', room_id: this.roomId };
    this.resuming = this.timeline.loaded && this.timeline.contiguous > 0;
    if (this.resuming) msg.after_seq = this.timeline.contiguous;
    this.joined = false;
    this.joining = true;
    this.buffer = [];
    // A (re)join starts the send queue again from its oldest message.
    clearTimeout(this.ackTimer);
    this.inFlight = null;
    this.socket.send(msg);
  }

  onSocketClose() {
    this.joined = false;
    this.joining = false;
    // Unanswered sends stay "sending"; they go again after the rejoin (the
    // server drops a repeated client_msg_id, so nothing is stored twice).
    clearTimeout(this.ackTimer);
    this.inFlight = null;
    for (const p of this.timeline.pending.values()) {
      if (p.status === 'sending' && !p.queued) {
        p.queued = true;
        this.emit('pending-update', p);
      }
    }
    this.emit('joined', false);
  }

  onFrame(f) {
    if (this.destroyed) return;
    if (f.room_id !== this.roomId) {
      // An error about one of our sends that names no room is still ours.
      if (f.type === 'error' && !f.room_id && f.client_msg_id && this.timeline.pending.has(f.client_msg_id)) this.onError(f);
      return;
    }
    switch (f.type) {
      case 'history':
        this.applyHistory(f);
        break;
      case 'room_deleted':
        this.emit('gone', { reason: 'deleted' });
        break;
      case 'removed_from_room':
        this.emit('gone', { reason: 'removed' });
        break;
      case 'error':
        this.onError(f);
        break;
      case 'typing':
        if (f.username && f.username !== this.me) this.emit('typing', f.username);
        break;
      case 'receive_message':
      case 'message_edited':
      case 'message_deleted':
      case 'join_room_announcement':
      case 'leave_room_announcement':
      case 'room_updated':
        // A live frame can beat our history (it raced the join): hold it until
        // the history is in, then apply; seq dedup drops what history had.
        if (this.joined) this.applyLive(f);
        else this.buffer.push(f);
        break;
      default:
        break; // unknown frame types are ignored
    }
  }

  applyHistory(f) {
    const events = Array.isArray(f.events) ? f.events : [];
    const fresh = !this.resuming || !this.timeline.loaded;
    let added = [];
    if (fresh) {
      // Our messages that made it before a reload of the window are in here.
      for (const ev of events) this.takePending(ev);
      this.timeline.reset(events, f.has_more);
    } else {
      for (const ev of events) if (this.ingest(ev, { live: false })) added.push(ev);
    }
    this.timeline.online = new Set(Array.isArray(f.online) ? f.online : []);
    this.joined = true;
    this.joining = false;
    this.emit('history', { fresh, added });
    this.emit('online', this.timeline.online);
    this.emit('joined', true);

    const buffered = this.buffer;
    this.buffer = [];
    for (const frame of buffered) this.applyLive(frame);

    // On a resume, has_more means newer events than these are waiting.
    if (!fresh && f.has_more) this.fillForward();
    else if (this.timeline.maxSeq > this.timeline.contiguous) this.scheduleGapFill();
    this.resendPending();
  }

  applyLive(f) {
    switch (f.type) {
      case 'receive_message': {
        const ev = {
          seq: f.seq,
          type: 'message_sent',
          username: f.username,
          at: f.at,
          message_id: f.message_id,
          client_msg_id: f.client_msg_id,
          text: f.text,
          mentions: Array.isArray(f.mentions) ? f.mentions : [],
        };
        if (this.ingest(ev, { live: true })) this.emit('activity', f.at);
        break;
      }
      case 'message_edited':
        this.ingest({ seq: f.seq, type: 'message_edited', username: f.username, at: f.at, message_id: f.message_id, text: f.text, mentions: Array.isArray(f.mentions) ? f.mentions : [] }, { live: true });
        break;
      case 'message_deleted':
        this.ingest({ seq: f.seq, type: 'message_deleted', username: f.username, at: f.at, message_id: f.message_id }, { live: true });
        break;
      case 'join_room_announcement':
        if (this.ingest({ seq: f.seq, type: 'user_joined', username: f.username, at: f.at }, { live: true })) {
          this.timeline.online.add(f.username);
          this.emit('online', this.timeline.online);
        }
        break;
      case 'leave_room_announcement':
        if (this.ingest({ seq: f.seq, type: 'user_left', username: f.username, at: f.at }, { live: true })) {
          this.timeline.online.delete(f.username);
          this.emit('online', this.timeline.online);
        }
        break;
      case 'room_updated':
        this.lastUpdate = f;
        if (this.room) this.setRoom({ ...this.room, name: f.name, members: f.members, last_seq: f.seq });
        // Someone removed is out of the room at once, and no leave
        // announcement comes for them: drop them from "online" here.
        if (Array.isArray(f.members)) {
          const names = new Set(f.members.map((x) => x.username));
          let changed = false;
          for (const u of [...this.timeline.online]) {
            if (!names.has(u)) {
              this.timeline.online.delete(u);
              changed = true;
            }
          }
          if (changed) this.emit('online', this.timeline.online);
        }
        // The events behind this change (room_renamed, member_added …) only
        // come over HTTP; fetch them so the system lines show and the resume
        // point can move past them.
        if (Number.isInteger(f.seq) && f.seq > this.timeline.contiguous) this.scheduleGapFill();
        break;
      default:
        break;
    }
  }

  /** If ev is one of our pending messages coming back, take it out of pending. */
  takePending(ev) {
    if (ev.type !== 'message_sent' || ev.username !== this.me || !ev.client_msg_id) return false;
    if (!this.timeline.pending.has(ev.client_msg_id)) return false;
    this.timeline.pending.delete(ev.client_msg_id);
    if (this.inFlight === ev.client_msg_id) {
      clearTimeout(this.ackTimer);
      this.inFlight = null;
      queueMicrotask(() => this.pump()); // the next one, once this event is in
    }
    this.emitUnsent();
    return true;
  }

  /** Add an event from any source; true if it was new. */
  ingest(ev, { live }) {
    const wasPending = this.takePending(ev);
    const isNew = this.timeline.add(ev);
    if (wasPending) this.emit('confirm', { clientMsgId: ev.client_msg_id, event: ev, isNew });
    else if (isNew) this.emit('event', ev, { live });
    if (isNew && this.timeline.maxSeq > this.timeline.contiguous) this.scheduleGapFill();
    return isNew;
  }

  onError(f) {
    if (f.action === 'edit_message' || f.action === 'delete_message' || (!f.action && (f.code === 'message_not_found' || f.code === 'forbidden'))) {
      const action = f.action || 'edit_message';
      const known = ACTION_ERRORS[f.code];
      const message = (known && typeof known === 'object' ? known[action] : known) || sentence(f.message) || 'That did not work. Try again.';
      if (f.code === 'not_joined' && !this.joining) this.join();
      this.emit('action-error', { action, code: f.code, message });
      return;
    }
    if (f.client_msg_id && this.timeline.pending.has(f.client_msg_id)) {
      if (f.code === 'not_joined') {
        // The server lost our join (e.g. it restarted): join again; the
        // message stays "sending" and goes again after the history.
        if (!this.joining) this.join();
        return;
      }
      const p = this.timeline.pending.get(f.client_msg_id);
      p.status = 'failed';
      this.emitUnsent();
      // For invalid_message the server's sentence says what is wrong (too long, empty …).
      p.error = f.code === 'invalid_message' && f.message ? sentence(f.message) : SEND_ERRORS[f.code] || sentence(f.message) || 'Not sent.';
      this.emit('pending-update', p);
      if (this.inFlight === p.clientMsgId) {
        clearTimeout(this.ackTimer);
        this.inFlight = null;
        this.pump();
      }
      return;
    }
    if (f.action === 'join_room') {
      this.joining = false;
      if (f.code === 'room_not_found') this.emit('gone', { reason: 'not_found' });
      else if (f.code === 'rate_limited' || f.code === 'internal') setTimeout(() => this.join(), 2000);
      else this.emit('error', f.message || 'Could not join the room.');
      return;
    }
    if (f.code === 'not_joined' && f.action !== 'leave_room' && !this.joining) this.join();
  }

  // ---- paging ----

  /** Page backwards from the oldest event held. Returns the events added. */
  async loadOlder() {
    const t = this.timeline;
    if (this.loadingOlder || !t.hasMoreOlder || t.minSeq === null) return [];
    this.loadingOlder = true;
    try {
      const page = await this.api.events(this.roomId, { before: t.minSeq, limit: PAGE_LIMIT });
      if (this.destroyed) return [];
      const added = [];
      for (const ev of page.events || []) {
        if (t.add(ev, { older: true })) added.push(ev);
      }
      t.hasMoreOlder = Boolean(page.has_more) && added.length > 0;
      this.emit('older', added);
      return added;
    } catch (err) {
      if (!this.destroyed) {
        if (err.code === 'room_not_found') this.emit('gone', { reason: 'not_found' });
        else if (err.code !== 'unauthenticated') this.emit('error', `Couldn't load earlier messages: ${err.message}`);
      }
      throw err;
    } finally {
      this.loadingOlder = false;
    }
  }

  scheduleGapFill() {
    clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(() => this.fillForward(), GAP_FILL_DELAY_MS);
  }

  /** Page forwards from the resume point until the server says there is no more. */
  async fillForward() {
    if (this.destroyed) return;
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    try {
      do {
        this.fillAgain = false;
        for (;;) {
          const after = this.timeline.contiguous;
          const page = await this.api.events(this.roomId, { after, limit: FORWARD_PAGE_LIMIT });
          if (this.destroyed) return;
          for (const ev of page.events || []) this.ingest(ev, { live: false });
          // Stop when caught up, or when the page moved nothing (avoid spinning).
          if (!page.has_more || this.timeline.contiguous <= after) break;
        }
      } while (this.fillAgain && !this.destroyed);
    } catch (err) {
      if (this.destroyed) return;
      if (err.code === 'room_not_found') this.emit('gone', { reason: 'not_found' });
      else if (err.code !== 'unauthenticated') setTimeout(() => this.fillForward(), 3000);
    } finally {
      this.filling = false;
    }
  }

  // ---- sending ----

  send(text) {
    const p = this.timeline.addPending(newClientMsgId(), text);
    p.queued = !this.joined;
    this.emit('pending', p);
    this.emitUnsent();
    this.pump();
    return p;
  }

  retry(clientMsgId) {
    const p = this.timeline.pending.get(clientMsgId);
    if (!p) return;
    p.status = 'sending';
    p.error = null;
    p.unanswered = 0;
    p.queued = !this.joined;
    this.emit('pending-update', p);
    this.emitUnsent();
    this.pump();
  }

  discard(clientMsgId) {
    if (!this.timeline.pending.delete(clientMsgId)) return;
    if (this.inFlight === clientMsgId) {
      clearTimeout(this.ackTimer);
      this.inFlight = null;
    }
    this.emit('pending-removed', clientMsgId);
    this.emitUnsent();
    this.pump();
  }

  /** How many of our messages here have no answer yet (sending or failed). */
  get unsent() {
    return this.timeline.pending.size;
  }

  emitUnsent() {
    this.emit('unsent', this.unsent);
  }

  /** Send the oldest waiting message, if the room is joined and none is out. */
  pump() {
    if (this.destroyed || this.inFlight || !this.joined || !this.socket.isOpen) return;
    let p = null;
    for (const q of this.timeline.pending.values()) {
      if (q.status === 'sending') {
        p = q;
        break;
      }
    }
    if (!p) return;
    if (!this.socket.send({ action: 'send_message', room_id: this.roomId, client_msg_id: p.clientMsgId, text: p.text })) return;
    this.inFlight = p.clientMsgId;
    for (const q of this.timeline.pending.values()) {
      if (q.queued && q.status === 'sending') {
        q.queued = false;
        this.emit('pending-update', q);
      }
    }
    clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (this.inFlight !== p.clientMsgId || this.timeline.pending.get(p.clientMsgId) !== p) return;
      p.unanswered = (p.unanswered || 0) + 1;
      if (p.unanswered >= MAX_UNANSWERED) {
        this.inFlight = null;
        p.status = 'failed';
        p.error = 'Not delivered yet. Check your connection and retry.';
        this.emit('pending-update', p);
        this.emitUnsent();
        this.pump();
        return;
      }
      // Sent, and nothing came back: the connection is gone without a
      // close. Drop it; the rejoin sends the queue again.
      this.socket.suspect();
    }, ACK_SUSPECT_MS);
  }

  resendPending() {
    this.pump();
  }

  /** Change the text of one of my messages (the answer is a message_edited frame). */
  editMessage(messageId, text) {
    if (!this.joined || !this.socket.send({ action: 'edit_message', room_id: this.roomId, message_id: messageId, text })) {
      this.emit('action-error', { action: 'edit_message', code: 'offline', message: 'You are offline. Your change was not saved; try again when connected.' });
    }
  }

  /** Delete a message (mine, or anyone's for admins and the owner). */
  deleteMessage(messageId) {
    if (!this.joined || !this.socket.send({ action: 'delete_message', room_id: this.roomId, message_id: messageId })) {
      this.emit('action-error', { action: 'delete_message', code: 'offline', message: 'You are offline. The message was not deleted; try again when connected.' });
    }
  }

  sendTyping() {
    if (this.joined) this.socket.send({ action: 'typing', room_id: this.roomId });
  }
}
