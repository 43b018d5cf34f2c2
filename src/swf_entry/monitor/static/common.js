// Shared helpers of the monitor's pages. Every text reaches the page as a text node
// (h() never parses HTML), so names, commands and outputs are always shown literally.

export const token = document.querySelector('meta[name="swf-token"]').content;

const STATUSES = new Set([
  'done', 'failed', 'running', 'queued_active', 'submission_pending', 'undetermined',
  'system_on_hold', 'user_on_hold', 'not_submitted', 'kill_pending', 'delete_pending',
  'warning', 'workflow_done', 'workflow_in_progress', 'worklflow_not_started',
]);
export const STATUS_ORDER = ['running', 'queued_active', 'submission_pending', 'kill_pending',
  'not_submitted', 'done', 'failed', 'undetermined', 'system_on_hold', 'user_on_hold', 'warning'];
const COLOURS = { done: '#2e7d32', failed: '#c62828', running: '#0277bd', queued_active: '#6a1b9a',
  submission_pending: '#6a1b9a', not_submitted: '#9e9e9e', kill_pending: '#ef6c00' };

export function colour(status) { return COLOURS[status] || '#795548'; }
export function statusClass(status) { return STATUSES.has(status) ? `st-${status}` : 'st-other'; }

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function chip(status, text) {
  return h('span', { class: `chip ${statusClass(status)}`, title: status }, text ?? status);
}

export function countChips(counts) {
  const keys = Object.keys(counts).sort((a, b) => STATUS_ORDER.indexOf(a) - STATUS_ORDER.indexOf(b));
  return keys.map((status) => chip(status, `${counts[status]} ${status}`));
}

export function progressBar(counts, total) {
  const bar = h('div', { class: 'bar', title: `${(counts.done || 0) + (counts.failed || 0)} / ${total} finished` });
  for (const status of ['done', 'failed', 'running', 'queued_active']) {
    const n = counts[status] || 0;
    if (!n || !total) continue;
    const part = h('span', { class: statusClass(status) });
    part.style.width = `${(100 * n) / total}%`; // CSSOM: allowed by the page's CSP
    bar.append(part);
  }
  return bar;
}

export function fmtDate(epoch) {
  if (epoch === null || epoch === undefined) return '';
  const date = new Date(epoch * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60); const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export async function api(path, body) {
  const options = body === undefined ? {} : {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-SWF-Token': token },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

export function toast(message, isError = false) {
  const node = document.getElementById('toast');
  node.textContent = message;
  node.className = `show${isError ? ' error' : ''}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.className = ''; }, isError ? 8000 : 3000);
}

// A confirmation in the page (a <dialog>), for the destructive actions.
export function confirmAction(message) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = message;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

// Run an action (a POST), optionally confirmed first, and say how it went.
export async function act(label, path, body = {}, confirmText = null) {
  if (confirmText && !(await confirmAction(confirmText))) return null;
  try {
    const result = await api(path, body);
    toast(`${label}: ${result.ok ? 'done' : 'nothing to do'}`);
    return result;
  } catch (error) {
    toast(`${label} failed: ${error.message}`, true);
    return null;
  }
}

// Server-sent events; the header's badge says whether the page is live.
// A page restored from the back/forward cache has lost its event stream: load it anew.
window.addEventListener('pageshow', (event) => { if (event.persisted) window.location.reload(); });

// The monitor's version this page was served with: when the stream (re)opens on a
// monitor of another version (upgraded, restarted from other files), the page reloads.
const pageVersion = document.querySelector('meta[name="swf-version"]').content;
async function checkVersion() {
  try {
    const { version } = await api('/api/version');
    if (version !== pageVersion) window.location.reload();
  } catch (error) { /* the monitor is gone a moment: the next (re)open checks again */ }
}

export function follow(path, onEvent, onOpen = () => {}) {
  const badge = document.getElementById('live');
  const source = new EventSource(path);
  source.onopen = () => {
    badge.textContent = 'live'; badge.className = 'live on';
    checkVersion(); onOpen();
  };
  source.onerror = () => { badge.textContent = 'reconnecting'; badge.className = 'live off'; };
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  return source;
}

export function clear(node) { while (node.firstChild) node.firstChild.remove(); }

export function throttle(fn, ms) {
  let last = 0; let timer = null;
  return (...args) => {
    const wait = last + ms - Date.now();
    if (wait <= 0) { last = Date.now(); fn(...args); } else if (!timer) {
      timer = setTimeout(() => { timer = null; last = Date.now(); fn(...args); }, wait);
    }
  };
}
