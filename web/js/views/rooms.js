// The sidebar: my rooms, newest activity first, with unread and mention
// badges; starting a direct message; turning on browser notifications; and
// the form to create a room. On a phone it is a page of its own (the chat
// replaces it, see styles.css).
//
// The list is loaded page by page (GET /rooms follows its cursor) and then
// kept up to date by the server's user frames (room_summary, room_removed,
// see app.js), which arrive whether or not a room is open. A load only
// fills in what the frames could not say (after a reconnect, or now and
// then as a fallback); frames that arrive while a load is under way win
// over its answer, which may have been read before them.

import { h, icon, avatar, field, setChildren } from '../dom.js';
import { relativeTime, parseUsernames, ROLE_LABELS } from '../format.js';
import { describeError } from './settings.js';
import { desktop } from '../desktop.js';

/** The name a room goes by in the list: the other person's, for a direct one. */
export function displayName(r) {
  return r.kind === 'direct' && r.peer ? r.peer : r.name;
}

function countText(n) {
  return n > 99 ? '99+' : String(n);
}

export function roomsView({ api, me, onCreated, onStartDirect, onChange }) {
  let rooms = [];
  let activeId = null;
  let loadError = '';
  let loaded = false; // some of the list is shown
  let complete = false; // a whole list has been loaded once: a room unknown now is new
  let loadingMore = false; // the first load has shown some pages, not all
  let refreshing = null; // the refresh under way
  let again = false; // another refresh was asked for meanwhile
  let live = null; // room id -> summary (or null: removed) from frames during a load

  const list = h('ul', { class: 'room-list', testid: 'room-list', 'aria-label': 'Your rooms' });
  const status = h('div', { class: 'room-list-status' });
  const more = h('p', { class: 'muted pad', testid: 'room-list-loading-more', role: 'status', text: 'Loading more rooms…', hidden: true });
  const countEl = h('span', { class: 'count-badge', testid: 'room-count' });

  // ---- notifications ----
  const notifyBtn = h('button', { type: 'button', class: 'btn btn--ghost btn--sm notify-btn', testid: 'enable-notifications', hidden: true }, icon('bell', 16), h('span', { text: 'Enable notifications' }));
  notifyBtn.addEventListener('click', async () => {
    notifyBtn.disabled = true;
    await desktop.request();
    notifyBtn.disabled = false;
    renderNotify();
  });
  function renderNotify() {
    notifyBtn.hidden = desktop.permission !== 'default';
  }
  renderNotify();

  // ---- direct message form ----
  const dmToggle = h('button', { type: 'button', class: 'btn btn--ghost btn--sm dm-toggle', testid: 'new-dm', 'aria-expanded': 'false', 'aria-controls': 'dm-form', 'aria-label': 'New direct message', title: 'New direct message' }, icon('plus', 16), h('span', { text: 'Direct message' }));
  const dmField = field({
    id: 'dm-username',
    label: 'Username',
    testid: 'dm-username',
    input: h('input', { type: 'text', required: true, maxlength: '32', placeholder: 'e.g. bob', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', testid: 'dm-username' }),
  });
  const dmSubmit = h('button', { type: 'submit', class: 'btn btn--primary btn--sm', testid: 'dm-submit', text: 'Start' });
  const dmCancel = h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'dm-cancel', text: 'Cancel' });
  const dmForm = h(
    'form',
    { class: 'dm-form', id: 'dm-form', testid: 'dm-form', 'aria-label': 'New direct message', novalidate: true, hidden: true },
    dmField.el,
    h('div', { class: 'dm-actions' }, dmCancel, dmSubmit),
  );
  function showDmForm(open) {
    dmForm.hidden = !open;
    dmToggle.setAttribute('aria-expanded', String(open));
    dmField.setError('');
    if (open) dmField.input.focus();
    else dmToggle.focus();
  }
  dmToggle.addEventListener('click', () => showDmForm(dmForm.hidden));
  dmCancel.addEventListener('click', () => showDmForm(false));
  dmForm.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      showDmForm(false);
    }
  });
  dmForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    dmField.setError('');
    const [name] = parseUsernames(dmField.input.value);
    if (!name) {
      dmField.setError('Type the username of the person to write to.');
      dmField.input.focus();
      return;
    }
    dmSubmit.disabled = true;
    try {
      await onStartDirect(name);
      dmField.input.value = '';
      dmForm.hidden = true;
      dmToggle.setAttribute('aria-expanded', 'false');
    } catch (err) {
      if (err.code === 'unauthenticated') return;
      dmField.setError(directError(err, name, me));
      dmField.input.focus();
    } finally {
      dmSubmit.disabled = false;
    }
  });

  // ---- create form ----
  const nameField = field({
    id: 'create-room-name',
    label: 'Room name',
    testid: 'create-room-name',
    input: h('input', { type: 'text', maxlength: '100', required: true, placeholder: 'e.g. Weekend plans', autocomplete: 'off', testid: 'create-room-name' }),
  });
  const membersField = field({
    id: 'create-room-members',
    label: 'People to add (optional)',
    testid: 'create-room-members',
    hint: 'Usernames, separated by commas or spaces.',
    input: h('input', { type: 'text', placeholder: 'e.g. bob, carol', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', testid: 'create-room-members' }),
  });
  const createBtn = h('button', { type: 'submit', class: 'btn btn--primary btn--block', testid: 'create-room-submit' }, icon('plus', 18), h('span', { text: 'Create room' }));
  const createError = h('p', { class: 'form-error', testid: 'create-room-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'create-room', testid: 'create-room-form', 'aria-labelledby': 'create-room-title', novalidate: true },
    h('h2', { class: 'sidebar-heading', id: 'create-room-title', text: 'New room' }),
    nameField.el,
    membersField.el,
    createError,
    createBtn,
  );

  const root = h(
    'nav',
    { class: 'sidebar', testid: 'rooms-view', 'aria-label': 'Rooms' },
    h('div', { class: 'sidebar-head' }, h('h2', { class: 'sidebar-heading', id: 'rooms-heading', text: 'Rooms' }), countEl, h('span', { class: 'topbar-spacer' }), dmToggle),
    dmForm,
    notifyBtn,
    h('div', { class: 'sidebar-scroll' }, status, list, more),
    form,
  );

  function render() {
    countEl.textContent = loaded ? String(rooms.length) : '';
    more.hidden = !loadingMore;
    if (!loaded && !loadError) {
      setChildren(status, h('p', { class: 'muted pad', text: 'Loading rooms…' }));
    } else if (loadError) {
      setChildren(status, h('div', { class: 'inline-error pad', role: 'alert' }, h('p', { text: loadError }), h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'rooms-retry', text: 'Try again', onClick: () => refresh() })));
    } else if (!rooms.length) {
      setChildren(status, h('div', { class: 'empty pad', testid: 'room-list-empty' }, h('p', { class: 'empty-title', text: 'No rooms yet' }), h('p', { class: 'muted', text: 'Create one below, or ask someone to add you to theirs.' })));
    } else {
      status.replaceChildren();
    }
    const now = Date.now();
    // Redrawing replaces the links; keep keyboard focus on the same room.
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.roomId : null;
    setChildren(list, rooms.map((r) => item(r, now)));
    if (focused) list.querySelector(`[data-room-id="${CSS.escape(focused)}"]`)?.focus();
    if (onChange) onChange();
  }

  function item(r, now) {
    const active = r.room_id === activeId;
    const direct = r.kind === 'direct';
    const name = displayName(r);
    const unread = Number(r.unread) || 0;
    const mentions = Number(r.mentions) || 0;
    const label = [name, direct ? 'direct message' : null, unread ? `${countText(unread)} unread` : null, mentions ? `${countText(mentions)} ${mentions === 1 ? 'mention' : 'mentions'}` : null].filter(Boolean).join(', ');
    return h(
      'li',
      {},
      h(
        'a',
        {
          href: `#/rooms/${encodeURIComponent(r.room_id)}`,
          class: `room-item${active ? ' room-item--active' : ''}${unread ? ' room-item--unread' : ''}`,
          testid: 'room-list-item',
          dataset: { roomId: r.room_id, role: r.role, kind: direct ? 'direct' : 'group', unread, mentions },
          'aria-current': active ? 'page' : undefined,
          'aria-label': label,
        },
        direct ? h('span', { class: 'room-avatar room-avatar--person', 'aria-hidden': 'true' }, avatar(name, 'sm')) : h('span', { class: 'room-avatar', 'aria-hidden': 'true', text: '#' }),
        h(
          'span',
          { class: 'room-item-main' },
          h('span', { class: 'room-item-name', testid: 'room-list-item-name', text: name }),
          h(
            'span',
            { class: 'room-item-meta' },
            direct
              ? h('span', { class: 'role-badge role-badge--direct', testid: 'room-list-item-kind', text: 'Direct' })
              : h('span', { class: `role-badge role-badge--${r.role}`, testid: 'room-list-item-role', text: ROLE_LABELS[r.role] || r.role }),
          ),
        ),
        h(
          'span',
          { class: 'room-item-side' },
          h('time', { class: 'room-item-time', testid: 'room-list-item-time', datetime: r.last_activity_at, title: r.last_activity_at ? new Date(r.last_activity_at).toLocaleString() : '', text: relativeTime(r.last_activity_at, now) }),
          h(
            'span',
            { class: 'room-item-badges' },
            mentions ? h('span', { class: 'badge badge--mention', testid: 'room-list-item-mentions', title: `${mentions} ${mentions === 1 ? 'mention' : 'mentions'} of you` }, icon('at', 12), countText(mentions)) : null,
            unread ? h('span', { class: 'badge badge--unread', testid: 'room-list-item-unread', title: `${unread} unread`, text: countText(unread) }) : null,
          ),
        ),
      ),
    );
  }

  /** Only the relative times changed: update them in place. */
  function updateTimes() {
    const now = Date.now();
    for (const el of list.querySelectorAll('[data-testid="room-list-item-time"]')) {
      el.textContent = relativeTime(el.getAttribute('datetime'), now);
    }
  }

  function sortRooms() {
    rooms.sort((a, b) => String(b.last_activity_at).localeCompare(String(a.last_activity_at)) || displayName(a).localeCompare(displayName(b)));
  }

  /** Load the list again; asked while a load is under way, it runs once more after it. */
  async function refresh() {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        await load();
      } while (again);
    })();
    try {
      await refreshing;
    } finally {
      refreshing = null;
    }
  }

  async function load() {
    const first = !loaded;
    live = new Map();
    try {
      const all = await api.listRooms({
        onPage: first
          ? (soFar) => {
              rooms = merge([...soFar], live);
              loaded = true;
              loadingMore = true;
              render();
            }
          : undefined,
      });
      rooms = merge(all, live);
      loadError = '';
      loaded = true;
      complete = true;
      sortRooms();
    } catch (err) {
      if (err.code === 'unauthenticated') return;
      if (!loaded) loadError = `Couldn't load your rooms. ${err.message}`;
    } finally {
      loadingMore = false;
      live = null;
    }
    render();
  }

  /** A loaded list with the frames that came during the load put on top. */
  function merge(loadedRooms, changes) {
    if (!changes.size) return loadedRooms;
    const out = loadedRooms.filter((r) => !changes.has(r.room_id));
    for (const s of changes.values()) if (s) out.push(s);
    return out;
  }

  function find(roomId) {
    return rooms.find((x) => x.room_id === roomId) || null;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    nameField.setError('');
    membersField.setError('');
    createError.hidden = true;
    const name = nameField.input.value.trim();
    if (!name) {
      nameField.setError('Give the room a name.');
      nameField.input.focus();
      return;
    }
    const members = parseUsernames(membersField.input.value);
    createBtn.disabled = true;
    try {
      const room = await api.createRoom(name, members);
      nameField.input.value = '';
      membersField.input.value = '';
      upsert(summaryOfRoom(room, me));
      onCreated(room);
    } catch (err) {
      if (err.code === 'unauthenticated') return;
      const msg = describeError(err, 'Creating a room');
      if (['user_not_found', 'invalid_username', 'too_many_members'].includes(err.code)) {
        membersField.setError(msg);
        membersField.input.focus();
      } else if (err.code === 'invalid_room_name') {
        nameField.setError(msg);
        nameField.input.focus();
      } else {
        createError.textContent = msg;
        createError.hidden = false;
      }
    } finally {
      createBtn.disabled = false;
    }
  });

  /**
   * Put a summary in the list (new, or newer than the one held). Returns
   * the summary held before, or null when the room is new to the list.
   */
  function upsert(summary) {
    if (!summary || !summary.room_id) return null;
    const prev = find(summary.room_id);
    const next = { ...(prev || {}), ...summary };
    // An older answer must not move the activity time back.
    if (prev && String(prev.last_activity_at) > String(summary.last_activity_at || '')) next.last_activity_at = prev.last_activity_at;
    if (prev) rooms[rooms.indexOf(prev)] = next;
    else rooms.push(next);
    if (live) live.set(summary.room_id, next);
    sortRooms();
    render();
    return prev;
  }

  function update(roomId, patch) {
    const r = find(roomId);
    if (!r) return;
    let changed = false;
    for (const [k, v] of Object.entries(patch)) {
      if (r[k] !== v) {
        r[k] = v;
        changed = true;
      }
    }
    if (!changed) return;
    if (live) live.set(roomId, r);
    if ('last_activity_at' in patch) sortRooms();
    render();
  }

  // Relative times go stale; redraw them now and then.
  const tick = setInterval(updateTimes, 30000);
  render();

  return {
    el: root,
    refresh,
    upsert,
    update,
    /** The whole list has been loaded at least once. */
    get loaded() {
      return complete;
    },
    setActive(id) {
      activeId = id;
      render();
    },
    /** A message arrived in a room: move it up without asking the server. */
    touch(roomId, at) {
      const r = find(roomId);
      if (!r || !at || String(at) <= String(r.last_activity_at)) return;
      update(roomId, { last_activity_at: at });
    },
    summaryOf(roomId) {
      return find(roomId);
    },
    /** The name the list knows for a room (shown before the room itself loads). */
    nameOf(roomId) {
      const r = find(roomId);
      return r ? displayName(r) : null;
    },
    rename(roomId, name) {
      update(roomId, { name });
    },
    remove(roomId) {
      if (live) live.set(roomId, null);
      if (!find(roomId)) return false;
      rooms = rooms.filter((x) => x.room_id !== roomId);
      render();
      return true;
    },
    totalUnread() {
      return rooms.reduce((n, r) => n + (Number(r.unread) || 0), 0);
    },
    refreshNotifyButton: renderNotify,
    destroy() {
      clearInterval(tick);
    },
  };
}

/** A list summary made from a room object (create, direct message start). */
export function summaryOfRoom(room, me) {
  const members = Array.isArray(room.members) ? room.members : [];
  const mine = members.find((m) => m.username === me);
  const other = members.find((m) => m.username !== me);
  const s = {
    room_id: room.room_id,
    name: room.name,
    owner: room.owner,
    role: mine ? mine.role : room.owner === me ? 'owner' : 'member',
    last_seq: room.last_seq,
    last_activity_at: room.last_activity_at || room.created_at,
    kind: room.kind || 'group',
  };
  if (s.kind === 'direct' && other) s.peer = other.username;
  return s;
}

/** The sentence for a refused direct message. */
export function directError(err, name, me) {
  switch (err.code) {
    case 'user_not_found':
      return `No one is called ${name}.`;
    case 'invalid_username':
      return name === me ? "That's you. Type someone else's username." : 'Usernames are 3–32 characters of a–z, 0–9 and _.';
    default:
      return describeError(err, 'Starting a direct message');
  }
}
