// Toast notices in the #toasts region (role=status, so screen readers read
// them): "the room was deleted", "you were removed", "renamed" …

import { h, icon } from './dom.js';

const SHOW_MS = 6000;

/**
 * notify(text, kind, {action}): kind is 'info', 'success' or 'error';
 * action {label, onClick} adds a button ("Open").
 */
export function notify(text, kind = 'info', { action = null } = {}) {
  const region = document.getElementById('toasts');
  if (!region || !text) return;
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, icon('close', 16));
  const remove = () => toast.remove();
  const act = action
    ? h('button', { type: 'button', class: 'toast-action', testid: 'notice-action', text: action.label, onClick: () => { remove(); action.onClick(); } })
    : null;
  const toast = h('div', { class: `toast toast--${kind}`, testid: 'notice', dataset: { kind } }, h('span', { class: 'toast-text', text }), act, close);
  close.addEventListener('click', remove);
  region.append(toast);
  // Keep it while one of its buttons has keyboard focus.
  let timer = setTimeout(remove, SHOW_MS);
  for (const b of [close, act]) {
    if (!b) continue;
    b.addEventListener('focus', () => clearTimeout(timer));
    b.addEventListener('blur', () => (timer = setTimeout(remove, SHOW_MS)));
  }
  while (region.childElementCount > 3) region.firstElementChild.remove();
}
