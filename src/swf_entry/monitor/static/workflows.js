// The workflows page: one row per workflow, filtered and sorted here (a user has few),
// pushed live by the server whenever a status or a count changes.
import { chip, clear, countChips, fmtDate, follow, h, progressBar, api } from './common.js';

const body = document.querySelector('#workflows tbody');
const filter = document.getElementById('filter');
const statusFilter = document.getElementById('status-filter');
let rows = [];
let sortKey = 'id';
let descending = true;

function matches(row) {
  const text = filter.value.trim().toLowerCase();
  if (text && !`${row.id} ${row.name ?? ''}`.toLowerCase().includes(text)) return false;
  const wanted = statusFilter.value;
  if (wanted === 'failed') return (row.counts.failed || 0) > 0;
  return !wanted || row.status === wanted;
}

function sortValue(row) {
  if (sortKey === 'progress') return row.total ? row.finished / row.total : 0;
  if (sortKey === 'name') return (row.name ?? '').toLowerCase();
  return row[sortKey] ?? '';
}

function render() {
  const shown = rows.filter(matches).sort((a, b) => {
    const [x, y] = [sortValue(a), sortValue(b)];
    return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
  });
  clear(body);
  for (const row of shown) {
    const link = h('a', { href: `/workflows/${row.id}` }, row.name ?? `workflow ${row.id}`);
    body.append(h('tr', { 'data-id': row.id },
      h('td', { class: 'num' }, row.id),
      h('td', {}, link),
      h('td', {}, chip(row.status ?? 'unknown')),
      h('td', {}, progressBar(row.counts, row.total), ` ${row.finished}/${row.total}`),
      h('td', { class: 'chips' }, countChips(row.counts)),
      h('td', { class: 'num' }, row.total),
      h('td', {}, row.queue ?? ''),
      h('td', {}, fmtDate(row.submitted)),
      h('td', {}, fmtDate(row.started)),
      h('td', {}, fmtDate(row.ended)),
      h('td', {}, fmtDate(row.expiration))));
  }
  document.getElementById('count').textContent = `${shown.length} of ${rows.length} workflows`;
  document.getElementById('empty').hidden = rows.length > 0;
}

for (const th of document.querySelectorAll('th[data-sort]')) {
  th.addEventListener('click', () => {
    descending = sortKey === th.dataset.sort ? !descending : false;
    sortKey = th.dataset.sort;
    render();
  });
}
filter.addEventListener('input', render);
statusFilter.addEventListener('change', render);

follow('/api/events', (event) => {
  if (event.type === 'workflows') { rows = event.workflows; render(); }
}, async () => { rows = (await api('/api/workflows')).workflows; render(); });
