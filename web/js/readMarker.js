// Moves my read position in the open room (POST /rooms/{id}/read) when I
// have seen its newest messages: the tab is visible, the list is scrolled
// to the bottom, and something from someone else came after the position
// the server holds. Checks come often (every scroll, every new message);
// a post goes at most once per DEBOUNCE_MS and one at a time, so a burst
// of messages read at the bottom costs one request, not one each.

const DEBOUNCE_MS = 400;

export class ReadMarker {
  /**
   * @param {{api, session: RoomSession, me: string, readSeq: number,
   *          isAtBottom: () => boolean, onSeen: () => void, onRead: (seq) => void}} opts
   *   onSeen: the reader sees news now (the badge can go before the post);
   *   onRead: the server holds the new position.
   */
  constructor({ api, session, me, readSeq, isAtBottom, onSeen = () => {}, onRead }) {
    this.api = api;
    this.session = session;
    this.me = me;
    this.read = readSeq || 0; // the position the server holds, as far as we know
    this.isAtBottom = isAtBottom;
    this.onSeen = onSeen;
    this.onRead = onRead;
    this.timer = null;
    this.posting = false;
    this.flushAfter = false;
    this.destroyed = false;
    this.onVisibility = () => this.check();
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  /** The server says the position is at least seq (another tab read, or we sent). */
  known(seq) {
    if (Number.isInteger(seq) && seq > this.read) this.read = seq;
  }

  reading() {
    return !this.destroyed && document.visibilityState === 'visible' && this.isAtBottom();
  }

  unreadFromOthers() {
    for (const ev of this.session.timeline.events.values()) {
      if (ev.seq > this.read && ev.type === 'message_sent' && ev.username !== this.me) return true;
    }
    return false;
  }

  /** Something changed (scroll, new event, visibility): post soon if there is news I now see. */
  check() {
    if (!this.reading() || !this.unreadFromOthers()) return;
    this.onSeen();
    if (this.timer || this.posting) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.post();
    }, DEBOUNCE_MS);
  }

  /** force: the check that scheduled this saw the reader at the bottom (the view is closing). */
  async post({ force = false } = {}) {
    if (!(force || this.reading()) || !this.unreadFromOthers()) return;
    const seq = this.session.timeline.maxSeq;
    this.posting = true;
    try {
      await this.api.markRead(this.session.roomId, seq);
      this.known(seq);
      this.onRead(seq);
    } catch (err) {
      // A server without read positions: stop asking. Gone (room_not_found)
      // is the room session's to report; anything else is tried again with
      // the next check.
      if (err.code === 'route_not_found') this.destroyed = true;
    } finally {
      this.posting = false;
    }
    if (this.flushAfter) {
      // Closed while this post was out: what came meanwhile was seen too.
      this.flushAfter = false;
      this.post({ force: true });
      return;
    }
    this.check();
  }

  /** The room is gone (removed, deleted): nothing more to post. */
  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.flushAfter = false;
    this.destroyed = true;
  }

  /** The room is closing: a post that was waiting for its debounce goes now. */
  destroy() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      if (!this.destroyed && document.visibilityState === 'visible') this.post({ force: true });
    } else if (this.posting && this.reading()) {
      this.flushAfter = true;
    }
    this.destroyed = true;
    document.removeEventListener('visibilitychange', this.onVisibility);
  }
}
