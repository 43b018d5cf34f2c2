// SVG drawings: line charts over time, and the DAG in layers. Labels are text nodes.
import { colour } from './common.js';

const NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function clockLabel(epoch) {
  const d = new Date(epoch * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}

// lines: [{name, colour, values}] sampled at times t.
export function lineChart(t, lines, width = 900, height = 220) {
  const pad = { left: 50, right: 40, top: 10, bottom: 40 };
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  if (!t.length) {
    root.append(svg('text', { x: 20, y: 30 }, 'no job has started yet'));
    return root;
  }
  const max = Math.max(1, ...lines.flatMap((line) => line.values));
  const x = (i) => pad.left + ((width - pad.left - pad.right) * i) / Math.max(1, t.length - 1);
  const y = (v) => height - pad.bottom - ((height - pad.top - pad.bottom) * v) / max;
  root.append(svg('line', { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), stroke: '#9e9e9e' }));
  root.append(svg('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: y(0), stroke: '#9e9e9e' }));
  for (const v of [0, max / 2, max]) {
    root.append(svg('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(Math.round(v))));
  }
  for (const i of [0, Math.floor((t.length - 1) / 2), t.length - 1]) {
    root.append(svg('text', { x: x(i), y: height - pad.bottom + 14, 'text-anchor': 'middle' }, clockLabel(t[i])));
  }
  lines.forEach((line, n) => {
    const points = line.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { points, fill: 'none', stroke: line.colour, 'stroke-width': 2 }));
    root.append(svg('rect', { x: pad.left + n * 140, y: height - 16, width: 10, height: 10, fill: line.colour }));
    root.append(svg('text', { x: pad.left + 14 + n * 140, y: height - 7 }, line.name));
  });
  return root;
}

function dominant(counts) {
  let best = 'not_submitted'; let n = -1;
  for (const [status, count] of Object.entries(counts)) if (count > n) { best = status; n = count; }
  return best;
}

// graph: {nodes: [{id, label, kind, ref, layer, counts}], edges: [[a, b]]}; onNode(node).
export function dagDrawing(graph, onNode) {
  const layers = new Map();
  for (const node of graph.nodes) {
    if (!layers.has(node.layer)) layers.set(node.layer, []);
    layers.get(node.layer).push(node);
  }
  const W = 150; const H = 34; const GX = 60; const GY = 14;
  const position = new Map();
  const depth = Math.max(0, ...layers.keys()) + 1;
  let tallest = 0;
  for (const [layer, nodes] of layers) {
    nodes.forEach((node, row) => position.set(node.id, [20 + layer * (W + GX), 20 + row * (H + GY)]));
    tallest = Math.max(tallest, nodes.length);
  }
  const width = 40 + depth * (W + GX); const height = 40 + tallest * (H + GY);
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}` });
  for (const [a, b] of graph.edges) {
    const [x1, y1] = position.get(a); const [x2, y2] = position.get(b);
    const mid = (x1 + W + x2) / 2;
    root.append(svg('path', {
      d: `M${x1 + W},${y1 + H / 2} C${mid},${y1 + H / 2} ${mid},${y2 + H / 2} ${x2},${y2 + H / 2}`,
      fill: 'none', stroke: '#b0bec5',
    }));
  }
  for (const node of graph.nodes) {
    const [x, y] = position.get(node.id);
    const total = Object.values(node.counts).reduce((s, n) => s + n, 0);
    const group = svg('g', { class: `node ${node.kind}`, 'data-id': node.id, cursor: 'pointer' });
    group.append(svg('rect', { x, y, width: W, height: H, rx: 5, fill: '#fff', stroke: colour(dominant(node.counts)), 'stroke-width': 2 }));
    let offset = 0;
    for (const [status, n] of Object.entries(node.counts)) {
      const w = (W - 4) * (n / Math.max(1, total));
      group.append(svg('rect', { x: x + 2 + offset, y: y + H - 8, width: w, height: 6, fill: colour(status) }));
      offset += w;
    }
    const label = node.label.length > 22 ? `${node.label.slice(0, 21)}…` : node.label;
    group.append(svg('text', { x: x + 6, y: y + 15 }, node.kind === 'job' ? label : `${label} (${total})`));
    group.append(svg('title', {}, `${node.label}: ${Object.entries(node.counts).map(([s, n]) => `${n} ${s}`).join(', ')}`));
    group.addEventListener('click', () => onNode(node));
    root.append(group);
  }
  return root;
}
