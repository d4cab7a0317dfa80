// The sidebar: my rooms, newest activity first, and the form to create one.
// On a phone it is a page of its own (the chat replaces it, see styles.css).
// The list comes a page at a time (GET /rooms follows its cursor); the
// first load shows each page as it arrives, later refreshes swap the whole
// list in at once so it does not shrink and grow again.

import { h, icon, field, setChildren } from '../dom.js';
import { relativeTime, parseUsernames, ROLE_LABELS } from '../format.js';
import { describeError } from './settings.js';

export function roomsView({ api, onCreated }) {
  let rooms = [];
  let activeId = null;
  let loadError = '';
  let loaded = false;
  let loadingMore = false; // the first load has shown some pages, not all
  let refreshing = null; // the refresh under way
  let again = false; // another refresh was asked for meanwhile

  const list = h('ul', { class: 'room-list', testid: 'room-list', 'aria-label': 'Your rooms' });
  const status = h('div', { class: 'room-list-status' });
  const more = h('p', { class: 'muted pad', testid: 'room-list-loading-more', role: 'status', text: 'Loading more rooms…', hidden: true });

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
    h('div', { class: 'sidebar-head' }, h('h2', { class: 'sidebar-heading', id: 'rooms-heading', text: 'Rooms' }), h('span', { class: 'count-badge', testid: 'room-count' })),
    h('div', { class: 'sidebar-scroll' }, status, list, more),
    form,
  );

  function render() {
    root.querySelector('[data-testid="room-count"]').textContent = loaded ? String(rooms.length) : '';
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
    setChildren(
      list,
      rooms.map((r) => {
        const active = r.room_id === activeId;
        return h(
          'li',
          {},
          h(
            'a',
            {
              href: `#/rooms/${encodeURIComponent(r.room_id)}`,
              class: `room-item${active ? ' room-item--active' : ''}`,
              testid: 'room-list-item',
              dataset: { roomId: r.room_id, role: r.role },
              'aria-current': active ? 'page' : undefined,
            },
            h('span', { class: 'room-avatar', 'aria-hidden': 'true', text: '#' }),
            h(
              'span',
              { class: 'room-item-main' },
              h('span', { class: 'room-item-name', testid: 'room-list-item-name', text: r.name }),
              h('span', { class: 'room-item-meta' }, h('span', { class: `role-badge role-badge--${r.role}`, testid: 'room-list-item-role', text: ROLE_LABELS[r.role] || r.role })),
            ),
            h('time', { class: 'room-item-time', testid: 'room-list-item-time', datetime: r.last_activity_at, title: r.last_activity_at ? new Date(r.last_activity_at).toLocaleString() : '', text: relativeTime(r.last_activity_at, now) }),
          ),
        );
      }),
    );
    if (focused) list.querySelector(`[data-room-id="${CSS.escape(focused)}"]`)?.focus();
  }

  /** Only the relative times changed: update them in place. */
  function updateTimes() {
    const now = Date.now();
    for (const el of list.querySelectorAll('[data-testid="room-list-item-time"]')) {
      el.textContent = relativeTime(el.getAttribute('datetime'), now);
    }
  }

  function sortRooms() {
    rooms.sort((a, b) => String(b.last_activity_at).localeCompare(String(a.last_activity_at)) || a.name.localeCompare(b.name));
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
    try {
      const all = await api.listRooms({
        onPage: first
          ? (soFar) => {
              rooms = [...soFar];
              loaded = true;
              loadingMore = true;
              render();
            }
          : undefined,
      });
      rooms = all;
      loadError = '';
      loaded = true;
      sortRooms();
    } catch (err) {
      if (err.code === 'unauthenticated') return;
      if (!loaded) loadError = `Couldn't load your rooms. ${err.message}`;
    } finally {
      loadingMore = false;
    }
    render();
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
      rooms = rooms.filter((r) => r.room_id !== room.room_id);
      rooms.unshift({ room_id: room.room_id, name: room.name, owner: room.owner, role: 'owner', last_seq: room.last_seq, last_activity_at: room.created_at });
      loaded = true;
      render();
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

  // Relative times go stale; redraw them now and then.
  const tick = setInterval(updateTimes, 30000);
  render();

  return {
    el: root,
    refresh,
    setActive(id) {
      activeId = id;
      render();
    },
    /** A message arrived in a room: move it up without asking the server. */
    touch(roomId, at) {
      const r = rooms.find((x) => x.room_id === roomId);
      if (!r || !at || String(at) <= String(r.last_activity_at)) return;
      r.last_activity_at = at;
      sortRooms();
      render();
    },
    /** The name the list knows for a room (shown before the room itself loads). */
    nameOf(roomId) {
      const r = rooms.find((x) => x.room_id === roomId);
      return r ? r.name : null;
    },
    rename(roomId, name) {
      const r = rooms.find((x) => x.room_id === roomId);
      if (r && r.name !== name) {
        r.name = name;
        render();
      }
    },
    remove(roomId) {
      rooms = rooms.filter((x) => x.room_id !== roomId);
      render();
    },
    destroy() {
      clearInterval(tick);
    },
  };
}
