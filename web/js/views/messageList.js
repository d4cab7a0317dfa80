// The scrolling list of a room's events. Keeps the DOM in seq order, with our
// unconfirmed messages after every confirmed one, and keeps the scroll where
// the reader expects it: pinned to the bottom while they are at the bottom,
// still when older pages are put on top or when they are reading back.
//
// A message is drawn as it reads now (edits and deletions folded in, see
// timeline.js); each one has an actions menu (Edit, Delete) and can be
// edited in place. After every change a layout pass collapses join and
// leave lines (presence.js), puts the "New since you left" divider above
// the first message that was unread when the room was opened, and groups
// consecutive messages of one author.

import { h, avatar } from '../dom.js';
import { messageTime, clockTime, fullTime, joinNames, codePointLength } from '../format.js';
import { richText } from '../richtext.js';
import { menuButton, closeMenus } from './messageMenu.js';
import { collapsePresence } from './presence.js';

const GROUP_WINDOW_MS = 5 * 60 * 1000; // same author within 5 min: one group
const NEAR_BOTTOM_PX = 96;
const EDIT_ANSWER_MS = 10000; // no message_edited within this: say it was not saved
const MAX_MESSAGE_CHARS = 4000;

export class MessageList {
  /**
   * @param {{me: string, timeline: Timeline, onRetry: (id) => void, onDiscard: (id) => void,
   *          onUnseen: (count) => void, onEdit: (messageId, text) => void,
   *          onDelete: (messageId, opener) => void, canModerate: () => boolean}} opts
   */
  constructor({ me, timeline, onRetry, onDiscard, onUnseen, onEdit, onDelete, canModerate }) {
    this.me = me;
    this.timeline = timeline;
    this.onRetry = onRetry;
    this.onDiscard = onDiscard;
    this.onUnseen = onUnseen;
    this.onEdit = onEdit;
    this.onDelete = onDelete;
    this.canModerate = canModerate;
    this.unseen = 0;
    this.bySeq = new Map();
    this.pendingEls = new Map(); // client_msg_id -> li
    this.unread = null; // {readSeq, upTo}: where the "New since you left" divider goes
    this.editing = null; // the message being edited in place
    this.layoutQueued = false;
    this.list = h('ol', { class: 'messages', testid: 'message-list', 'aria-label': 'Messages' });
    this.divider = h('li', { class: 'unread-divider', testid: 'unread-divider', role: 'separator', 'aria-label': 'New since you left' }, h('span', { text: 'New since you left' }));
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
    if (this.editing) clearTimeout(this.editing.timer);
    closeMenus();
  }

  atBottom() {
    const s = this.scroller;
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    if (this.scroller) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
    this.clearUnseen();
  }

  /** Show the divider near the top when it is out of view; else the bottom. */
  scrollToUnread() {
    const s = this.scroller;
    if (!s || !this.divider.isConnected) {
      this.scrollToBottom();
      return;
    }
    this.scrollToBottom();
    const offset = this.divider.getBoundingClientRect().top - s.getBoundingClientRect().top;
    if (offset < 0) s.scrollTop += offset - 8;
    this.pinned = this.atBottom();
  }

  clearUnseen() {
    if (!this.unseen) return;
    this.unseen = 0;
    this.onUnseen(0);
  }

  /** Where the "New since you left" divider goes: messages of others in (readSeq, upTo]. */
  setUnreadMarker(marker) {
    this.unread = marker && marker.upTo > marker.readSeq ? marker : null;
    this.layout();
  }

  /** Let admins and the owner see the menu on everyone's messages. */
  setModerator(on) {
    this.list.classList.toggle('messages--mod', Boolean(on));
  }

  /** Draw the whole timeline (first visit, fresh history). */
  renderAll() {
    const timeline = this.timeline;
    this.cancelEdit({ focus: false });
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
    this.layout();
    this.scrollToUnread();
  }

  /** One new event from a frame or a forward page. */
  insertEvent(ev, { live = false } = {}) {
    if (ev.type === 'message_edited' || ev.type === 'message_deleted') {
      this.refreshMessage(ev.message_id);
      return null;
    }
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
    this.scheduleLayout();
    return el;
  }

  /** Older events (ascending) go on top without moving what the reader sees. */
  prependEvents(events) {
    if (!events.length || !this.scroller) return;
    const s = this.scroller;
    const beforeHeight = s.scrollHeight;
    const beforeTop = s.scrollTop;
    for (const ev of events) {
      if (ev.type === 'message_edited' || ev.type === 'message_deleted') {
        this.refreshMessage(ev.message_id);
        continue;
      }
      if (this.bySeq.has(ev.seq)) continue;
      const el = this.renderEvent(ev);
      if (!el) continue;
      this.placeBySeq(el, ev.seq);
      this.bySeq.set(ev.seq, el);
    }
    this.layout();
    s.scrollTop = beforeTop + (s.scrollHeight - beforeHeight);
  }

  /** Draw a message again after an edit or a deletion. */
  refreshMessage(messageId) {
    const ev = this.timeline.message(messageId);
    const old = ev && this.bySeq.get(ev.seq);
    if (!old) return; // not drawn (yet): it is drawn folded when it comes
    const wasEditing = this.editing && this.editing.messageId === messageId ? this.editing : null;
    const focusInside = old.contains(document.activeElement);
    const el = this.renderMessage(ev);
    el.classList.toggle('msg--cont', old.classList.contains('msg--cont'));
    old.replaceWith(el);
    this.bySeq.set(ev.seq, el);
    if (wasEditing) {
      clearTimeout(wasEditing.timer);
      this.editing = null;
      if (wasEditing.returnFocus && document.contains(wasEditing.returnFocus)) wasEditing.returnFocus.focus();
      else (el.querySelector('.msg-menu-btn') || this.scroller)?.focus();
    } else if (focusInside) {
      (el.querySelector('.msg-menu-btn') || this.scroller)?.focus();
    }
    this.scheduleLayout();
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
    this.scheduleLayout();
  }

  /**
   * Put el where seq belongs: after the last confirmed item with a smaller
   * seq, before every pending item. Walks from the end, where almost every
   * insert lands; the divider (no seq) is stepped over.
   */
  placeBySeq(el, seq) {
    let cursor = this.list.lastElementChild;
    while (cursor && (cursor.dataset.pending === 'true' || !cursor.dataset.seq || Number(cursor.dataset.seq) > seq)) {
      cursor = cursor.previousElementSibling;
    }
    if (cursor) cursor.after(el);
    else this.list.prepend(el);
  }

  regroupAround(el) {
    this.regroup(el);
    this.regroup(el.nextElementSibling);
  }

  /**
   * Consecutive messages by one author within a few minutes drop the
   * repeated header. Hidden join/leave lines do not break a group.
   */
  regroup(el) {
    if (!el || !el.classList.contains('msg')) return;
    let prev = el.previousElementSibling;
    while (prev && prev.hidden) prev = prev.previousElementSibling;
    const cont =
      Boolean(prev) &&
      prev.classList.contains('msg') &&
      prev.dataset.author === el.dataset.author &&
      Math.abs(Number(el.dataset.atMs) - Number(prev.dataset.atMs)) < GROUP_WINDOW_MS;
    el.classList.toggle('msg--cont', cont);
  }

  // ---- the layout pass ----

  /** Run layout() once after the current batch of changes. */
  scheduleLayout() {
    if (this.layoutQueued) return;
    this.layoutQueued = true;
    queueMicrotask(() => {
      this.layoutQueued = false;
      this.layout();
    });
  }

  layout() {
    const stick = this.scroller && this.pinned && this.atBottom();
    collapsePresence(this.list.children);
    this.placeDivider();
    for (const el of this.list.children) this.regroup(el);
    if (stick) this.scrollToBottom();
  }

  placeDivider() {
    const u = this.unread;
    let target = null;
    if (u) {
      for (const el of this.list.children) {
        if (!el.classList.contains('msg') || el.dataset.pending === 'true') continue;
        const seq = Number(el.dataset.seq);
        if (seq > u.readSeq && seq <= u.upTo && el.dataset.author !== this.me) {
          target = el;
          break;
        }
        if (seq > u.upTo) break;
      }
    }
    if (!target) this.divider.remove();
    else if (this.divider.nextElementSibling !== target) target.before(this.divider);
  }

  // ---- editing in place ----

  /** The message_id of my newest message that can still be edited. */
  lastOwnMessageId() {
    for (let el = this.list.lastElementChild; el; el = el.previousElementSibling) {
      if (el.classList.contains('msg') && el.dataset.pending !== 'true' && el.dataset.author === this.me && el.dataset.deleted !== 'true' && el.dataset.messageId) {
        return el.dataset.messageId;
      }
    }
    return null;
  }

  /** Open the editor on one of my messages; returnFocus gets the focus back after. */
  startEdit(messageId, { returnFocus = null } = {}) {
    const ev = this.timeline.message(messageId);
    const el = ev && this.bySeq.get(ev.seq);
    if (!el || ev.username !== this.me) return false;
    const state = this.timeline.messageState(ev);
    if (state.deleted) return false;
    this.cancelEdit({ focus: false });
    const input = h('textarea', { class: 'edit-input', testid: 'message-edit-input', rows: '2', 'aria-label': 'Edit message', 'aria-describedby': `edit-hint-${ev.seq}` });
    input.value = state.text;
    const error = h('p', { class: 'edit-error', testid: 'message-edit-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', class: 'btn btn--primary btn--sm', testid: 'message-edit-save', text: 'Save' });
    const cancel = h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'message-edit-cancel', text: 'Cancel', onClick: () => this.cancelEdit() });
    const form = h(
      'form',
      { class: 'edit-form', testid: 'message-edit-form', onSubmit: (e) => { e.preventDefault(); this.saveEdit(); } },
      input,
      h('div', { class: 'edit-actions' }, h('span', { class: 'edit-hint', id: `edit-hint-${ev.seq}`, text: 'Enter to save · Escape to cancel' }), cancel, save),
      error,
    );
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        this.cancelEdit();
      } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.saveEdit();
      }
    });
    const body = el.querySelector('.msg-body');
    body.hidden = true;
    body.after(form);
    el.classList.add('msg--editing');
    this.editing = { messageId, el, form, input, error, save, original: state.text, returnFocus, timer: null };
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    return true;
  }

  saveEdit() {
    const ed = this.editing;
    if (!ed || ed.saving) return;
    const text = ed.input.value.trim();
    if (!text) {
      this.editFailed('A message cannot be empty. Delete it instead.');
      return;
    }
    if (codePointLength(text) > MAX_MESSAGE_CHARS) {
      this.editFailed(`Messages can be at most ${MAX_MESSAGE_CHARS} characters.`);
      return;
    }
    if (text === ed.original) {
      this.cancelEdit();
      return;
    }
    ed.saving = true;
    ed.save.disabled = true;
    ed.save.textContent = 'Saving…';
    ed.error.hidden = true;
    ed.timer = setTimeout(() => this.editFailed('Not saved yet. Check your connection and try again.'), EDIT_ANSWER_MS);
    this.onEdit(ed.messageId, text);
  }

  /** The edit was refused (or never answered): say why, keep the editor. */
  editFailed(message) {
    const ed = this.editing;
    if (!ed) return false;
    clearTimeout(ed.timer);
    ed.saving = false;
    ed.save.disabled = false;
    ed.save.textContent = 'Save';
    ed.error.textContent = message;
    ed.error.hidden = false;
    ed.input.focus();
    return true;
  }

  get isEditing() {
    return Boolean(this.editing);
  }

  cancelEdit({ focus = true } = {}) {
    const ed = this.editing;
    if (!ed) return;
    this.editing = null;
    clearTimeout(ed.timer);
    ed.form.remove();
    ed.el.classList.remove('msg--editing');
    const body = ed.el.querySelector('.msg-body');
    if (body) body.hidden = false;
    if (!focus) return;
    if (ed.returnFocus && document.contains(ed.returnFocus)) ed.returnFocus.focus();
    else ed.el.querySelector('.msg-menu-btn')?.focus();
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
        if (ev.kind === 'direct') return systemLine(ev, `${ev.username} started this conversation`);
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
        // Edits and deletions change the message they name; a type this
        // client doesn't know keeps its seq and draws nothing.
        return null;
    }
  }

  renderMessage(ev) {
    const mine = ev.username === this.me;
    const st = this.timeline.messageState(ev);
    const mentionsMe = !st.deleted && st.mentions.includes(this.me);
    const body = st.deleted
      ? h('p', { class: 'msg-body' }, h('span', { class: 'msg-deleted', testid: 'message-deleted', text: 'message deleted' }))
      : h(
          'p',
          { class: 'msg-body' },
          h('span', { class: 'msg-text', testid: 'message-text' }, richText(st.text, { mentions: st.mentions, me: this.me })),
          st.edited ? h('span', { class: 'msg-edited', testid: 'message-edited', title: st.editedAt ? `Edited ${fullTime(st.editedAt)}` : 'Edited', text: ' (edited)' }) : null,
        );
    const classes = ['msg'];
    if (mine) classes.push('msg--mine');
    if (st.deleted) classes.push('msg--deleted');
    if (mentionsMe) classes.push('msg--mention');
    const id = ev.message_id;
    const menu =
      st.deleted || !id
        ? null
        : h(
            'div',
            { class: `msg-actions${mine ? '' : ' msg-actions--mod'}` },
            menuButton({
              label: `Actions for ${mine ? 'your' : `${ev.username}’s`} message`,
              testid: 'message-menu-button',
              items: () => {
                const items = [];
                if (mine) items.push({ label: 'Edit', testid: 'message-menu-edit', run: (btn) => this.startEdit(id, { returnFocus: btn }) });
                if (mine || this.canModerate()) items.push({ label: 'Delete', testid: 'message-menu-delete', danger: true, run: (btn) => this.onDelete(id, btn) });
                return items;
              },
            }),
          );
    return h(
      'li',
      {
        class: classes.join(' '),
        testid: 'message-item',
        dataset: {
          seq: ev.seq,
          clientMsgId: ev.client_msg_id || '',
          messageId: id || '',
          author: ev.username,
          status: 'sent',
          atMs: Date.parse(ev.at) || 0,
          deleted: st.deleted ? 'true' : 'false',
          edited: st.edited ? 'true' : 'false',
          mentionsMe: mentionsMe ? 'true' : 'false',
        },
      },
      h('span', { class: 'msg-gutter' }, avatar(ev.username), h('time', { class: 'msg-hover-time', testid: 'message-hover-time', datetime: ev.at, title: fullTime(ev.at), text: clockTime(ev.at) })),
      h(
        'div',
        { class: 'msg-main' },
        h(
          'div',
          { class: 'msg-meta' },
          h('span', { class: 'msg-author', testid: 'message-author', text: ev.username }),
          timeEl(ev.at),
        ),
        body,
      ),
      menu,
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
      : h('div', { class: 'msg-state' }, h('span', { class: 'msg-status', testid: 'message-status', text: p.queued ? 'waiting for the connection…' : 'sending…' }));
    return h(
      'li',
      {
        class: `msg msg--mine msg--pending${failed ? ' msg--failed' : ''}`,
        testid: 'message-item',
        dataset: { clientMsgId: p.clientMsgId, author: this.me, status: failed ? 'failed' : 'sending', pending: 'true', atMs: Date.parse(p.createdAt) || Date.now() },
      },
      h('span', { class: 'msg-gutter' }, avatar(this.me)),
      h(
        'div',
        { class: 'msg-main' },
        h('div', { class: 'msg-meta' }, h('span', { class: 'msg-author', testid: 'message-author', text: this.me })),
        h('p', { class: 'msg-body' }, h('span', { class: 'msg-text', testid: 'message-text', text: p.text })),
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
    { class: 'announce', testid: 'announcement', dataset: { seq: ev.seq, type: ev.type, username: ev.username, atMs: Date.parse(ev.at) || 0 } },
    h('span', { class: `announce-dot announce-dot--${ev.type === 'user_joined' ? 'in' : 'out'}`, 'aria-hidden': 'true' }),
    h('span', { class: 'announce-text', testid: 'announcement-text', text }),
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
    case 'message_edited':
      return `${ev.username} edited a message: ${ev.text}`;
    case 'message_deleted':
      return `${ev.username} deleted a message`;
    case 'user_joined':
      return `${ev.username} joined`;
    case 'user_left':
      return `${ev.username} left`;
    default:
      return '';
  }
}
