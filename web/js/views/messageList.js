// The scrolling list of a room's events. Keeps the DOM in seq order, with our
// unconfirmed messages after every confirmed one, and keeps the scroll where
// the reader expects it: pinned to the bottom while they are at the bottom,
// still when older pages are put on top or when they are reading back.

import { h, avatar } from '../dom.js';
import { messageTime, fullTime, joinNames } from '../format.js';

const GROUP_WINDOW_MS = 5 * 60 * 1000; // same author within 5 min: one group
const NEAR_BOTTOM_PX = 96;

export class MessageList {
  /**
   * @param {{me: string, onRetry: (id) => void, onDiscard: (id) => void,
   *          onUnseen: (count) => void}} opts
   */
  constructor({ me, onRetry, onDiscard, onUnseen }) {
    this.me = me;
    this.onRetry = onRetry;
    this.onDiscard = onDiscard;
    this.onUnseen = onUnseen;
    this.unseen = 0;
    this.bySeq = new Map();
    this.pendingEls = new Map(); // client_msg_id -> li
    this.list = h('ol', { class: 'messages', testid: 'message-list', 'aria-label': 'Messages' });
  }

  /** Hook up the scroll container (made by the chat view, holds this.list). */
  attach(scroller) {
    this.scroller = scroller;
    this.pinned = true; // the reader is at the bottom (as of the last scroll)
    scroller.addEventListener('scroll', () => {
      this.pinned = this.atBottom();
      if (this.unseen && this.pinned) this.clearUnseen();
    }, { passive: true });
    // A shorter or narrower list (a phone turned, the on-screen keyboard, a
    // composer grown by a long message) keeps its scrollTop, which pushes the
    // newest lines out of view: a reader who was at the bottom stays there.
    if (typeof ResizeObserver === 'function') {
      this.resizeObserver = new ResizeObserver(() => {
        if (this.pinned) this.scrollToBottom();
      });
      this.resizeObserver.observe(scroller);
    }
  }

  detach() {
    if (this.resizeObserver) this.resizeObserver.disconnect();
    this.resizeObserver = null;
  }

  atBottom() {
    const s = this.scroller;
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    if (this.scroller) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.clearUnseen();
  }

  clearUnseen() {
    if (!this.unseen) return;
    this.unseen = 0;
    this.onUnseen(0);
  }

  /** Draw a whole timeline (first visit, fresh history). */
  renderAll(timeline) {
    this.list.replaceChildren();
    this.bySeq.clear();
    this.pendingEls.clear();
    const frag = document.createDocumentFragment();
    for (const ev of timeline.sorted()) {
      const el = this.renderEvent(ev);
      if (el) {
        this.bySeq.set(ev.seq, el);
        frag.append(el);
      }
    }
    for (const p of timeline.pending.values()) {
      const el = this.renderPending(p);
      this.pendingEls.set(p.clientMsgId, el);
      frag.append(el);
    }
    this.list.append(frag);
    for (const el of this.list.children) this.regroup(el);
    this.scrollToBottom();
  }

  /** One new event from a frame or a forward page. */
  insertEvent(ev, { live = false } = {}) {
    if (this.bySeq.has(ev.seq)) return null;
    const el = this.renderEvent(ev);
    if (!el) return null;
    const stick = this.atBottom();
    this.placeBySeq(el, ev.seq);
    this.bySeq.set(ev.seq, el);
    this.regroupAround(el);
    if (stick) this.scrollToBottom();
    else if (live && ev.type === 'message_sent') {
      this.unseen++;
      this.onUnseen(this.unseen);
    }
    return el;
  }

  /** Older events (ascending) go on top without moving what the reader sees. */
  prependEvents(events) {
    if (!events.length || !this.scroller) return;
    const s = this.scroller;
    const beforeHeight = s.scrollHeight;
    const beforeTop = s.scrollTop;
    for (const ev of events) {
      if (this.bySeq.has(ev.seq)) continue;
      const el = this.renderEvent(ev);
      if (!el) continue;
      this.placeBySeq(el, ev.seq);
      this.bySeq.set(ev.seq, el);
    }
    for (const el of this.list.children) this.regroup(el);
    s.scrollTop = beforeTop + (s.scrollHeight - beforeHeight);
  }

  addPending(p) {
    const el = this.renderPending(p);
    this.pendingEls.set(p.clientMsgId, el);
    this.list.append(el);
    this.regroup(el);
    this.scrollToBottom(); // our own message: always show it
  }

  updatePending(p) {
    const old = this.pendingEls.get(p.clientMsgId);
    if (!old) return;
    const el = this.renderPending(p);
    old.replaceWith(el);
    this.pendingEls.set(p.clientMsgId, el);
    this.regroup(el);
  }

  removePending(clientMsgId) {
    const el = this.pendingEls.get(clientMsgId);
    if (!el) return;
    const next = el.nextElementSibling;
    el.remove();
    this.pendingEls.delete(clientMsgId);
    this.regroup(next);
  }

  /** Our message came back: it takes its seq and time and moves to its place. */
  confirm({ clientMsgId, event, isNew }) {
    const pendingEl = this.pendingEls.get(clientMsgId);
    this.pendingEls.delete(clientMsgId);
    if (!isNew || this.bySeq.has(event.seq)) {
      if (pendingEl) {
        const next = pendingEl.nextElementSibling;
        pendingEl.remove();
        this.regroup(next);
      }
      return;
    }
    const stick = this.atBottom();
    const el = this.renderEvent(event);
    if (pendingEl) pendingEl.remove();
    this.placeBySeq(el, event.seq);
    this.bySeq.set(event.seq, el);
    this.regroupAround(el);
    if (stick) this.scrollToBottom();
  }

  /**
   * Put el where seq belongs: after the last confirmed item with a smaller
   * seq, before every pending item. Walks from the end, where almost every
   * insert lands.
   */
  placeBySeq(el, seq) {
    let cursor = this.list.lastElementChild;
    while (cursor && (cursor.dataset.pending === 'true' || Number(cursor.dataset.seq) > seq)) {
      cursor = cursor.previousElementSibling;
    }
    if (cursor) cursor.after(el);
    else this.list.prepend(el);
  }

  regroupAround(el) {
    this.regroup(el);
    this.regroup(el.nextElementSibling);
  }

  /** Consecutive messages by one author within a few minutes drop the repeated header. */
  regroup(el) {
    if (!el || !el.classList.contains('msg')) return;
    const prev = el.previousElementSibling;
    const cont =
      Boolean(prev) &&
      prev.classList.contains('msg') &&
      prev.dataset.author === el.dataset.author &&
      Math.abs(Number(el.dataset.atMs) - Number(prev.dataset.atMs)) < GROUP_WINDOW_MS;
    el.classList.toggle('msg--cont', cont);
  }

  // ---- rendering (textContent only) ----

  renderEvent(ev) {
    switch (ev.type) {
      case 'message_sent':
        return this.renderMessage(ev);
      case 'user_joined':
        return announcement(ev, `${ev.username} joined`);
      case 'user_left':
        return announcement(ev, `${ev.username} left`);
      case 'room_created': {
        const members = Array.isArray(ev.members) && ev.members.length ? ` with ${joinNames(ev.members)}` : '';
        return systemLine(ev, `${ev.username} created the room “${ev.name}”${members}`);
      }
      case 'room_renamed':
        return systemLine(ev, `${ev.username} renamed the room to “${ev.name}”`);
      case 'member_added':
        return systemLine(ev, ev.role === 'admin' ? `${ev.username} made ${ev.member} an admin` : `${ev.username} added ${ev.member}`);
      case 'member_removed':
        return systemLine(ev, ev.member === ev.username ? `${ev.member} left the room` : `${ev.username} removed ${ev.member}`);
      case 'room_deleted':
        return systemLine(ev, `${ev.username} deleted the room`);
      default:
        return null; // a type this client doesn't know: keep the seq, draw nothing
    }
  }

  renderMessage(ev) {
    const mine = ev.username === this.me;
    return h(
      'li',
      {
        class: `msg${mine ? ' msg--mine' : ''}`,
        testid: 'message-item',
        dataset: { seq: ev.seq, clientMsgId: ev.client_msg_id || '', author: ev.username, status: 'sent', atMs: Date.parse(ev.at) || 0 },
      },
      avatar(ev.username),
      h(
        'div',
        { class: 'msg-main' },
        h(
          'div',
          { class: 'msg-meta' },
          h('span', { class: 'msg-author', testid: 'message-author', text: ev.username }),
          timeEl(ev.at),
        ),
        h('p', { class: 'msg-text', testid: 'message-text', text: ev.text }),
      ),
    );
  }

  renderPending(p) {
    const failed = p.status === 'failed';
    const state = failed
      ? h(
          'div',
          { class: 'msg-state msg-state--failed', role: 'alert' },
          h('span', { class: 'msg-status', testid: 'message-status', text: p.error || 'Not sent.' }),
          h('button', { type: 'button', class: 'link-btn', testid: 'message-retry', onClick: () => this.onRetry(p.clientMsgId), text: 'Retry' }),
          h('button', { type: 'button', class: 'link-btn link-btn--muted', testid: 'message-discard', onClick: () => this.onDiscard(p.clientMsgId), text: 'Discard' }),
        )
      : h('div', { class: 'msg-state' }, h('span', { class: 'msg-status', testid: 'message-status', text: 'sending…' }));
    return h(
      'li',
      {
        class: `msg msg--mine msg--pending${failed ? ' msg--failed' : ''}`,
        testid: 'message-item',
        dataset: { clientMsgId: p.clientMsgId, author: this.me, status: failed ? 'failed' : 'sending', pending: 'true', atMs: Date.parse(p.createdAt) || Date.now() },
      },
      avatar(this.me),
      h(
        'div',
        { class: 'msg-main' },
        h('div', { class: 'msg-meta' }, h('span', { class: 'msg-author', testid: 'message-author', text: this.me })),
        h('p', { class: 'msg-text', testid: 'message-text', text: p.text }),
        state,
      ),
    );
  }
}

function timeEl(at) {
  return h('time', { class: 'msg-time', testid: 'message-time', datetime: at, title: fullTime(at), text: messageTime(at) });
}

function announcement(ev, text) {
  return h(
    'li',
    { class: 'announce', testid: 'announcement', dataset: { seq: ev.seq, type: ev.type, username: ev.username } },
    h('span', { class: `announce-dot announce-dot--${ev.type === 'user_joined' ? 'in' : 'out'}`, 'aria-hidden': 'true' }),
    h('span', { class: 'announce-text', text }),
    timeEl(ev.at),
  );
}

function systemLine(ev, text) {
  return h(
    'li',
    { class: 'sys', testid: 'system-event', dataset: { seq: ev.seq, type: ev.type } },
    h('span', { class: 'sys-text', text }),
    timeEl(ev.at),
  );
}

/** What a screen reader hears for a live event (see the announcer in index.html). */
export function spokenText(ev) {
  switch (ev.type) {
    case 'message_sent':
      return `${ev.username}: ${ev.text}`;
    case 'user_joined':
      return `${ev.username} joined`;
    case 'user_left':
      return `${ev.username} left`;
    default:
      return '';
  }
}
