// The per-message actions menu (Edit, Delete): a button that opens a small
// menu, in the ARIA menu-button pattern. Enter, Space or Down opens it on
// its first item, Up on its last; Up and Down move, Home and End jump,
// Escape closes it and gives the focus back to the button, Tab closes it
// and moves on. A click elsewhere closes it.

import { h, icon } from '../dom.js';

let open = null; // the one menu open at a time: {menu, button, close}

/** Close the open menu, if any. */
export function closeMenus({ focusButton = false } = {}) {
  if (open) open.close(focusButton);
}

document.addEventListener('pointerdown', (e) => {
  if (open && !open.menu.contains(e.target) && !open.button.contains(e.target)) closeMenus();
});

/**
 * A menu button. items() is asked each time the menu opens (what the
 * reader may do can change, e.g. being made admin): [{label, testid, run}].
 */
export function menuButton({ label, testid, items }) {
  const button = h('button', {
    type: 'button',
    class: 'msg-menu-btn',
    testid,
    'aria-label': label,
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
  }, icon('more', 18));

  function openMenu(focusLast = false) {
    closeMenus();
    const list = items();
    if (!list.length) return;
    const buttons = list.map((it) =>
      h('button', {
        type: 'button',
        role: 'menuitem',
        tabindex: '-1',
        class: `menu-item${it.danger ? ' menu-item--danger' : ''}`,
        testid: it.testid,
        text: it.label,
        onClick: () => {
          close(false);
          it.run(button);
        },
      }),
    );
    const menu = h('div', { class: 'msg-menu', role: 'menu', testid: 'message-menu', 'aria-label': label }, buttons);
    const close = (focusButton) => {
      if (open && open.menu === menu) open = null;
      menu.remove();
      button.setAttribute('aria-expanded', 'false');
      if (focusButton) button.focus();
    };
    menu.addEventListener('keydown', (e) => {
      const i = buttons.indexOf(document.activeElement);
      let next = null;
      if (e.key === 'ArrowDown') next = buttons[(i + 1) % buttons.length];
      else if (e.key === 'ArrowUp') next = buttons[(i - 1 + buttons.length) % buttons.length];
      else if (e.key === 'Home') next = buttons[0];
      else if (e.key === 'End') next = buttons[buttons.length - 1];
      else if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        close(true);
        return;
      } else if (e.key === 'Tab') {
        close(false);
        return;
      }
      if (next) {
        e.preventDefault();
        next.focus();
      }
    });
    button.after(menu);
    // Near the bottom of the scrolling list, open upwards rather than be cut off.
    const box = button.closest('[data-testid="message-scroller"]');
    if (box && menu.getBoundingClientRect().bottom > box.getBoundingClientRect().bottom) menu.classList.add('msg-menu--up');
    button.setAttribute('aria-expanded', 'true');
    open = { menu, button, close };
    (focusLast ? buttons[buttons.length - 1] : buttons[0]).focus();
  }

  button.addEventListener('click', () => {
    if (open && open.button === button) closeMenus({ focusButton: true });
    else openMenu();
  });
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      openMenu(e.key === 'ArrowUp');
    }
  });
  return button;
}
