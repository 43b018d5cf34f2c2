// Drawings of the swf report (inlined into the HTML file: no network, no library).
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const COLOURS = { done: '#2e7d32', failed: '#c62828', running: '#0277bd', queued_active: '#6a1b9a', not_submitted: '#9e9e9e', kill_pending: '#ef6c00' };
  const colour = (s) => COLOURS[s] || '#795548';
  function el(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function note(id, text) { document.getElementById(id).textContent = text; }
  const secs = (s) => (s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);

  function axis(root, x0, y0, width, span) {
    for (let i = 0; i <= 4; i++) {
      const x = x0 + (width * i) / 4;
      root.append(el('line', { x1: x, y1: 0, x2: x, y2: y0, stroke: '#eee' }));
      root.append(el('text', { x, y: y0 + 14, 'text-anchor': 'middle' }, secs((span * i) / 4)));
    }
  }

  function timeline() {
    const t = data.timeline; const box = document.getElementById('timeline');
    if (t.mode === 'empty') { note('timeline-note', 'No job has started yet.'); return; }
    const laneH = t.lanes > 64 ? 4 : 14; const left = 60; const width = 1000;
    const height = t.lanes * laneH + 24;
    const root = el('svg', { width: left + width + 10, height });
    for (let lane = 0; lane < t.lanes; lane += Math.max(1, Math.ceil(t.lanes / 32))) {
      root.append(el('text', { x: left - 6, y: lane * laneH + laneH - 3, 'text-anchor': 'end' }, `slot ${lane + 1}`));
    }
    axis(root, left, t.lanes * laneH, width, t.span);
    const scale = width / Math.max(t.span, 1e-3);
    if (t.mode === 'bars') {
      note('timeline-note', `Every job on the CPU slot it used (${t.lanes} slots), coloured by status; hover a bar for the job.`);
      for (const [lane, s, e, status, name] of t.bars) {
        const bar = el('rect', { x: left + s * scale, y: lane * laneH + 1, width: Math.max(1, (e - s) * scale), height: laneH - 2, fill: colour(status) });
        bar.append(el('title', {}, `${name}: ${status}, ${secs(e - s)}`));
        root.append(bar);
      }
    } else {
      note('timeline-note', `Too many jobs for one bar each: how busy each of the ${t.lanes} slots was over time (green: jobs that succeeded, red: failed).`);
      const w = width / t.bins;
      for (let lane = 0; lane < t.lanes; lane++) {
        for (let b = 0; b < t.bins; b++) {
          const busy = t.busy[lane][b]; const failed = t.failed[lane][b];
          if (busy + failed <= 0) continue;
          root.append(el('rect', { x: left + b * w, y: lane * laneH, width: w + 0.5, height: laneH - 1,
            fill: failed > busy ? '#c62828' : '#2e7d32', 'fill-opacity': Math.min(1, busy + failed) }));
        }
      }
    }
    box.append(root);
  }

  function lines(id, t, series) {
    const width = 1000; const height = 200; const left = 60;
    const root = el('svg', { width: left + width + 10, height: height + 40 });
    if (!t.length) { document.getElementById(id).append(document.createTextNode('No job has started yet.')); return; }
    const max = Math.max(1, ...series.flatMap((s) => s.values));
    axis(root, left, height, width, t[t.length - 1] - t[0]);
    root.append(el('text', { x: left - 6, y: 10, 'text-anchor': 'end' }, String(max)));
    series.forEach((s, n) => {
      const pts = s.values.map((v, i) => `${left + (width * i) / Math.max(1, t.length - 1)},${height - (height * v) / max}`).join(' ');
      root.append(el('polyline', { points: pts, fill: 'none', stroke: s.colour, 'stroke-width': 2 }));
      root.append(el('text', { x: left + 10 + n * 150, y: height + 34, fill: s.colour }, `■ ${s.name}`));
    });
    document.getElementById(id).append(root);
  }

  function bars(root, x0, y0, w, h, counts, fill) {
    const max = Math.max(1, ...counts); const bw = w / Math.max(1, counts.length);
    counts.forEach((c, i) => root.append(el('rect', { x: x0 + i * bw, y: y0 + h - (h * c) / max, width: Math.max(1, bw - 1), height: (h * c) / max, fill })));
  }

  function resources() {
    const r = data.resources; const box = document.getElementById('resources');
    if (r.mode === 'jobs') {
      if (!r.jobs.length) { note('resources-note', 'The scheduler reported no CPU or memory use.'); return; }
      note('resources-note', 'Each job (sorted by CPU time): CPU seconds above, peak memory (MB) below.');
      const jobs = r.jobs.slice().sort((a, b) => (b[1] || 0) - (a[1] || 0));
      const width = Math.max(300, Math.min(1000, jobs.length * 12)); const root = el('svg', { width: width + 70, height: 300 });
      const bw = width / jobs.length;
      const maxC = Math.max(1e-6, ...jobs.map((j) => j[1] || 0)); const maxM = Math.max(1e-6, ...jobs.map((j) => j[2] || 0));
      root.append(el('text', { x: 0, y: 12 }, `CPU ${maxC.toFixed(2)} s`));
      root.append(el('text', { x: 0, y: 162 }, `mem ${maxM.toFixed(1)} MB`));
      jobs.forEach((j, i) => {
        const c = el('rect', { x: 60 + i * bw, y: 140 - (120 * (j[1] || 0)) / maxC, width: Math.max(1, bw - 1), height: (120 * (j[1] || 0)) / maxC, fill: colour(j[3]) });
        c.append(el('title', {}, `${j[0]}: ${(j[1] || 0).toFixed(3)} s CPU`));
        const m = el('rect', { x: 60 + i * bw, y: 290 - (120 * (j[2] || 0)) / maxM, width: Math.max(1, bw - 1), height: (120 * (j[2] || 0)) / maxM, fill: '#6a1b9a' });
        m.append(el('title', {}, `${j[0]}: ${(j[2] || 0).toFixed(1)} MB`));
        root.append(c, m);
      });
      box.append(root);
      return;
    }
    note('resources-note', `${r.jobs} jobs: distribution of CPU seconds (left, ${r.cpu.low.toFixed(2)}–${r.cpu.high.toFixed(2)} s) and peak memory (right, ${r.memory.low.toFixed(1)}–${r.memory.high.toFixed(1)} MB); the largest below.`);
    const root = el('svg', { width: 900, height: 180 });
    bars(root, 0, 10, 420, 150, r.cpu.counts, '#0277bd');
    bars(root, 470, 10, 420, 150, r.memory.counts, '#6a1b9a');
    box.append(root);
  }

  function levels() {
    const counts = data.dag.levels; const root = el('svg', { width: Math.max(320, Math.min(1000, 20 + counts.length * 14)), height: 130 });
    bars(root, 10, 10, Math.min(980, counts.length * 14), 100, counts, '#546e7a');
    root.append(el('text', { x: 10, y: 126 }, `${counts.length} levels, widest ${Math.max(0, ...counts)} jobs`));
    document.getElementById('levels').append(root);
  }

  timeline();
  lines('series-finished', data.series.t, [
    { name: 'done', colour: '#2e7d32', values: data.series.done },
    { name: 'failed', colour: '#c62828', values: data.series.failed },
  ]);
  lines('series-running', data.series.t, [
    { name: 'running', colour: '#0277bd', values: data.series.running },
    { name: 'slots in use', colour: '#6a1b9a', values: data.series.slots },
  ]);
  resources();
  levels();
}());
