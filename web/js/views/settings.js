// Room settings. Admins and the owner rename the room, add people, make
// people admins and remove them; the owner can delete the room. Plain
// members see who is in the room and can leave it. Anyone can block (and
// unblock) another member: a blocked person can no longer add them to rooms,
// and start a direct message with another member. A direct message room
// has two people and nothing to manage: either may leave it.
//
// Opening the view moves the focus to its heading, so keyboard and screen
// reader users land in it (app.js gives the focus back to the Settings
// button when they return to the chat).

import { h, icon, avatar, field, setChildren } from '../dom.js';
import { parseUsernames, joinNames, ROLE_LABELS } from '../format.js';
import { confirmDialog } from './dialog.js';

/** A user-facing sentence for an API error. */
export function describeError(err, what = 'That') {
  const names = err.usernames && err.usernames.length ? joinNames(err.usernames) : null;
  switch (err.code) {
    case 'user_not_found':
      return names ? `User not found: ${names}.` : 'Some of those people have no account.';
    case 'already_member':
      return names ? `Already in the room: ${names}.` : 'Some of those people are already in the room.';
    case 'invalid_username':
      return names ? `Not a valid username: ${names}. Usernames are 3–32 characters of a–z, 0–9 and _.` : 'Usernames are 3–32 characters of a–z, 0–9 and _.';
    case 'invalid_room_name':
      return 'Room names are 1–100 characters, without control characters.';
    case 'too_many_members':
      return 'That is too many people at once, or the room is full.';
    case 'forbidden':
      return `${what} needs a role you don't have in this room.`;
    case 'rate_limited':
      return 'Too many requests. Wait a moment and try again.';
    case 'too_many_blocks':
      return 'You have blocked as many people as you can. Unblock someone first.';
    default:
      return err.message || 'Something went wrong. Try again.';
  }
}

export function settingsView({ session, api, me, notify, onRoomsChanged, onLeft, onStartDirect }) {
  const offs = [];
  let renderedRole = null;
  let blocked = null; // the people I blocked (a Set), once GET /me/blocks answers

  const heading = h('h2', { class: 'settings-title', id: 'settings-title', testid: 'settings-room-name', tabindex: '-1', text: 'Room settings' });
  const body = h('div', { class: 'settings-body' });
  const root = h(
    'section',
    { class: 'settings', testid: 'settings-view', 'aria-labelledby': 'settings-title' },
    h(
      'header',
      { class: 'chat-header' },
      h('a', { href: `#/rooms/${encodeURIComponent(session.roomId)}`, class: 'icon-btn', testid: 'settings-back', 'aria-label': 'Back to the chat' }, icon('back')),
      h('div', { class: 'chat-heading' }, heading, h('p', { class: 'chat-subtitle', text: 'Room settings' })),
    ),
    h('div', { class: 'settings-scroll' }, body),
  );

  // Parts that update in place when the room changes.
  const memberList = h('ul', { class: 'member-list', testid: 'settings-member-list' });
  const memberCount = h('span', { class: 'count-badge', testid: 'settings-member-count' });
  let renameField = null;
  let nameText = null;

  const isDirect = () => Boolean(session.room && session.room.kind === 'direct');
  const isAdmin = () => !isDirect() && ['owner', 'admin'].includes(session.myRole);
  const peerOf = (room) => (room.kind === 'direct' ? (room.members.find((m) => m.username !== me) || {}).username : null);

  function render() {
    const room = session.room;
    if (!room) {
      setChildren(body, h('p', { class: 'muted', text: 'Loading…' }));
      return;
    }
    renderedRole = `${session.myRole}/${room.kind}`;
    const sections = [];

    // -- name --
    if (isAdmin()) {
      renameField = field({ id: 'settings-rename-input', label: 'Room name', testid: 'settings-rename', input: h('input', { type: 'text', maxlength: '100', required: true, value: room.name, testid: 'settings-rename-input', autocomplete: 'off' }) });
      const renameBtn = h('button', { type: 'submit', class: 'btn btn--primary', testid: 'settings-rename-submit', text: 'Save name' });
      sections.push(
        card('Name', h('form', { class: 'inline-form', testid: 'settings-rename-form', onSubmit: (e) => rename(e, renameBtn) }, renameField.el, renameBtn)),
      );
    } else if (!isDirect()) {
      renameField = null;
      nameText = h('p', { class: 'room-name-display', testid: 'settings-name', text: room.name });
      sections.push(card('Name', nameText));
    } else {
      renameField = null;
      nameText = null;
    }

    // -- members --
    sections.push(card(h('span', {}, 'Members ', memberCount), memberList));

    // -- add people --
    if (isAdmin()) {
      const addField = field({
        id: 'settings-add-input',
        label: 'Usernames',
        testid: 'settings-add',
        hint: 'Separate several names with commas or spaces.',
        input: h('input', { type: 'text', required: true, placeholder: 'e.g. bob, carol', testid: 'settings-add-input', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }),
      });
      const adminBox = h('input', { type: 'checkbox', id: 'settings-add-admin', testid: 'settings-add-admin' });
      const addBtn = h('button', { type: 'submit', class: 'btn btn--primary', testid: 'settings-add-submit', text: 'Add' });
      sections.push(
        card(
          'Add people',
          h(
            'form',
            { class: 'stack-form', testid: 'settings-add-form', onSubmit: (e) => addPeople(e, addField, adminBox, addBtn) },
            addField.el,
            h('div', { class: 'check' }, adminBox, h('label', { for: 'settings-add-admin', text: 'Make them admins (people already in the room are promoted)' })),
            h('div', {}, addBtn),
          ),
        ),
      );
    }

    // -- leave / delete --
    if (session.myRole === 'owner' && !isDirect()) {
      sections.push(
        dangerCard(
          'Delete room',
          h('p', { class: 'muted', text: 'Deleting removes the room and its whole history for everyone. This cannot be undone.' }),
          h('div', {}, h('button', { type: 'button', class: 'btn btn--danger', testid: 'settings-delete', text: 'Delete room…', onClick: deleteRoom })),
        ),
      );
    } else if (session.myRole) {
      sections.push(
        dangerCard(
          'Leave room',
          h('p', { class: 'muted', text: 'You will stop getting messages from this room. An admin can add you back.' }),
          h('div', {}, h('button', { type: 'button', class: 'btn btn--danger-outline', testid: 'settings-leave', text: 'Leave room…', onClick: leave })),
        ),
      );
    }
    setChildren(body, sections);
    renderMembers();
  }

  function card(title, ...content) {
    return h('section', { class: 'card' }, h('h3', { class: 'card-title' }, title), content);
  }

  function dangerCard(title, ...content) {
    return h('section', { class: 'card card--danger' }, h('h3', { class: 'card-title' }, title), content);
  }

  function renderMembers() {
    const room = session.room;
    if (!room) return;
    heading.textContent = peerOf(room) || room.name;
    if (renameField && document.activeElement !== renameField.input && !renameField.input.dataset.dirty) renameField.input.value = room.name;
    if (nameText) nameText.textContent = room.name;
    memberCount.textContent = String(room.members.length);
    const order = { owner: 0, admin: 1, member: 2 };
    const members = [...room.members].sort((a, b) => order[a.role] - order[b.role] || a.username.localeCompare(b.username));
    setChildren(
      memberList,
      members.map((m) => {
        const actions = [];
        const isBlocked = Boolean(blocked && blocked.has(m.username));
        if (isAdmin() && m.role !== 'owner' && m.username !== me) {
          if (m.role === 'member') {
            actions.push(h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'settings-member-make-admin', text: 'Make admin', 'aria-label': `Make ${m.username} an admin`, onClick: (e) => makeAdmin(m.username, e.currentTarget) }));
          }
          actions.push(h('button', { type: 'button', class: 'btn btn--ghost btn--sm btn--danger-text', testid: 'settings-member-remove', text: 'Remove', 'aria-label': `Remove ${m.username}`, onClick: (e) => removeMember(m.username, e.currentTarget) }));
        }
        if (m.username !== me && !isDirect() && onStartDirect) {
          actions.push(h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'settings-member-message', text: 'Message', 'aria-label': `Send ${m.username} a direct message`, onClick: (e) => message(m.username, e.currentTarget) }));
        }
        if (blocked && m.username !== me) {
          actions.push(
            isBlocked
              ? h('button', { type: 'button', class: 'btn btn--ghost btn--sm', testid: 'settings-member-unblock', text: 'Unblock', 'aria-label': `Unblock ${m.username}`, onClick: (e) => unblockUser(m.username, e.currentTarget) })
              : h('button', { type: 'button', class: 'btn btn--ghost btn--sm btn--danger-text', testid: 'settings-member-block', text: 'Block', 'aria-label': `Block ${m.username}`, onClick: (e) => blockUser(m.username, e.currentTarget) }),
          );
        }
        return h(
          'li',
          { class: 'member', testid: 'settings-member', dataset: { username: m.username, role: m.role } },
          avatar(m.username, 'sm'),
          h('span', { class: 'member-name' }, m.username, m.username === me ? h('span', { class: 'muted', text: ' (you)' }) : null),
          h('span', { class: `role-badge role-badge--${m.role}`, testid: 'settings-member-role', text: ROLE_LABELS[m.role] || m.role }),
          isBlocked ? h('span', { class: 'role-badge role-badge--blocked', testid: 'settings-member-blocked', text: 'Blocked' }) : null,
          h('span', { class: 'member-actions' }, actions),
        );
      }),
    );
  }

  function onRoom() {
    // A role change (we were made admin) changes which controls exist.
    if (`${session.myRole}/${session.room && session.room.kind}` !== renderedRole) render();
    else renderMembers();
  }

  async function message(username, btn) {
    try {
      await busy(btn, () => onStartDirect(username));
    } catch (err) {
      if (handleCommonError(err)) return;
      notify(err.code === 'user_not_found' ? `You can't write to ${username}.` : describeError(err, 'Starting a direct message'), 'error');
    }
  }

  async function busy(button, fn) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      return await fn();
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  function handleCommonError(err) {
    if (err.code === 'room_not_found') {
      onLeft('not_found');
      return true;
    }
    return err.code === 'unauthenticated';
  }

  async function rename(e, btn) {
    e.preventDefault();
    const name = renameField.input.value.trim();
    renameField.setError('');
    if (!name) {
      renameField.setError('Give the room a name.');
      renameField.input.focus();
      return;
    }
    if (name === session.room.name) return;
    try {
      const room = await busy(btn, () => api.renameRoom(session.roomId, name));
      delete renameField.input.dataset.dirty;
      session.setRoom(room);
      onRoomsChanged();
      notify(`Renamed to “${room.name}”.`, 'success');
    } catch (err) {
      if (handleCommonError(err)) return;
      renameField.setError(describeError(err, 'Renaming'));
      renameField.input.focus();
    }
  }

  async function addPeople(e, addField, adminBox, btn) {
    e.preventDefault();
    addField.setError('');
    const usernames = parseUsernames(addField.input.value);
    if (!usernames.length) {
      addField.setError('Type at least one username.');
      addField.input.focus();
      return;
    }
    const admin = adminBox.checked;
    try {
      const room = await busy(btn, () => api.addMembers(session.roomId, usernames, admin));
      session.setRoom(room);
      addField.input.value = '';
      adminBox.checked = false;
      onRoomsChanged();
      notify(admin ? `${joinNames(usernames)} ${usernames.length === 1 ? 'is' : 'are'} now ${usernames.length === 1 ? 'an admin' : 'admins'}.` : `Added ${joinNames(usernames)}.`, 'success');
    } catch (err) {
      if (handleCommonError(err)) return;
      addField.setError(describeError(err, 'Adding people'));
      addField.input.focus();
    }
  }

  async function makeAdmin(username, btn) {
    try {
      const room = await busy(btn, () => api.addMembers(session.roomId, [username], true));
      session.setRoom(room);
      notify(`${username} is now an admin.`, 'success');
    } catch (err) {
      if (handleCommonError(err)) return;
      notify(describeError(err, 'Making someone admin'), 'error');
    }
  }

  async function loadBlocks() {
    try {
      blocked = new Set(await api.blocks());
    } catch (err) {
      if (handleCommonError(err)) return;
      return; // no Block buttons without knowing who is blocked
    }
    renderMembers();
  }

  /** Keep keyboard focus on a member's block toggle across a redraw. */
  function focusToggle(username) {
    const row = memberList.querySelector(`[data-testid="settings-member"][data-username="${CSS.escape(username)}"]`);
    row?.querySelector('[data-testid="settings-member-block"], [data-testid="settings-member-unblock"]')?.focus();
  }

  async function blockUser(username, btn) {
    const ok = await confirmDialog({
      title: `Block ${username}?`,
      body: `${username} will no longer be able to add you to rooms; to them you will look like someone without an account. Rooms you are both in stay as they are. You can unblock them later.`,
      confirmLabel: 'Block',
      danger: true,
    });
    if (!ok) return;
    try {
      await busy(btn, () => api.block(username));
      blocked.add(username);
      renderMembers();
      focusToggle(username);
      notify(`You blocked ${username}. They can't add you to rooms.`, 'success');
    } catch (err) {
      if (handleCommonError(err)) return;
      notify(describeError(err, 'Blocking'), 'error');
    }
  }

  async function unblockUser(username, btn) {
    try {
      await busy(btn, () => api.unblock(username));
      blocked.delete(username);
      renderMembers();
      focusToggle(username);
      notify(`You unblocked ${username}.`, 'success');
    } catch (err) {
      if (handleCommonError(err)) return;
      notify(describeError(err, 'Unblocking'), 'error');
    }
  }

  async function removeMember(username, btn) {
    const ok = await confirmDialog({ title: `Remove ${username}?`, body: `${username} will no longer see this room or get its messages.`, confirmLabel: 'Remove', danger: true });
    if (!ok) return;
    try {
      await busy(btn, () => api.removeMember(session.roomId, username));
      if (session.room) session.setRoom({ ...session.room, members: session.room.members.filter((m) => m.username !== username) });
      notify(`Removed ${username}.`, 'success');
    } catch (err) {
      if (handleCommonError(err)) return;
      notify(describeError(err, 'Removing people'), 'error');
    }
  }

  async function leave(e) {
    const btn = e.currentTarget;
    const name = session.room ? peerOf(session.room) || session.room.name : 'this room';
    const body = isDirect() ? 'The conversation leaves your list.' : 'You will stop getting its messages. An admin can add you back later.';
    const ok = await confirmDialog({ title: `Leave “${name}”?`, body, confirmLabel: 'Leave room', danger: true });
    if (!ok) return;
    // The server tells our socket removed_from_room, maybe before this answer;
    // the flag makes that read "You left" rather than "You were removed".
    session.selfLeaving = true;
    try {
      await busy(btn, () => api.removeMember(session.roomId, me));
      onLeft('left', name);
    } catch (err) {
      session.selfLeaving = false;
      if (handleCommonError(err)) return;
      notify(describeError(err, 'Leaving'), 'error');
    }
  }

  async function deleteRoom(e) {
    const btn = e.currentTarget;
    const name = session.room ? session.room.name : 'this room';
    const ok = await confirmDialog({ title: `Delete “${name}”?`, body: 'The room and all of its messages will be gone for everyone. This cannot be undone.', confirmLabel: 'Delete room', danger: true });
    if (!ok) return;
    try {
      await busy(btn, () => api.deleteRoom(session.roomId));
      onLeft('deleted', name);
    } catch (err) {
      if (handleCommonError(err)) return;
      notify(describeError(err, 'Deleting the room'), 'error');
    }
  }

  offs.push(session.on('room', onRoom));
  render();
  loadBlocks();
  root.addEventListener('input', (e) => {
    if (renameField && e.target === renameField.input) renameField.input.dataset.dirty = '1';
  });

  return {
    el: root,
    mounted() {
      heading.focus({ preventScroll: true });
    },
    destroy() {
      for (const off of offs) off();
    },
  };
}
