// The data of one room's timeline, kept in memory across visits so that
// coming back to a room resumes with after_seq instead of starting over.
//
// Seq is an event's identity (PROTOCOL.md, "Ordering and delivery"): an
// event whose seq we hold is ignored, whatever path it came by (history,
// a page, a live frame, a repeat).
//
// `contiguous` is the resume point: the highest seq such that every event
// from the oldest one held up to it is here. It is not simply the highest
// seq seen: room_updated carries the seq of an event that never arrives as a
// live frame (room_renamed, member_added …), and resuming after it would
// skip that event for good.
//
// Edits and deletions are events of their own (message_edited,
// message_deleted) that name the message they change by message_id. They
// are kept by seq like every other event, and also folded into `changes`,
// so the message they change is drawn as it now is, whichever of the two
// came first (an older page can bring the message after its edit).

export class Timeline {
  constructor(roomId) {
    this.roomId = roomId;
    this.events = new Map(); // seq -> event object (PROTOCOL.md "Event object")
    this.minSeq = null;
    this.maxSeq = 0;
    this.contiguous = 0;
    this.hasMoreOlder = false;
    this.loaded = false; // a first history has been applied
    this.pending = new Map(); // client_msg_id -> {clientMsgId, text, status, error, createdAt}
    this.online = new Set();
    this.changes = new Map(); // message_id -> {text, mentions, editSeq, editedAt, deleted, deletedBy}
    this.messageSeq = new Map(); // message_id -> seq of its message_sent
  }

  has(seq) {
    return this.events.has(seq);
  }

  /** Start over from a fresh (non-resume) history. */
  reset(events, hasMoreOlder) {
    this.events.clear();
    this.changes.clear();
    this.messageSeq.clear();
    this.minSeq = null;
    this.maxSeq = 0;
    this.contiguous = 0;
    const sorted = [...events].sort((a, b) => a.seq - b.seq);
    if (sorted.length) this.contiguous = sorted[0].seq - 1;
    for (const ev of sorted) this.add(ev, { older: true });
    this.hasMoreOlder = Boolean(hasMoreOlder);
    this.loaded = true;
  }

  /**
   * Add one event; true when it is new. Events older than the oldest one
   * held are only taken when paging backwards (older: true), so the window
   * stays one unbroken range.
   */
  add(ev, { older = false } = {}) {
    if (!ev || !Number.isInteger(ev.seq) || ev.seq < 1) return false;
    if (this.events.has(ev.seq)) return false;
    if (!older && this.minSeq !== null && ev.seq < this.minSeq) return false;
    this.events.set(ev.seq, ev);
    if (this.minSeq === null || ev.seq < this.minSeq) this.minSeq = ev.seq;
    if (ev.seq > this.maxSeq) this.maxSeq = ev.seq;
    if (this.contiguous === 0 && this.events.size === 1) this.contiguous = ev.seq - 1;
    while (this.events.has(this.contiguous + 1)) this.contiguous++;
    this.fold(ev);
    return true;
  }

  fold(ev) {
    if (!ev.message_id) return;
    if (ev.type === 'message_sent') {
      this.messageSeq.set(ev.message_id, ev.seq);
      if (ev.deleted) this.change(ev.message_id).deleted = true;
    } else if (ev.type === 'message_edited') {
      const c = this.change(ev.message_id);
      // Pages can bring edits out of order: the newest one wins.
      if (ev.seq > c.editSeq) {
        c.editSeq = ev.seq;
        c.editedAt = ev.at;
        c.text = ev.text;
        c.mentions = Array.isArray(ev.mentions) ? ev.mentions : [];
      }
      if (ev.deleted) c.deleted = true;
    } else if (ev.type === 'message_deleted') {
      const c = this.change(ev.message_id);
      c.deleted = true;
      c.deletedBy = ev.username;
    }
  }

  change(messageId) {
    let c = this.changes.get(messageId);
    if (!c) {
      c = { text: null, mentions: null, editSeq: 0, editedAt: null, deleted: false, deletedBy: null };
      this.changes.set(messageId, c);
    }
    return c;
  }

  /**
   * A message as it reads now: {text, mentions, edited, editedAt, deleted}.
   * A deleted message has no text (the server erases it).
   */
  messageState(ev) {
    const c = ev.message_id ? this.changes.get(ev.message_id) : null;
    const deleted = Boolean(ev.deleted || (c && c.deleted));
    const edited = Boolean(c && c.editSeq);
    return {
      text: deleted ? '' : edited ? c.text : ev.text,
      mentions: (edited ? c.mentions : ev.mentions) || [],
      edited,
      editedAt: edited ? c.editedAt : null,
      deleted,
      deletedBy: c ? c.deletedBy : null,
    };
  }

  /** The message_sent event of a message, if held. */
  message(messageId) {
    const seq = this.messageSeq.get(messageId);
    return seq ? this.events.get(seq) : null;
  }

  /** Events in seq order. */
  sorted() {
    return [...this.events.values()].sort((a, b) => a.seq - b.seq);
  }

  addPending(clientMsgId, text) {
    const p = { clientMsgId, text, status: 'sending', error: null, createdAt: new Date().toISOString(), unanswered: 0 };
    this.pending.set(clientMsgId, p);
    return p;
  }
}
