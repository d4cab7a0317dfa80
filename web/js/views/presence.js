// How join and leave lines read. The events all stay in the list (each
// announcement keeps its own element and seq); only what is drawn changes:
//   - someone who leaves and is back within FLAP_MS shows neither line;
//   - a run of announcements with nothing else between them reads as one
//     line, "alice, bob joined; carol left", on the run's first element,
//     and the others are hidden.

const FLAP_MS = 5 * 60 * 1000;

/** Recompute the announcements among the list's children (in DOM order). */
export function collapsePresence(children) {
  const items = [...children];
  // 1. Leave-then-join of one person within FLAP_MS: hide both.
  const flap = new Set();
  const lastOf = new Map(); // username -> their previous announcement
  for (const el of items) {
    if (el.dataset.testid !== 'announcement') continue;
    const user = el.dataset.username;
    const prev = lastOf.get(user);
    if (prev && prev.dataset.type === 'user_left' && el.dataset.type === 'user_joined' && Number(el.dataset.atMs) - Number(prev.dataset.atMs) <= FLAP_MS) {
      flap.add(prev);
      flap.add(el);
    }
    lastOf.set(user, el);
  }
  // 2. Runs of announcements, broken by anything else that is drawn.
  let run = [];
  const finish = () => {
    if (run.length) drawRun(run, flap);
    run = [];
  };
  for (const el of items) {
    if (el.dataset.testid === 'announcement') run.push(el);
    else if (!el.hidden) finish();
  }
  finish();
}

function drawRun(run, flap) {
  const joined = [];
  const left = [];
  let head = null;
  for (const el of run) {
    if (flap.has(el)) continue;
    if (!head) head = el;
    const names = el.dataset.type === 'user_joined' ? joined : left;
    if (!names.includes(el.dataset.username)) names.push(el.dataset.username);
  }
  for (const el of run) {
    const visible = el === head;
    if (el.hidden === visible) el.hidden = !visible;
    el.dataset.flap = flap.has(el) ? 'true' : 'false';
  }
  if (!head) return;
  const parts = [];
  if (joined.length) parts.push(`${joined.join(', ')} joined`);
  if (left.length) parts.push(`${left.join(', ')} left`);
  const text = parts.join('; ');
  const span = head.querySelector('.announce-text');
  if (span && span.textContent !== text) span.textContent = text;
  head.dataset.runSize = String(run.length);
}
