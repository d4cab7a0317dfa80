// A confirmation dialog on the native <dialog> element: it traps focus,
// closes on Escape and restores focus to the opener by itself.

import { h } from '../dom.js';

/**
 * confirmDialog({title, body, confirmLabel, danger}) -> Promise<boolean>
 */
export function confirmDialog({ title, body, confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const cancel = h('button', { type: 'button', class: 'btn btn--ghost', testid: 'confirm-cancel', text: cancelLabel });
    const ok = h('button', { type: 'button', class: `btn ${danger ? 'btn--danger' : 'btn--primary'}`, testid: 'confirm-ok', text: confirmLabel });
    const dialog = h(
      'dialog',
      { class: 'dialog', testid: 'confirm-dialog', 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-body' },
      // Padding lives on this inner box, so a click whose target is the
      // <dialog> itself can only be on the backdrop.
      h(
        'div',
        { class: 'dialog-box' },
        h('h2', { class: 'dialog-title', id: 'dialog-title', text: title }),
        h('p', { class: 'dialog-body', id: 'dialog-body', text: body }),
        h('div', { class: 'dialog-actions' }, cancel, ok),
      ),
    );
    let answer = false;
    cancel.addEventListener('click', () => dialog.close());
    ok.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    // A click on the backdrop (outside the box) cancels.
    dialog.addEventListener('click', (e) => {
      if (e.target === dialog) dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && typeof opener.focus === 'function' && document.contains(opener)) opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    // The safe choice has focus first.
    cancel.focus();
  });
}
