// The tab's title: what the page shows ("Weekend plans · Chat"), led by
// the number of unread messages in all rooms when there are any
// ("(3) Weekend plans · Chat"), so a background tab says it has news.

let base = 'Chat';
let unread = 0;

function render() {
  const n = unread > 99 ? '99+' : String(unread);
  const title = unread > 0 ? `(${n}) ${base}` : base;
  if (document.title !== title) document.title = title;
}

/** The page's own title, without the count. */
export function setTitle(text) {
  base = text || 'Chat';
  render();
}

/** The total of unread messages across rooms. */
export function setUnreadTotal(n) {
  unread = Math.max(0, Number(n) || 0);
  render();
}
