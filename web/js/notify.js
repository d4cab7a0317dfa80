// Toast notices in the #toasts region (role=status, so screen readers read
// them): "the room was deleted", "you were removed", "renamed" …

import { h, icon } from './dom.js';

const SHOW_MS = 6000;

/** notify(text, kind): kind is 'info', 'success' or 'error'. */
export function notify(text, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region || !text) return;
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, icon('close', 16));
  const toast = h('div', { class: `toast toast--${kind}`, testid: 'notice', dataset: { kind } }, h('span', { class: 'toast-text', text }), close);
  const remove = () => toast.remove();
  close.addEventListener('click', remove);
  region.append(toast);
  // Keep it while its close button has keyboard focus.
  let timer = setTimeout(remove, SHOW_MS);
  close.addEventListener('focus', () => clearTimeout(timer));
  close.addEventListener('blur', () => (timer = setTimeout(remove, SHOW_MS)));
  while (region.childElementCount > 3) region.firstElementChild.remove();
}
