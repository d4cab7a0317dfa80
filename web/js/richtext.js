// A message's text as DOM nodes: plain text, links and @mentions. Every
// piece is made with createElement and textContent; nothing is parsed as
// markup. Only http and https addresses become links (javascript:, data:
// and the like stay text), and they open in a new tab without handing the
// new page a reference back (rel="noopener noreferrer").

import { h } from './dom.js';

// An http(s) address, or an @name (usernames are 3-32 of [a-z0-9_]) that
// is not the tail of a longer word or e-mail address.
const TOKENS = /\bhttps?:\/\/[^\s<>"'`]+|(?<![A-Za-z0-9_.@])@[A-Za-z0-9_]{3,32}(?![A-Za-z0-9_])/gi;
// Punctuation that ends a sentence rather than the address.
const TRAILING = /[.,;:!?'"»”’]+$/;

/** The URL object of text if it is a web address we will link to, else null. */
export function safeUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
}

/** Cut punctuation and an unmatched closing bracket off the end of an address. */
function trimAddress(raw) {
  let s = raw.replace(TRAILING, '');
  while (s.endsWith(')') && count(s, '(') < count(s, ')')) s = s.slice(0, -1).replace(TRAILING, '');
  return s;
}

function count(s, ch) {
  return s.split(ch).length - 1;
}

/**
 * Nodes for text. mentions are the usernames the server found written as
 * @name (only those are highlighted); me is the reader, whose own name
 * stands out.
 */
export function richText(text, { mentions = [], me = '' } = {}) {
  const out = [];
  const mentioned = new Set(mentions.map((m) => String(m).toLowerCase()));
  let last = 0;
  for (const m of String(text).matchAll(TOKENS)) {
    let token = m[0];
    const start = m.index;
    let node = null;
    if (token.startsWith('@')) {
      const name = token.slice(1).toLowerCase();
      if (mentioned.has(name)) {
        const self = name === me;
        node = h('span', { class: `mention${self ? ' mention--me' : ''}`, testid: 'mention', dataset: { username: name, me: self ? 'true' : 'false' }, text: token });
      }
    } else {
      token = trimAddress(token);
      const url = safeUrl(token);
      if (url) node = h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer', class: 'msg-link', testid: 'message-link', text: token });
    }
    if (!node) continue;
    if (start > last) out.push(text.slice(last, start));
    out.push(node);
    last = start + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
