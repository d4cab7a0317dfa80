// The chat view of one room: header, who is online, the message list with
// upward infinite scroll, the typing indicator and the composer. The data
// work (joins, resumes, paging, sending) is in room.js; this file draws it.
//
// Keys in the composer: Enter sends, Shift+Enter is a new line, Up in an
// empty composer edits my last message (Escape cancels the edit). The
// composer's text is kept as a draft per room (drafts.js).

import { h, icon, avatar, setChildren, show } from '../dom.js';
import { codePointLength, joinNames, ROLE_LABELS } from '../format.js';
import { MessageList, spokenText } from './messageList.js';
import { confirmDialog } from './dialog.js';
import { ReadMarker } from '../readMarker.js';
import { drafts } from '../drafts.js';
import { setTitle } from '../title.js';

const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 4000;
const MAX_MESSAGE_CHARS = 4000;
const LOAD_OLDER_THRESHOLD_PX = 120;

/**
 * readInfo: {read_seq, last_seq} of the room's summary when it was opened
 * (null while the list is not loaded: setReadInfo() brings it later).
 * readSeq: the read position as the list knows it now (later than
 * readInfo's after a visit to the settings). onRead(seq): my read position
 * moved. focusSettings: we came back from
 * the settings, give the focus back to their button.
 */
export function chatView({ session, me, api, announce, readInfo = null, readSeq = 0, onSeen = () => {}, onRead = () => {}, focusSettings = false }) {
  const offs = [];
  const typers = new Map(); // username -> timeout id
  let lastTypingSent = 0;

  // ---- header ----
  const title = h('h2', { class: 'chat-title', testid: 'chat-room-name', id: 'chat-title', text: session.knownName || 'Loading…' });
  const subtitle = h('p', { class: 'chat-subtitle', testid: 'chat-room-meta' });
  const settingsLink = h('a', { href: `#/rooms/${encodeURIComponent(session.roomId)}/settings`, class: 'btn btn--ghost btn--sm', testid: 'chat-settings', 'aria-label': 'Room settings' }, icon('settings', 18), h('span', { class: 'hide-sm', text: 'Settings' }));
  const header = h(
    'header',
    { class: 'chat-header' },
    h('a', { href: '#/', class: 'icon-btn back-btn', testid: 'chat-back', 'aria-label': 'Back to rooms' }, icon('back')),
    h('div', { class: 'chat-heading' }, title, subtitle),
    settingsLink,
  );

  // ---- online ----
  const onlineList = h('ul', { class: 'online-list', testid: 'online-list', 'aria-label': 'Online now' });
  const onlineCount = h('span', { class: 'online-count', testid: 'online-count' });
  const onlineBar = h('div', { class: 'online-bar' }, h('span', { class: 'online-label' }, h('span', { class: 'status-dot status-dot--on', 'aria-hidden': 'true' }), 'Online ', onlineCount), onlineList);

  // ---- messages ----
  const list = new MessageList({
    me,
    timeline: session.timeline,
    onRetry: (id) => session.retry(id),
    onDiscard: (id) => session.discard(id),
    onUnseen: (n) => {
      show(jumpBtn, n > 0);
      jumpLabel.textContent = n === 1 ? '1 new message' : `${n} new messages`;
    },
    onEdit: (id, text) => {
      showError('');
      session.editMessage(id, text);
    },
    onDelete: (id, opener) => deleteMessage(id, opener),
    canModerate: () => ['owner', 'admin'].includes(session.myRole),
  });
  const loadOlderBtn = h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'load-older', text: 'Load earlier messages', onClick: () => loadOlder() });
  const historyStatus = h('div', { class: 'history-status', testid: 'history-status' });
  const scroller = h('div', { class: 'scroller', testid: 'message-scroller', tabindex: '0', 'aria-labelledby': 'chat-title' }, h('div', { class: 'scroller-inner' }, historyStatus, list.list));
  list.attach(scroller);
  const jumpLabel = h('span');
  const jumpBtn = h('button', { type: 'button', class: 'jump-btn', testid: 'jump-to-latest', hidden: true, onClick: () => list.scrollToBottom() }, icon('down', 16), jumpLabel);

  // ---- typing + composer ----
  const typingEl = h('div', { class: 'typing', testid: 'typing-indicator', 'aria-live': 'polite' });
  const input = h('textarea', {
    id: 'chat-input',
    class: 'composer-input',
    testid: 'chat-input',
    rows: '1',
    placeholder: 'Write a message…',
    autocomplete: 'off',
    'aria-describedby': 'composer-hint composer-error',
  });
  const sendBtn = h('button', { type: 'submit', class: 'btn btn--primary send-btn', testid: 'chat-send', 'aria-label': 'Send message' }, icon('send', 18), h('span', { class: 'hide-sm', text: 'Send' }));
  const composerError = h('p', { class: 'composer-error', id: 'composer-error', testid: 'chat-error', role: 'alert', hidden: true });
  const hint = h('p', { class: 'composer-hint', id: 'composer-hint' }, h('kbd', { text: 'Enter' }), ' to send · ', h('kbd', { text: 'Shift' }), '+', h('kbd', { text: 'Enter' }), ' for a new line');
  const counter = h('span', { class: 'composer-counter', testid: 'chat-counter', hidden: true });
  const form = h(
    'form',
    { class: 'composer', testid: 'chat-form', onSubmit: (e) => { e.preventDefault(); submit(); } },
    h('label', { for: 'chat-input', class: 'sr-only', text: 'Message' }),
    h('div', { class: 'composer-row' }, input, sendBtn),
    h('div', { class: 'composer-foot' }, hint, counter),
    composerError,
  );

  const root = h('section', { class: 'chat', testid: 'chat-view', dataset: { roomId: session.roomId }, 'aria-labelledby': 'chat-title' }, header, onlineBar, h('div', { class: 'chat-body' }, scroller, jumpBtn), typingEl, form);

  // ---- behaviour ----

  function renderRoom(room) {
    const peer = room.kind === 'direct' ? (room.members.find((m) => m.username !== me) || {}).username : null;
    const name = peer || room.name;
    title.textContent = name;
    setTitle(`${name} · Chat`);
    root.dataset.kind = room.kind === 'direct' ? 'direct' : 'group';
    if (peer) {
      subtitle.textContent = 'Direct message';
    } else {
      const role = session.myRole;
      const count = room.members.length;
      subtitle.textContent = `${count} ${count === 1 ? 'member' : 'members'}${role ? ` · you are ${ROLE_LABELS[role].toLowerCase()}` : ''}`;
    }
    list.setModerator(['owner', 'admin'].includes(session.myRole));
  }

  function renderOnline(set) {
    // Me first, then everyone else alphabetically.
    const names = [...set].sort((a, b) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b)));
    onlineCount.textContent = `(${names.length})`;
    setChildren(
      onlineList,
      names.map((name) =>
        h('li', { class: 'online-user', testid: 'online-user', dataset: { username: name } }, avatar(name, 'xs'), h('span', { text: name === me ? `${name} (you)` : name })),
      ),
    );
  }

  function renderHistoryStatus() {
    const t = session.timeline;
    if (!t.loaded) setChildren(historyStatus, h('span', { class: 'spinner spinner--sm', 'aria-hidden': 'true' }), h('span', { text: 'Loading messages…' }));
    else if (session.loadingOlder) setChildren(historyStatus, h('span', { class: 'spinner spinner--sm', 'aria-hidden': 'true' }), h('span', { text: 'Loading earlier messages…' }));
    else if (t.hasMoreOlder) setChildren(historyStatus, loadOlderBtn);
    else setChildren(historyStatus, h('span', { class: 'history-start', testid: 'history-start', text: 'This is the beginning of the room.' }));
  }

  function renderTyping() {
    const names = [...typers.keys()];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2 || names.length === 3) text = `${joinNames(names)} are typing…`;
    else if (names.length > 3) text = 'Several people are typing…';
    typingEl.textContent = text;
  }

  function clearTyper(name) {
    if (!typers.has(name)) return;
    clearTimeout(typers.get(name));
    typers.delete(name);
    renderTyping();
  }

  async function loadOlder() {
    const t = session.timeline;
    if (session.loadingOlder || !t.hasMoreOlder) return;
    const p = session.loadOlder();
    renderHistoryStatus();
    try {
      await p;
    } catch {
      /* the session reported it */
    }
    renderHistoryStatus();
    // Still no scrollbar? Fill the screen.
    maybeLoadMore();
  }

  function maybeLoadMore() {
    if (!session.timeline.hasMoreOlder || session.loadingOlder) return;
    if (scroller.scrollTop < LOAD_OLDER_THRESHOLD_PX || scroller.scrollHeight <= scroller.clientHeight + LOAD_OLDER_THRESHOLD_PX) loadOlder();
  }

  scroller.addEventListener('scroll', () => maybeLoadMore(), { passive: true });

  function showError(msg) {
    composerError.textContent = msg || '';
    composerError.hidden = !msg;
  }

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    if (codePointLength(text) > MAX_MESSAGE_CHARS) {
      showError(`Messages can be at most ${MAX_MESSAGE_CHARS} characters.`);
      return;
    }
    showError('');
    session.send(text);
    input.value = '';
    drafts.clear(me, session.roomId);
    lastTypingSent = 0;
    autosize();
    updateCounter();
    input.focus();
  }

  function autosize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  function updateCounter() {
    const n = codePointLength(input.value);
    const near = n > MAX_MESSAGE_CHARS - 500;
    counter.hidden = !near;
    counter.textContent = `${n} / ${MAX_MESSAGE_CHARS}`;
    counter.classList.toggle('composer-counter--over', n > MAX_MESSAGE_CHARS);
  }

  async function deleteMessage(messageId, opener) {
    if (opener) opener.focus(); // the dialog gives the focus back to it
    const ok = await confirmDialog({
      title: 'Delete this message?',
      body: 'Everyone in the room will see “message deleted” in its place. This cannot be undone.',
      confirmLabel: 'Delete',
      danger: true,
    });
    if (!ok) return;
    showError('');
    session.deleteMessage(messageId);
  }

  input.addEventListener('keydown', (e) => {
    // Enter sends, Shift+Enter is a new line; never while an IME is composing.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    } else if (e.key === 'ArrowUp' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && input.value === '') {
      // Up in an empty composer edits my last message.
      const id = list.lastOwnMessageId();
      if (id && list.startEdit(id, { returnFocus: input })) e.preventDefault();
    }
  });
  input.addEventListener('input', () => {
    drafts.set(me, session.roomId, input.value);
    autosize();
    updateCounter();
    if (composerError.hidden === false && input.value.trim()) showError('');
    const now = Date.now();
    if (input.value.trim() && now - lastTypingSent > TYPING_SEND_EVERY_MS) {
      lastTypingSent = now;
      session.sendTyping();
    }
  });

  offs.push(
    session.on('room', renderRoom),
    session.on('online', renderOnline),
    session.on('history', ({ fresh, added }) => {
      if (fresh) list.renderAll();
      else for (const ev of added) list.insertEvent(ev, { live: false });
      renderHistoryStatus();
      requestAnimationFrame(maybeLoadMore);
      marker.check();
    }),
    session.on('event', (ev, { live }) => {
      list.insertEvent(ev, { live });
      if (ev.type === 'message_sent') clearTyper(ev.username);
      // Read out what others do; our own actions need no announcement.
      if (live && ev.username !== me) announce(spokenText(ev));
      marker.check();
    }),
    session.on('older', (events) => {
      list.prependEvents(events);
      renderHistoryStatus();
    }),
    session.on('action-error', ({ action, message }) => {
      if (action === 'edit_message' && list.editFailed(message)) return;
      showError(message);
    }),
    session.on('pending', (p) => list.addPending(p)),
    session.on('pending-update', (p) => list.updatePending(p)),
    session.on('pending-removed', (id) => list.removePending(id)),
    session.on('confirm', (c) => list.confirm(c)),
    session.on('typing', (name) => {
      clearTimeout(typers.get(name));
      typers.set(name, setTimeout(() => clearTyper(name), TYPING_SHOW_MS));
      renderTyping();
    }),
    session.on('error', (msg) => showError(msg)),
    // While the socket is down we don't know who is online: say so.
    session.on('joined', (joined) => onlineBar.classList.toggle('online-bar--stale', !joined)),
  );

  // ---- read position ----
  const marker = new ReadMarker({
    api,
    session,
    me,
    readSeq: Math.max(readSeq, readInfo ? readInfo.read_seq : 0),
    isAtBottom: () => list.atBottom(),
    onSeen,
    onRead,
  });
  scroller.addEventListener('scroll', () => marker.check(), { passive: true });

  function setReadInfo(info) {
    if (!info) return;
    marker.known(info.read_seq || 0);
    list.setUnreadMarker({ readSeq: info.read_seq || 0, upTo: info.last_seq || 0 });
  }
  if (readInfo) list.setUnreadMarker({ readSeq: readInfo.read_seq || 0, upTo: readInfo.last_seq || 0 });

  // Coming back to a room we have in memory: draw it at once, the resume
  // fills in what happened meanwhile.
  setTitle(session.knownName ? `${session.knownName} · Chat` : 'Chat');
  if (session.timeline.loaded) list.renderAll();
  input.value = drafts.get(me, session.roomId);
  if (session.room) renderRoom(session.room);
  renderOnline(session.joined ? session.timeline.online : new Set());
  onlineBar.classList.toggle('online-bar--stale', !session.joined);
  renderHistoryStatus();

  return {
    el: root,
    mounted() {
      list.scrollToUnread();
      autosize();
      marker.check();
      if (focusSettings) settingsLink.focus();
      // Focus the composer, except on touch screens, where it would pop the
      // on-screen keyboard over the messages.
      else if (!window.matchMedia('(pointer: coarse)').matches) input.focus({ preventScroll: true });
    },
    /** The reader sees the newest messages (tab visible, list at the bottom). */
    isReading() {
      return marker.reading();
    },
    setReadInfo,
    /** The room went away: no read to post there any more. */
    stopReading() {
      marker.stop();
    },
    /** The server says my read position is at least seq. */
    readKnown(seq) {
      marker.known(seq);
    },
    destroy() {
      marker.destroy();
      list.detach();
      for (const off of offs) off();
      for (const t of typers.values()) clearTimeout(t);
    },
  };
}
