// Half-typed messages, kept per person and room in sessionStorage: they
// survive a reload and a visit to another room, and are not lost when the
// room goes away under the writer (removed, deleted): the app then shows
// the text so it can be copied. sessionStorage is per tab and ends with
// it, so a draft never outlives the browsing session.

const PREFIX = 'chat.draft.';

function key(me, roomId) {
  return `${PREFIX}${me}.${roomId}`;
}

export const drafts = {
  get(me, roomId) {
    try {
      return sessionStorage.getItem(key(me, roomId)) || '';
    } catch {
      return '';
    }
  },
  set(me, roomId, text) {
    try {
      if (text && text.trim()) sessionStorage.setItem(key(me, roomId), text);
      else sessionStorage.removeItem(key(me, roomId));
    } catch {
      /* storage full or unavailable: the draft only lives in the composer */
    }
  },
  clear(me, roomId) {
    this.set(me, roomId, '');
  },
};
