// A job's page: its definition, state, dates, parameters and neighbours, and its stdout
// and stderr followed live (read from where the last read stopped).
import { act, api, chip, clear, fmtDate, fmtDuration, follow, h, toast } from './common.js';

const page = document.getElementById('page').dataset;
const workflowId = Number(page.workflow);
const jobId = Number(page.job);
const base = `/api/workflows/${workflowId}/jobs/${jobId}`;
const $ = (id) => document.getElementById(id);
const offsets = { stdout: 0, stderr: 0 };
let status = null;

function facts(list, entries) {
  clear(list);
  for (const [label, value] of entries) {
    if (value === null || value === undefined || value === '') continue;
    list.append(h('dt', {}, label), h('dd', {}, value));
  }
}
const jobLink = (job) => h('li', {}, h('a', { href: `/workflows/${workflowId}/jobs/${job.id}` }, job.name), ' ', chip(job.status));

function neighbours(list, data) {
  clear(list);
  list.append(...data.jobs.map(jobLink));
  if (data.total > data.jobs.length) list.append(h('li', { class: 'muted' }, `… ${data.total - data.jobs.length} more`));
  if (!data.total) list.append(h('li', { class: 'muted' }, 'none'));
}

// An argument as a shell would need it quoted (display only: nothing runs it).
const shellWord = (arg) => (/[\s'"\\$`]/.test(arg) || arg === '' ? JSON.stringify(arg) : arg);

function show(job) {
  status = job.status;
  document.title = `${job.name} — swf monitor`;
  $('job-name').textContent = job.name;
  $('job-status').replaceWith(Object.assign(chip(job.status), { id: 'job-status' }));
  $('crumb-workflow').textContent = job.workflow_name ?? `workflow ${job.workflow}`;
  const ran = Array.isArray(job.command_run);
  $('command-kind').textContent = ran ? '(as run)' : '(as it will run: not submitted yet)';
  $('command').textContent = (ran ? job.command_run : job.command).map((arg) => shellWord(String(arg))).join(' ');
  const exit = job.exit || {};
  facts($('facts'), [
    ['id', job.id], ['groups', job.groups.map((g) => g.name).join(' / ')],
    ['working directory', job.working_directory], ['queue', job.queue], ['priority', job.priority],
    ['CPU slots', job.slots], ['cluster id', job.cluster_id],
    ['exit status', exit.status], ['exit value', exit.value], ['signal', exit.signal],
    ['native specification', Array.isArray(job.native_specification) ? job.native_specification.join(' ') : job.native_specification],
  ]);
  facts($('usage'), Object.keys(job.usage).length ? Object.entries(job.usage) : [['', 'reported when the job ends']]);
  const dates = job.dates || {};
  facts($('dates'), [
    ['submitted', fmtDate(dates.submitted)], ['started', fmtDate(dates.started)],
    ['ended', fmtDate(dates.ended)], ['time in queue', fmtDuration(dates.in_queue)],
    ['time running', fmtDuration(dates.running)],
  ]);
  const params = document.querySelector('#params-in tbody');
  clear(params);
  for (const param of job.params_in) {
    const from = param.from.map((src) => h('a', { href: `/workflows/${workflowId}/jobs/${src.job}` }, `${src.name}.${src.param}`));
    params.append(h('tr', {}, h('td', {}, param.name), h('td', {}, JSON.stringify(param.value)),
      h('td', {}, from.length ? ['from ', ...from] : '')));
  }
  if (!job.params_in.length) params.append(h('tr', {}, h('td', { class: 'muted' }, 'none')));
  $('params-out').textContent = job.params_out ? JSON.stringify(job.params_out, null, 2) : 'none';
  neighbours($('parents'), job.parents);
  neighbours($('children'), job.children);
  const env = document.querySelector('#env tbody');
  clear(env);
  for (const [key, value] of Object.entries(job.env)) env.append(h('tr', {}, h('td', {}, key), h('td', {}, value)));
  if (!Object.keys(job.env).length) env.append(h('tr', {}, h('td', { class: 'muted' }, 'none added')));
}

async function load() {
  try { show(await api(base)); } catch (error) { toast(error.message, true); }
}

// Output: appended from the last offset; the view stays at the bottom when it was there.
async function tail(stream) {
  const data = await api(`${base}/output?stream=${stream}&offset=${offsets[stream]}`);
  const box = $(stream);
  if (data.restarted) box.textContent = ''; // the job ran again: its file restarted
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  if (data.text) box.append(document.createTextNode(data.text));
  offsets[stream] = data.offset;
  $(`${stream}-state`).textContent = data.exists ? `(${data.offset} bytes)` : '(no file yet)';
  if (atBottom) box.scrollTop = box.scrollHeight;
  return data.text.length;
}
async function followOutput() {
  for (;;) {
    let got = 0;
    try { got = (await tail('stdout')) + (await tail('stderr')); } catch (error) { /* retried */ }
    const ended = status === 'done' || status === 'failed';
    await new Promise((resolve) => setTimeout(resolve, got ? 200 : ended ? 3000 : 700));
  }
}

$('act-stop-job').onclick = async () => {
  if (await act('stop job', `/api/workflows/${workflowId}/jobs/stop`, { jobs: [jobId] }, 'Stop this job? If it runs it is killed.')) load();
};
$('act-restart-job').onclick = async () => {
  if (await act('restart job', `/api/workflows/${workflowId}/jobs/restart`, { jobs: [jobId] }, 'Restart this job (and the jobs that need it)?')) {
    offsets.stdout = 0; offsets.stderr = 0; $('stdout').textContent = ''; $('stderr').textContent = '';
    load();
  }
};

follow(`/api/workflows/${workflowId}/events`, (event) => {
  if (event.type === 'resync') { load(); return; }
  if (event.type === 'workflow' && (event.more || event.rows.some((row) => row.id === jobId))) load();
}, load);
followOutput();
