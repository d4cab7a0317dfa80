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
  }

  has(seq) {
    return this.events.has(seq);
  }

  /** Start over from a fresh (non-resume) history. */
  reset(events, hasMoreOlder) {
    this.events.clear();
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
    return true;
  }

  /** Events in seq order. */
  sorted() {
    return [...this.events.values()].sort((a, b) => a.seq - b.seq);
  }

  addPending(clientMsgId, text) {
    const p = { clientMsgId, text, status: 'sending', error: null, createdAt: new Date().toISOString() };
    this.pending.set(clientMsgId, p);
    return p;
  }
}
