// Formatting and small pure helpers: times, names, ids.

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

function toDate(value) {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "just now", "5 min. ago", "3 hr. ago", "yesterday", or a date. */
export function relativeTime(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '';
  const seconds = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 45 * 60) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 6.5 * 86400) return rtf.format(Math.round(seconds / 86400), 'day');
  return dateFmt.format(d);
}

/** Message time: "14:03" today, "Nov 21, 14:03" otherwise. */
export function messageTime(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? timeFmt.format(d) : dayTimeFmt.format(d);
}

/** Long form for tooltips. */
export function fullTime(value) {
  const d = toDate(value);
  return d ? fullFmt.format(d) : '';
}

/**
 * A client_msg_id: 1 to 64 chars of [A-Za-z0-9_-]. crypto.randomUUID only
 * exists in secure contexts (https, localhost), so fall back to
 * getRandomValues, which exists everywhere.
 */
export function newClientMsgId() {
  let raw;
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') {
    raw = crypto.randomUUID();
  } else {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    raw = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return raw.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
}

/** "bob, carol dave" -> ["bob", "carol", "dave"] (lower-cased, no duplicates). */
export function parseUsernames(text) {
  const seen = new Set();
  for (const part of String(text || '').split(/[\s,;]+/)) {
    const name = part.trim().replace(/^@/, '').toLowerCase();
    if (name) seen.add(name);
  }
  return [...seen];
}

/** ["a"] -> "a"; ["a","b"] -> "a and b"; ["a","b","c"] -> "a, b and c". */
export function joinNames(names) {
  const list = [...names];
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

/** Length in Unicode code points, as the server counts. */
export function codePointLength(text) {
  let n = 0;
  // eslint-disable-next-line no-unused-vars
  for (const _ of text) n++;
  return n;
}

export const ROLE_LABELS = { owner: 'Owner', admin: 'Admin', member: 'Member' };

/** Just the time of day, "14:03", for the hover time of grouped messages. */
export function clockTime(value) {
  const d = toDate(value);
  return d ? timeFmt.format(d) : '';
}
