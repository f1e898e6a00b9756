"""Offline HTML pages that replay back propagation and training (``backprop.step_through``,
``backprop.training_replay``).

Each page is one self-contained file: the data as JSON, a stylesheet and a
script, no CDN, no server, no external file. The script draws everything
(the graph, the network, the curves) from the JSON when the page loads, and
steps through it with buttons, the arrow keys and a slider.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from tinygrad_mlp.engine import Value, _conform, _topological_order

__all__ = ["step_through", "training_replay"]


def _num(x: Any) -> str:
    x = float(x)
    if not math.isfinite(x):
        return repr(x)
    return f"{x:.4g}"


def _summary(data: Any) -> str:
    """A scalar's value, or a small array's values, or a large one's shape and norm."""
    if type(data) is float or np.ndim(data) == 0:
        return _num(data)
    a = np.asarray(data)
    if a.size <= 6:
        return "[" + ", ".join(_num(v) for v in a.reshape(-1)) + "]"
    return f"shape {a.shape}, |.| = {_num(np.linalg.norm(a))}"


def _name(v: Value, index: int) -> str:
    return v.label or (v.op if v.op else f"v{index}")


def _graph_data(loss: Value) -> dict:
    """Nodes, edges, the forward order and every backward step, computed as backward() does."""
    if loss.size != 1:
        raise ValueError(f"step_through needs a one-element loss, received shape {loss.shape}")
    forward = _topological_order(loss)  # parents before children: the forward pass
    index = {v: k for k, v in enumerate(forward)}
    extra = []  # constants and inputs that need no gradient: shown, never stepped backward
    for v in forward:
        for p in v.parents:
            if p not in index:
                index[p] = len(forward) + len(extra)
                extra.append(p)
    nodes = forward + extra
    depth, row = _layout(forward, extra)
    acc: dict[Value, Any] = {loss: 1.0 if loss.is_scalar else np.ones_like(loss.data)}
    steps = []
    for v in reversed(forward):  # the engine's backward order
        g = acc.get(v)
        if g is None or not v.parents:
            steps.append(
                {"node": index[v], "grad": _summary(g if g is not None else 0.0), "parts": []}
            )
            continue
        grads = v._backward(g, v.data, v._ctx, *[p.data for p in v.parents])
        parts = []
        for p, pg in zip(v.parents, grads, strict=True):
            if pg is None or not p.requires_grad:
                continue
            pg = _conform(pg, p.data, False)
            before = acc.get(p)
            acc[p] = pg if before is None else before + pg
            part = {"to": index[p], "contribution": _summary(pg), "total": _summary(acc[p])}
            if v.is_scalar and p.is_scalar and type(g) is float and g != 0:
                part["local"] = _num(float(pg) / g)
            parts.append(part)
        steps.append({"node": index[v], "grad": _summary(g), "parts": parts})
    return {
        "nodes": [
            {
                "id": k,
                "name": _name(v, k),
                "op": v.op,
                "label": v.label,
                "data": _summary(v.data),
                "grad": _summary(acc[v]) if v in acc else "",
                "param": not v.parents and v.requires_grad,
                "depth": depth[v],
                "row": row[v],
            }
            for k, v in enumerate(nodes)
        ],
        "edges": [[index[p], index[v]] for v in forward for p in v.parents],
        "forward": [index[v] for v in forward],
        "backward": steps,
        "loss": _summary(loss.data),
    }


def _layout(forward: list[Value], extra: list[Value]) -> tuple[dict, dict]:
    """Columns (an op one right of its latest input; a leaf just left of its first use)
    and rows within a column (ordered by the rows of the inputs, then of the uses)."""
    depth: dict[Value, int] = {}
    for v in forward:
        depth[v] = 1 + max((depth.get(p, 0) for p in v.parents), default=-1) if v.parents else 0
    uses: dict[Value, list[Value]] = {}
    for v in forward:
        for p in v.parents:
            uses.setdefault(p, []).append(v)
    for v in list(forward) + extra:
        if not v.parents:
            depth[v] = max(0, min((depth[u] for u in uses.get(v, [])), default=1) - 1)
    columns: dict[int, list[Value]] = {}
    for v in list(forward) + extra:
        columns.setdefault(depth[v], []).append(v)
    row = {v: k for column in columns.values() for k, v in enumerate(column)}
    for sweep in range(4):  # barycentres: right along the inputs, then left along the uses
        ahead = sweep % 2 == 0
        for d in sorted(columns, reverse=not ahead):

            def key(v: Value, ahead: bool = ahead) -> float:
                near = v.parents if ahead else uses.get(v, [])
                near = [n for n in near if n in row] or [v]
                return sum(row[n] for n in near) / len(near)

            columns[d].sort(key=key)
            for k, v in enumerate(columns[d]):
                row[v] = k
    return depth, row


def step_through(loss: Value, to_file: str | os.PathLike = "backprop.html", title: str = "") -> str:
    """Write an offline page replaying the forward pass node by node, then backward.

    Forward: each Value appears with its data, in the order it was computed.
    Backward, in the engine's order: each step highlights a node, shows
    dL/d(node), and for each input the chain-rule product
    ``dL/d(input) += dL/d(node) * d(node)/d(input)`` with its numbers and the
    total so far. Buttons, the left/right arrow keys and a slider move through
    the steps. Returns the path written.
    """
    data = _graph_data(loss)
    data["title"] = title or "Back propagation, step by step"
    return _write(to_file, data["title"], _STEP_THROUGH_JS, data)


def training_replay(
    model: Any,
    x: Any,
    y: Any,
    epochs: int = 30,
    to_file: str | os.PathLike = "training.html",
    batch_size: int | None = 32,
    grid: int = 40,
) -> str:
    """Train ``model`` (compiled, 2 inputs, 1 sigmoid output) epoch by epoch and write a page
    replaying it, in the spirit of TensorFlow Playground: the decision boundary over the
    data, the loss curve, and the network with its weights, one epoch at a time.

    Returns the path written. The model is trained in place (``epochs`` more epochs).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"training_replay needs 2-D inputs of shape (n, 2), received {x.shape}")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)} values")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, received {epochs!r}")
    if getattr(model, "optimizer", None) is None:
        raise RuntimeError("training_replay needs a compiled model: call model.compile(...) first")
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.05 * (hi - lo + 1e-12)
    lo, hi = lo - pad, hi + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(hi[1], lo[1], grid))
    cells = np.c_[gx.ravel(), gy.ravel()]

    def snapshot(epoch: int, loss: float | None) -> dict:
        p = np.asarray(model.predict(cells, verbose=0), dtype=np.float64).reshape(-1)
        if not np.isfinite(p).all() or (loss is not None and not math.isfinite(loss)):
            raise FloatingPointError(
                f"training diverged at epoch {epoch} (loss {loss}): lower the learning rate"
            )
        return {
            "epoch": epoch,
            "loss": loss,
            "grid": [round(float(v), 3) for v in p],
            "weights": [
                np.round(np.asarray(w, dtype=np.float64), 4).tolist() for w in model.get_weights()
            ],
        }

    frames = [snapshot(0, None)]
    for epoch in range(1, epochs + 1):
        history = model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
        frames.append(snapshot(epoch, float(history.history["loss"][-1])))
    data = {
        "title": "Training, epoch by epoch",
        "grid": grid,
        "bounds": [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])],
        "points": [[float(a), float(b), float(c)] for (a, b), c in zip(x, y, strict=True)],
        "frames": frames,
    }
    return _write(to_file, data["title"], _TRAINING_JS, data)


def _write(to_file: str | os.PathLike, title: str, script: str, data: dict) -> str:
    payload = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    page = _PAGE.format(title=_escape(title), style=_STYLE, data=payload, script=script)
    path = os.fspath(to_file)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{style}</style></head>
<body>
<h1>{title}</h1>
<div id="controls">
  <button id="first" title="first step">|&lt;</button>
  <button id="prev" title="previous step (left arrow)">&lt; back</button>
  <button id="next" title="next step (right arrow)">next &gt;</button>
  <button id="last" title="last step">&gt;|</button>
  <input id="slider" type="range" min="0" value="0">
  <span id="counter"></span>
</div>
<div id="explain"></div>
<div id="view"></div>
<div id="final"></div>
<script id="data" type="application/json">{data}</script>
<script>{script}</script>
</body></html>
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1em; color: #222; }
h1 { font-size: 1.3em; }
#controls button { font-size: 1.1em; min-width: 2.4em; }
#slider { width: 40em; vertical-align: middle; }
#explain { font-family: ui-monospace, monospace; white-space: pre-wrap; background: #f6f6f6;
  border: 1px solid #ddd; padding: 0.6em; margin: 0.6em 0; min-height: 4.5em; }
svg text { font-family: ui-monospace, monospace; font-size: 11px; }
.node rect { fill: #fff; stroke: #888; }
.node.param rect { stroke: #000; stroke-width: 2.5px; }
.node.done rect { fill: #eef6ff; }
.node.grad rect { fill: #ffe9d6; }
.node.current rect { fill: #ffd24d; stroke: #c00; stroke-width: 3px; }
.node.hidden { opacity: 0.15; }
.edge { stroke: #999; fill: none; }
.edge.active { stroke: #c00; stroke-width: 2.5px; }
table { border-collapse: collapse; margin-top: 1em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; font-family: ui-monospace, monospace; }
"""

_STEP_THROUGH_JS = r"""
const D = JSON.parse(document.getElementById('data').textContent);
const SVG = 'http://www.w3.org/2000/svg';
const W = 150, H = 52, GX = 60, GY = 14;
const steps = [{kind: 'start'}];
D.forward.forEach(n => steps.push({kind: 'forward', node: n}));
D.backward.forEach(s => steps.push(Object.assign({kind: 'backward'}, s)));
const cols = {};
D.nodes.forEach(n => { (cols[n.depth] = cols[n.depth] || []).push(n); });
const pos = {};
let height = 0;
D.nodes.forEach(n => {
  pos[n.id] = {x: 10 + n.depth * (W + GX), y: 10 + n.row * (H + GY)};
  height = Math.max(height, pos[n.id].y + H + 10);
});
const width = 20 + (Math.max(...D.nodes.map(n => n.depth)) + 1) * (W + GX);
const svg = document.createElementNS(SVG, 'svg');
svg.setAttribute('width', width); svg.setAttribute('height', height);
svg.setAttribute('id', 'graph');
const edgeEls = [];
D.edges.forEach(([a, b]) => {
  const p = document.createElementNS(SVG, 'path');
  const x1 = pos[a].x + W, y1 = pos[a].y + H / 2, x2 = pos[b].x, y2 = pos[b].y + H / 2;
  p.setAttribute('d', `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`);
  p.setAttribute('class', 'edge'); p.dataset.from = a; p.dataset.to = b;
  svg.appendChild(p); edgeEls.push(p);
});
const nodeEls = {};
D.nodes.forEach(n => {
  const g = document.createElementNS(SVG, 'g');
  g.setAttribute('class', 'node' + (n.param ? ' param' : ''));
  g.setAttribute('transform', `translate(${pos[n.id].x},${pos[n.id].y})`);
  g.dataset.node = n.id;
  const r = document.createElementNS(SVG, 'rect');
  r.setAttribute('width', W); r.setAttribute('height', H); r.setAttribute('rx', 5);
  g.appendChild(r);
  const lines = [(n.label || '') + (n.op ? '  [' + n.op + ']' : ''), 'data ' + n.data, 'grad'];
  lines.forEach((t, i) => {
    const el = document.createElementNS(SVG, 'text');
    el.setAttribute('x', 6); el.setAttribute('y', 15 + i * 15); el.textContent = t;
    if (i === 1) el.setAttribute('class', 'data');
    if (i === 2) el.setAttribute('class', 'gradtext');
    g.appendChild(el);
  });
  const title = document.createElementNS(SVG, 'title');
  title.textContent = n.name; g.appendChild(title);
  svg.appendChild(g); nodeEls[n.id] = g;
});
document.getElementById('view').appendChild(svg);

// the final gradients, as the end of the backward pass leaves them
const table = document.createElement('table');
table.id = 'final-gradients';
table.innerHTML = '<tr><th>Value</th><th>data</th><th>dL/d(Value)</th></tr>';
D.nodes.filter(n => n.grad !== '').forEach(n => {
  const tr = document.createElement('tr');
  tr.dataset.node = n.id;
  [n.name, n.data, n.grad].forEach(t => { const td = document.createElement('td'); td.textContent = t; tr.appendChild(td); });
  table.appendChild(tr);
});
const caption = document.createElement('p');
caption.textContent = 'Final gradients (after the whole backward pass), L = ' + D.loss;
document.getElementById('final').append(caption, table);

const slider = document.getElementById('slider');
slider.max = steps.length - 1;
let at = 0;
function show(k) {
  at = Math.max(0, Math.min(steps.length - 1, k));
  slider.value = at;
  document.getElementById('counter').textContent = `step ${at} of ${steps.length - 1}`;
  const computed = new Set(), graded = {};
  const extraDone = steps.some(s => s.kind === 'forward');
  for (let i = 1; i <= at; i++) {
    const s = steps[i];
    if (s.kind === 'forward') computed.add(s.node);
    else { graded[s.node] = s.grad; s.parts.forEach(p => { graded[p.to] = p.total; }); }
  }
  const inForward = new Set(D.forward);
  D.nodes.forEach(n => {
    const g = nodeEls[n.id];
    const shown = computed.has(n.id) || !inForward.has(n.id) || at === 0;
    g.classList.toggle('hidden', !shown && at > 0);
    g.classList.toggle('done', computed.has(n.id));
    g.classList.toggle('grad', n.id in graded);
    g.classList.remove('current');
    g.querySelector('.gradtext').textContent = 'grad ' + (n.id in graded ? graded[n.id] : '');
  });
  edgeEls.forEach(e => e.classList.remove('active'));
  const s = steps[at];
  const ex = document.getElementById('explain');
  if (s.kind === 'start') {
    ex.textContent = 'The graph the forward pass recorded. Step forward to compute it node by node, then backward.';
  } else if (s.kind === 'forward') {
    const n = D.nodes[s.node];
    nodeEls[s.node].classList.add('current');
    const ins = D.edges.filter(e => e[1] === s.node).map(e => D.nodes[e[0]].label || D.nodes[e[0]].data);
    ex.textContent = `forward: ${n.name} = ${n.op ? n.op + '(' + ins.join(', ') + ')' : 'a leaf'} = ${n.data}`;
    edgeEls.filter(e => +e.dataset.to === s.node).forEach(e => e.classList.add('active'));
  } else {
    const n = D.nodes[s.node];
    nodeEls[s.node].classList.add('current');
    const lines = [`backward: dL/d${n.name} = ${s.grad}`];
    s.parts.forEach(p => {
      const to = D.nodes[p.to].name;
      const local = p.local !== undefined ? ` = ${s.grad} * ${p.local}` : '';
      lines.push(`  dL/d${to} += dL/d${n.name} * d${n.name}/d${to}${local} = ${p.contribution}   (total ${p.total})`);
      edgeEls.filter(e => +e.dataset.to === s.node && +e.dataset.from === p.to).forEach(e => e.classList.add('active'));
    });
    if (!s.parts.length) lines.push('  a leaf: its gradient is final');
    ex.textContent = lines.join('\n');
  }
}
document.getElementById('first').onclick = () => show(0);
document.getElementById('prev').onclick = () => show(at - 1);
document.getElementById('next').onclick = () => show(at + 1);
document.getElementById('last').onclick = () => show(steps.length - 1);
slider.oninput = () => show(+slider.value);
document.addEventListener('keydown', e => {
  if (e.key === 'ArrowRight') show(at + 1);
  if (e.key === 'ArrowLeft') show(at - 1);
});
const start = parseInt((location.hash || '#0').slice(1), 10);
show(location.hash === '#end' ? steps.length - 1 : (isNaN(start) ? 0 : start));
document.body.dataset.ready = 'true';
"""

_TRAINING_JS = r"""
const D = JSON.parse(document.getElementById('data').textContent);
const SVG = 'http://www.w3.org/2000/svg';
const view = document.getElementById('view');
const canvas = document.createElement('canvas');
canvas.width = 360; canvas.height = 360; canvas.id = 'boundary';
const curve = document.createElementNS(SVG, 'svg');
curve.setAttribute('width', 360); curve.setAttribute('height', 360); curve.id = 'loss-curve';
const net = document.createElementNS(SVG, 'svg');
net.setAttribute('width', 420); net.setAttribute('height', 360); net.id = 'network';
view.append(canvas, curve, net);
const [x0, x1, y0, y1] = D.bounds;
const sx = x => (x - x0) / (x1 - x0) * 360, sy = y => (y1 - y) / (y1 - y0) * 360;
function color(p, light) { // 0 -> orange, 1 -> blue, as TensorFlow Playground
  const a = [245, 146, 30], b = [8, 119, 189];
  const mix = a.map((v, i) => v + (b[i] - v) * p).map(v => light ? v + (255 - v) * 0.5 : v);
  return `rgb(${mix.map(Math.round).join(',')})`;
}
const losses = D.frames.map(f => f.loss).filter(v => v !== null);
const maxLoss = Math.max(...losses, 1e-9);
function drawCurve(k) {
  curve.innerHTML = '';
  const axis = document.createElementNS(SVG, 'text');
  axis.setAttribute('x', 10); axis.setAttribute('y', 16); axis.textContent = 'loss per epoch';
  curve.appendChild(axis);
  const pts = D.frames.slice(1, k + 1).map((f, i) =>
    `${20 + i / Math.max(1, D.frames.length - 2) * 320},${340 - f.loss / maxLoss * 300}`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', pts.join(' ')); line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#c00'); line.setAttribute('stroke-width', 2);
  line.id = 'loss-line'; line.dataset.epochs = Math.max(0, k);
  curve.appendChild(line);
}
function drawNetwork(k) {
  net.innerHTML = '';
  const sizes = [2].concat(D.frames[k].weights.filter((w, i) => i % 2 === 0).map(w => w[0].length));
  const xs = sizes.map((_, i) => 30 + i * (360 / Math.max(1, sizes.length - 1)));
  const ys = sizes.map(n => Array.from({length: n}, (_, j) => 20 + (j + 0.5) * 320 / n));
  const kernels = D.frames[k].weights.filter((w, i) => i % 2 === 0);
  const big = Math.max(1e-9, ...kernels.flat(2).map(Math.abs));
  kernels.forEach((K, l) => K.forEach((row, i) => row.forEach((w, j) => {
    const e = document.createElementNS(SVG, 'line');
    e.setAttribute('x1', xs[l]); e.setAttribute('y1', ys[l][i]);
    e.setAttribute('x2', xs[l + 1]); e.setAttribute('y2', ys[l + 1][j]);
    e.setAttribute('stroke', w >= 0 ? '#0877bd' : '#f59322');
    e.setAttribute('stroke-width', 0.5 + 4 * Math.abs(w) / big);
    e.setAttribute('class', 'weight'); e.dataset.value = w;
    const t = document.createElementNS(SVG, 'title'); t.textContent = `w = ${w}`; e.appendChild(t);
    net.appendChild(e);
  })));
  sizes.forEach((n, l) => ys[l].forEach(y => {
    const c = document.createElementNS(SVG, 'circle');
    c.setAttribute('cx', xs[l]); c.setAttribute('cy', y); c.setAttribute('r', 9);
    c.setAttribute('fill', '#fff'); c.setAttribute('stroke', '#333'); c.setAttribute('class', 'neuron');
    net.appendChild(c);
  }));
}
function drawBoundary(k) {
  const ctx = canvas.getContext('2d'), n = D.grid, cell = 360 / n, g = D.frames[k].grid;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    ctx.fillStyle = color(g[i * n + j], true);
    ctx.fillRect(Math.floor(j * cell), Math.floor(i * cell), Math.ceil(cell) + 1, Math.ceil(cell) + 1);
  }
  D.points.forEach(([a, b, c]) => {
    ctx.beginPath(); ctx.arc(sx(a), sy(b), 3, 0, 2 * Math.PI);
    ctx.fillStyle = color(c); ctx.fill(); ctx.strokeStyle = '#fff'; ctx.stroke();
  });
}
const slider = document.getElementById('slider');
slider.max = D.frames.length - 1;
let at = 0;
function show(k) {
  at = Math.max(0, Math.min(D.frames.length - 1, k));
  slider.value = at;
  const f = D.frames[at];
  document.getElementById('counter').textContent = `epoch ${f.epoch} of ${D.frames.length - 1}`;
  document.getElementById('explain').textContent = f.loss === null
    ? 'Before training: the initial weights. Step forward one epoch at a time.'
    : `epoch ${f.epoch}: loss ${f.loss.toPrecision(4)}`;
  drawBoundary(at); drawCurve(at); drawNetwork(at);
}
document.getElementById('first').onclick = () => show(0);
document.getElementById('prev').onclick = () => show(at - 1);
document.getElementById('next').onclick = () => show(at + 1);
document.getElementById('last').onclick = () => show(D.frames.length - 1);
slider.oninput = () => show(+slider.value);
document.addEventListener('keydown', e => {
  if (e.key === 'ArrowRight') show(at + 1);
  if (e.key === 'ArrowLeft') show(at - 1);
});
show(location.hash === '#end' ? D.frames.length - 1 : 0);
const table = document.createElement('table');
table.id = 'epochs';
table.innerHTML = '<tr><th>epoch</th><th>loss</th></tr>' + D.frames.slice(1).map(f =>
  `<tr data-epoch="${f.epoch}"><td>${f.epoch}</td><td>${f.loss.toPrecision(4)}</td></tr>`).join('');
document.getElementById('final').appendChild(table);
document.body.dataset.ready = 'true';
"""
