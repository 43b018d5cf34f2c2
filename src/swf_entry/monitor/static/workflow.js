// A workflow's page: summary and actions, the job table (paged and filtered on the
// server), the group tree, the DAG and the plots; kept live by the server's events.
import {
  act, api, chip, clear, countChips, fmtDate, fmtDuration, follow, h, progressBar,
  STATUS_ORDER, throttle, toast,
} from './common.js';
import { dagDrawing, lineChart } from './charts.js';

const workflowId = Number(document.getElementById('page').dataset.workflow);
const base = `/api/workflows/${workflowId}`;
const $ = (id) => document.getElementById(id);
const table = { offset: 0, limit: 50, total: 0, group: null, groupName: '' };
const selected = new Set();
let summary = null;
// The model version shown: an answer read before an event already shown (the fetch and
// the event stream are two connections) is older, and must not overwrite it.
let shown = -1;
let activeTab = 'jobs';

// -- summary and workflow actions ----------------------------------------------------
function showSummary(data) {
  if (data.version < shown) return;
  shown = data.version;
  summary = data;
  $('wf-name').textContent = data.name ?? `workflow ${data.id}`;
  $('crumb-name').textContent = data.name ?? `workflow ${data.id}`;
  const status = $('wf-status');
  status.replaceWith(Object.assign(chip(data.status ?? 'unknown'), { id: 'wf-status' }));
  clear($('wf-progress'));
  $('wf-progress').append(progressBar(data.counts, data.total),
    `${data.finished} / ${data.total} jobs finished`);
  clear($('wf-counts'));
  $('wf-counts').append(...countChips(data.counts));
  const dates = [];
  if (data.started) dates.push(`started ${fmtDate(data.started)}`);
  if (data.ended) dates.push(`ended ${fmtDate(data.ended)} (${fmtDuration(data.ended - data.started)})`);
  else if (data.started) dates.push(`running for ${fmtDuration(Date.now() / 1000 - data.started)}`);
  if (data.loading) dates.push('reading the groups and the graph…');
  $('wf-dates').textContent = dates.join(' · ');
}

const afterAction = () => { refreshAll(); };
$('act-stop').onclick = async () => {
  if (await act('stop', `${base}/stop`, {}, 'Stop this workflow? Running jobs are killed; jobs not started will not run.')) afterAction();
};
$('act-restart').onclick = async () => {
  if (await act('restart', `${base}/restart`)) afterAction();
};
$('act-delete').onclick = async () => {
  if (await act('delete', `${base}/delete`, {}, 'Delete this workflow, its jobs and their output files? This cannot be undone.')) {
    window.location.href = '/';
  }
};
$('act-expiration').onclick = async () => {
  const value = $('expiration').value;
  if (!value) { toast('choose a date first', true); return; }
  await act('expiration', `${base}/expiration`, { expiration: new Date(value).getTime() / 1000 });
};

// -- job table -----------------------------------------------------------------------
function tableQuery() {
  const params = new URLSearchParams({
    offset: table.offset, limit: table.limit, sort: $('job-sort').value,
    desc: $('job-desc').checked ? '1' : '0', q: $('job-filter').value.trim(),
    status: $('job-status').value,
  });
  if (table.group !== null) params.set('group', table.group);
  return params;
}

function jobRow(row) {
  const box = h('input', { type: 'checkbox', 'aria-label': `select ${row.name}` });
  box.checked = selected.has(row.id);
  box.onchange = () => { if (box.checked) selected.add(row.id); else selected.delete(row.id); };
  const exit = row.exit_status ? `${row.exit_status}${row.exit_value !== null && row.exit_value !== undefined ? ` (${row.exit_value})` : ''}` : '';
  const duration = row.started && row.ended ? fmtDuration(row.ended - row.started) : '';
  return h('tr', { 'data-id': row.id },
    h('td', {}, box), h('td', { class: 'num' }, row.id),
    h('td', {}, h('a', { href: `/workflows/${workflowId}/jobs/${row.id}` }, row.name)),
    h('td', {}, row.group), h('td', { class: 'status' }, chip(row.status)), h('td', {}, exit),
    h('td', {}, fmtDate(row.started)), h('td', {}, fmtDate(row.ended)), h('td', {}, duration));
}

async function loadTable() {
  const data = await api(`${base}/jobs?${tableQuery()}`);
  table.total = data.total;
  const body = document.querySelector('#jobs tbody');
  clear(body);
  body.append(...data.rows.map(jobRow));
  const last = Math.min(table.offset + table.limit, data.total);
  $('page-info').textContent = data.total ? `${table.offset + 1}–${last} of ${data.total}` : 'no job matches';
  $('select-page').checked = false;
  if (data.version < shown) reloadTable(); // rows older than an event already shown
}
const reloadTable = throttle(() => loadTable().catch((e) => toast(e.message, true)), 500);

function patchRows(rows) {
  const body = document.querySelector('#jobs tbody');
  const filtered = $('job-status').value || $('job-filter').value.trim() || $('job-sort').value !== 'index';
  let stale = false;
  for (const row of rows) {
    const current = body.querySelector(`tr[data-id="${row.id}"]`);
    if (current) current.replaceWith(jobRow(row));
    else if (filtered) stale = true;
  }
  if (stale) reloadTable();
}

function setGroup(id, name) {
  table.group = id; table.offset = 0;
  const tag = $('job-group');
  tag.hidden = id === null;
  tag.textContent = id === null ? '' : `group: ${name} ✕`;
  showTab('jobs');
  loadTable();
}
$('job-group').onclick = () => setGroup(null, '');
for (const id of ['job-filter', 'job-status', 'job-sort', 'job-desc', 'page-size']) {
  $(id).addEventListener(id === 'job-filter' ? 'input' : 'change', () => {
    table.limit = Number($('page-size').value); table.offset = 0; reloadTable();
  });
}
$('page-first').onclick = () => { table.offset = 0; loadTable(); };
$('page-prev').onclick = () => { table.offset = Math.max(0, table.offset - table.limit); loadTable(); };
$('page-next').onclick = () => {
  if (table.offset + table.limit < table.total) { table.offset += table.limit; loadTable(); }
};
$('page-last').onclick = () => {
  table.offset = Math.max(0, Math.floor((table.total - 1) / table.limit) * table.limit); loadTable();
};
$('select-page').onchange = () => {
  for (const box of document.querySelectorAll('#jobs tbody input[type=checkbox]')) {
    box.checked = $('select-page').checked; box.onchange();
  }
};
async function jobsAction(kind, jobs, groups) {
  if (!jobs.length && !groups.length) { toast('select jobs first', true); return; }
  const what = `${jobs.length} job(s)${groups.length ? ` and ${groups.length} group(s)` : ''}`;
  const text = kind === 'stop' ? `Stop ${what}? Running ones are killed.` : `Restart ${what}? Jobs that need them run again too.`;
  if (await act(`${kind} jobs`, `${base}/jobs/${kind}`, { jobs, groups }, text)) afterAction();
}
$('act-stop-jobs').onclick = () => jobsAction('stop', [...selected], []);
$('act-restart-jobs').onclick = () => jobsAction('restart', [...selected], []);

// -- group tree ----------------------------------------------------------------------
const checkedGroups = new Set();
function treeMatches(name, status) {
  const text = $('tree-filter').value.trim().toLowerCase();
  const wanted = $('tree-status').value;
  return (!text || name.toLowerCase().includes(text)) && (!wanted || status === wanted);
}
function groupNode(node, open) {
  const box = h('input', { type: 'checkbox', 'aria-label': `check group ${node.name}` });
  box.checked = checkedGroups.has(node.id);
  box.onclick = (event) => event.stopPropagation();
  box.onchange = () => { if (box.checked) checkedGroups.add(node.id); else checkedGroups.delete(node.id); };
  const counts = h('span', { class: 'chips', 'data-group-counts': node.id }, countChips(node.counts));
  const show = h('a', { href: '#', onclick: (e) => { e.preventDefault(); setGroup(node.id, node.name); } }, 'jobs');
  const details = h('details', { class: 'group', 'data-group': node.id, open },
    h('summary', {}, box, ' ', h('strong', {}, node.name), ` (${node.size}) `, counts, ' ', show));
  for (const child of node.groups) details.append(groupNode(child, false));
  if (node.jobs) {
    for (const job of node.jobs) {
      if (!treeMatches(job.name, job.status)) continue;
      details.append(h('div', { class: 'tree-job', 'data-job': job.id }, chip(job.status), ' ',
        h('a', { href: `/workflows/${workflowId}/jobs/${job.id}` }, job.name)));
    }
  } else {
    details.append(h('div', { class: 'tree-job muted' }, `${node.job_count} jobs: `, show.cloneNode(true)));
    details.lastChild.lastChild.onclick = (e) => { e.preventDefault(); setGroup(node.id, node.name); };
  }
  return details;
}
async function loadTree() {
  const tree = await api(`${base}/tree`);
  clear($('tree'));
  $('tree').append(groupNode(tree, true));
}
const reloadTree = throttle(() => loadTree().catch((e) => toast(e.message, true)), 2000);
$('tree-filter').addEventListener('input', reloadTree);
$('tree-status').addEventListener('change', reloadTree);
$('tree-expand').onclick = () => { for (const d of document.querySelectorAll('#tree details')) d.open = true; };
$('tree-collapse').onclick = () => { for (const d of document.querySelectorAll('#tree details')) d.open = false; };
$('act-stop-groups').onclick = () => jobsAction('stop', [], [...checkedGroups]);
$('act-restart-groups').onclick = () => jobsAction('restart', [], [...checkedGroups]);

function patchTree(groups, rows) {
  for (const [id, counts] of Object.entries(groups)) {
    const node = document.querySelector(`#tree [data-group-counts="${id}"]`);
    if (node) { clear(node); node.append(...countChips(counts)); }
  }
  for (const row of rows) {
    const line = document.querySelector(`#tree [data-job="${row.id}"]`);
    if (line) line.firstChild.replaceWith(chip(row.status));
  }
}

// -- graph and plots -----------------------------------------------------------------
const NOTES = {
  jobs: 'Every job; click one to open it.',
  groups: 'Large workflow: each top-level group is one node (bars: its jobs per status); click a group to list its jobs.',
  layers: 'Very large workflow: one node per depth of the graph (jobs at the same distance from the first jobs).',
};
async function loadGraph() {
  const graph = await api(`${base}/graph`);
  $('graph-note').textContent = `${NOTES[graph.mode]} ${graph.jobs} jobs.`;
  clear($('graph'));
  $('graph').append(dagDrawing(graph, (node) => {
    if (node.kind === 'job') window.location.href = `/workflows/${workflowId}/jobs/${node.ref}`;
    else if (node.kind === 'group') setGroup(node.ref, node.label);
  }));
}
async function loadPlots() {
  const data = await api(`${base}/timeline`);
  clear($('plot-running')); clear($('plot-jobs')); clear($('plot-slots'));
  $('plot-running').append(lineChart(data.t, [{ name: 'running', colour: '#0277bd', values: data.running }]));
  $('plot-jobs').append(lineChart(data.t, [
    { name: 'done', colour: '#2e7d32', values: data.done },
    { name: 'failed', colour: '#c62828', values: data.failed },
  ]));
  $('plot-slots').append(lineChart(data.t, [{ name: 'slots in use', colour: '#6a1b9a', values: data.slots }]));
}
const reloadGraph = throttle(() => loadGraph().catch((e) => toast(e.message, true)), 2000);
const reloadPlots = throttle(() => loadPlots().catch((e) => toast(e.message, true)), 2000);

// -- tabs, live updates --------------------------------------------------------------
function showTab(name) {
  activeTab = name;
  for (const button of document.querySelectorAll('.tabs button')) button.classList.toggle('active', button.dataset.tab === name);
  for (const section of document.querySelectorAll('.tab')) section.hidden = section.id !== `tab-${name}`;
  ({ jobs: reloadTable, tree: reloadTree, graph: reloadGraph, plots: reloadPlots })[name]();
}
for (const button of document.querySelectorAll('.tabs button')) button.onclick = () => showTab(button.dataset.tab);

for (const status of STATUS_ORDER) {
  $('job-status').append(h('option', { value: status }, status));
  $('tree-status').append(h('option', { value: status }, status));
}

async function refreshAll() {
  try {
    showSummary(await api(base));
    ({ jobs: reloadTable, tree: reloadTree, graph: reloadGraph, plots: reloadPlots })[activeTab]();
  } catch (error) { toast(error.message, true); }
}

follow(`${base}/events`, (event) => {
  if (event.type === 'resync') { refreshAll(); return; }
  if (event.type === 'error') { toast(event.message, true); return; }
  if (event.type !== 'workflow') return;
  showSummary(event.summary);
  if (event.more) reloadTable(); else patchRows(event.rows);
  patchTree(event.groups, event.rows);
  if (activeTab === 'graph') reloadGraph();
  if (activeTab === 'plots') reloadPlots();
}, () => { shown = -1; refreshAll(); }); // (re)connected: maybe to a new monitor
