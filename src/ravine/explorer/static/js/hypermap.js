/* The hyperparameter map (<details id="hypermap-view">): the final f − f* (or the steps to
 * ‖∇f‖ ≤ tol) of the selected optimizer over a grid of η and a second hyperparameter (β for
 * the momentum rules, β₁ for Adam's family, ε for the rest; η alone as a curve where there is
 * none), on the current problem from the current start: POST /api/hypermap, one batched run
 * of the compiled runner. Axes on the fields' own scales (log η, log ε, log(1 − β)); the
 * stability bounds of ravine.analysis as lines (exact on a quadratic, else labelled as the local quadratic's);
 * a × at the optimizer's current values. A click on a cell sets that optimizer's η and β to
 * the cell's (controls.setHypers: the card is rebuilt and the run redone, so the contour shows
 * the clicked run).
 *
 * The map is recomputed only when something it depends on changes (problem, start, steps,
 * the optimizer's other hyperparameters, the metric, the axis); moving η or β only moves the
 * ×. While the server compiles the map's kernel it answers a coarser NumPy map with
 * ``compiling: true``; the view asks again until the full map is there. S.hypermap holds the
 * last answer.
 */
import { api, requestBody } from "./api.js";
import { setHypers } from "./controls.js";
import { $, S, byName, fmt, on, plotTheme } from "./state.js";

const plotDiv = () => $("hypermap-plot");
const FLOOR = 1e-20;  // f − f* below this (round-off of a converged run) is drawn as this
let controller = null;
let seq = 0;
let lastKey = null;
let retry = null;

export function init() {
  S.hypermap = null;
  S.hypermapRequests = 0;
  const panel = $("hypermap-view");
  panel.addEventListener("toggle", () => { if (panel.open) refresh(true); });
  $("hypermap-metric").addEventListener("change", () => refresh(true));
  $("hypermap-y").addEventListener("change", () => refresh(true));
  $("hypermap-n").addEventListener("change", () => refresh(true));
  on("result", () => refresh(false));
  on("step", () => { if (S.hypermap && S.hypermap.index !== S.selected) refresh(false); });
}

// the axes' fields of the last answer for this optimizer (so moving η or β does not recompute)
function axes(opt) {
  const m = S.hypermap;
  if (!m || m.index !== S.selected || m.name !== opt.name) return [];
  return ["lr"].concat(m.y ? [m.y.name] : []);
}

function yChoice() {
  const v = $("hypermap-y").value;
  return v === "auto" ? null : v === "none" ? "" : v;
}

function request() {
  const body = requestBody();
  const index = Math.min(S.selected, body.optimizers.length - 1);
  const opt = body.optimizers[index];
  body.optimizers = [opt];
  const req = { setup: body, index: 0, metric: $("hypermap-metric").value, n: Number($("hypermap-n").value) || 40 };
  const y = yChoice();
  if (y !== null) req.y = y;
  const hyper = Object.assign({}, opt.hyper);
  for (const a of axes(opt)) delete hyper[a];
  const key = JSON.stringify([req.metric, req.n, y, index, Object.assign({}, body, { optimizers: [
    { name: opt.name, convention: opt.convention, hyper } ] })]);
  return { req, key, index };
}

function fillYChoices() {
  const sel = $("hypermap-y");
  const opt = S.setup.optimizers[Math.min(S.selected, S.setup.optimizers.length - 1)];
  const m = byName(opt.name);
  const names = m.fields.filter((f) => f.name !== "lr" && f.type === "real" && (f.scale === "log" || f.scale === "log1m"))
    .map((f) => f.name);
  const want = ["auto", ...names, "none"];
  const have = Array.from(sel.options).map((o) => o.value);
  if (want.join() === have.join()) return;
  const cur = sel.value;
  sel.innerHTML = "";
  for (const v of want) {
    const o = document.createElement("option");
    o.value = v; o.textContent = v === "auto" ? "auto" : v === "none" ? "none (η only)" : v;
    sel.appendChild(o);
  }
  sel.value = want.includes(cur) ? cur : "auto";
}

async function refresh(force) {
  if (!$("hypermap-view").open || !S.result) return;
  fillYChoices();
  const { req, key, index } = request();
  if (!force && key === lastKey) { marker(); return; }
  lastKey = key;
  if (retry) { clearTimeout(retry); retry = null; }
  if (controller) controller.abort();
  controller = new AbortController();
  const mine = ++seq;
  $("hypermap-note").textContent = "computing the map …";
  try {
    const res = await api("/api/hypermap", req, controller.signal);
    const d = await res.json();
    if (mine !== seq) return;
    d.index = index;  // the page's optimizer index (the request held only that optimizer)
    S.hypermap = d;
    S.hypermapRequests += 1;
    draw(d);
    if (d.compiling) retry = setTimeout(() => { retry = null; refresh(true); }, 800);  // the full map once compiled
  } catch (e) {
    if (e.name === "AbortError" || mine !== seq) return;
    lastKey = null;
    $("hypermap-note").textContent = e.message;
  }
}

// ------------------------------------------------------------------ axes on the fields' scales
const log10 = Math.log10;
function coord(axis, v) { return axis.scale === "log1m" ? log10(1 - v) : log10(v); }
function ticks(axis, values) {
  const lo = Math.min(...values.map((v) => coord(axis, v))), hi = Math.max(...values.map((v) => coord(axis, v)));
  const tv = [], tt = [];
  if (axis.scale === "log1m") {
    for (const b of [0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999]) {
      const c = log10(1 - b);
      if (c >= lo - 1e-9 && c <= hi + 1e-9) { tv.push(c); tt.push(String(b)); }
    }
  } else {
    for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) { tv.push(k); tt.push(k === 0 ? "1" : `1e${k}`); }
  }
  return { tickvals: tv, ticktext: tt, range: [lo - 0.5 * (hi - lo) / values.length, hi + 0.5 * (hi - lo) / values.length] };
}
function axisTitle(axis) {
  return axis.scale === "log1m" ? `${axis.name} (${axis.symbol}; axis: log(1 − ${axis.symbol}))` : `${axis.name} (${axis.symbol}; log axis)`;
}

function draw(d) {
  const gd = plotDiv();
  const xs = d.x.values;
  const xc = xs.map((v) => coord(d.x, v));
  const loss = d.metric === "loss";
  const zOf = (v) => (v === null ? null : loss ? log10(Math.max(v, FLOOR)) : v);
  const what = loss ? `log₁₀(f − f*) after ${d.steps} steps` : `steps to ‖∇f‖ ≤ ${fmt(d.tol)}`;
  const traces = [];
  const layout = {
    margin: { l: 70, r: 12, t: 8, b: 48 },
    xaxis: Object.assign({ title: { text: axisTitle(d.x) }, zeroline: false }, ticks(d.x, xs)),
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0, font: { size: 11 } },
    showlegend: true,
    hovermode: "closest",
    ...plotTheme(),
  };
  if (d.y) {
    const ys = d.y.values;
    const yc = ys.map((v) => coord(d.y, v));
    const z = d.values.map((row) => row.map(zOf));
    traces.push({
      type: "heatmap", name: what, x: xc, y: yc, z, colorscale: "Viridis", reversescale: true, showscale: true,
      colorbar: { title: { text: loss ? "log₁₀(f − f*) (floor −20)" : "steps", side: "right" }, thickness: 12 },
      customdata: d.values.map((row, j) => row.map((v, i) => [xs[i], ys[j], v === null ? NaN : v])),
      hovertemplate: `${d.x.symbol} = %{customdata[0]:.4g}<br>${d.y.symbol} = %{customdata[1]:.5g}<br>` +
        `${loss ? "f − f*" : "steps"} = %{customdata[2]:.4g}<extra>click: use these</extra>`,
      meta: { role: "map" }, showlegend: false,
    });
    const masked = (code) => d.status.map((row) => row.map((c) => (c === code ? 1 : null)));
    traces.push({ type: "heatmap", name: "diverged", x: xc, y: yc, z: masked(2), showscale: false,
      colorscale: [[0, "#c7ccd4"], [1, "#c7ccd4"]], hoverinfo: "skip", meta: { role: "diverged" }, showlegend: false });
    if (!loss) {
      traces.push({ type: "heatmap", name: "not converged", x: xc, y: yc, z: masked(1), showscale: false,
        colorscale: [[0, "#eef0f3"], [1, "#eef0f3"]], hoverinfo: "skip", meta: { role: "not_converged" }, showlegend: false });
    }
    for (const b of d.bounds) {
      const line = b.y === null
        ? { x: [log10(b.x[0]), log10(b.x[0])], y: [Math.min(...yc), Math.max(...yc)] }
        : { x: b.x.map(log10), y: b.y.map((v) => coord(d.y, v)) };
      traces.push(Object.assign({ type: "scatter", mode: "lines", name: b.label, hoverinfo: "skip",
        line: { color: "#ffffff", width: 2.5, dash: "dash" }, meta: { role: "bound", bound: b } }, line));
    }
    const cur = d.current;
    traces.push({ type: "scatter", mode: "markers", name: "current", x: [log10(cur.lr)],
      y: [coord(d.y, cur[d.y.name])], hoverinfo: "skip", meta: { role: "current" }, showlegend: false,
      marker: { symbol: "x-thin", size: 14, line: { width: 3, color: "#d62728" } } });
    layout.yaxis = Object.assign({ title: { text: axisTitle(d.y) }, zeroline: false }, ticks(d.y, ys));
  } else {
    traces.push({ type: "scatter", mode: "lines+markers", name: what, x: xc,
      y: d.values.map((v) => (v === null ? null : loss ? Math.max(v, FLOOR) : v)),
      customdata: xs, hovertemplate: `${d.x.symbol} = %{customdata:.4g}<br>%{y:.4g}<extra>click: use this η</extra>`,
      line: { color: "#0072B2" }, meta: { role: "map" } });
    for (const b of d.bounds) {
      traces.push({ type: "scatter", mode: "lines", name: b.label, x: [log10(b.x[0]), log10(b.x[0])], y: [0, 1],
        yaxis: "y2", hoverinfo: "skip", line: { color: "#111827", width: 2, dash: "dash" }, meta: { role: "bound", bound: b } });
    }
    layout.yaxis = { title: { text: loss ? "f − f*" : "steps" }, type: loss ? "log" : "linear", exponentformat: "power" };
    layout.yaxis2 = { overlaying: "y", range: [0, 1], visible: false };
    layout.shapes = [{ type: "line", xref: "x", yref: "paper", x0: log10(d.current.lr), x1: log10(d.current.lr),
      y0: 0, y1: 1, line: { color: "#d62728", width: 1.5, dash: "dot" } }];
  }
  const parts = [`${d.label}: ${what}, ${d.n} × ${d.y ? d.n : 1} runs (${d.backend}, ${fmt(d.server_ms)} ms)`];
  if (loss) parts.push(`f* = ${fmt(d.f_ref)} (${d.f_ref_kind})`);
  if (d.coarse) parts.push(d.compiling ? "a coarse NumPy map while the compiled one is prepared" : `coarser than asked (${d.requested_n}) on the NumPy path`);
  if (d.note) parts.push(d.note);
  parts.push("grey: diverged; click a cell to run it");
  $("hypermap-note").textContent = parts.join(" · ");
  Plotly.react(gd, traces, layout, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
  if (!gd.dataset.bound) {
    gd.dataset.bound = "1";
    gd.on("plotly_click", onClick);
  }
}

function nearest(arr, v) {
  let best = 0;
  for (let i = 1; i < arr.length; i++) if (Math.abs(arr[i] - v) < Math.abs(arr[best] - v)) best = i;
  return best;
}

function onClick(ev) {
  const d = S.hypermap;
  if (!d || !ev.points || !ev.points.length) return;
  const pt = ev.points.find((p) => p.data.meta && p.data.meta.role === "map");
  if (!pt) return;
  const xc = d.x.values.map((v) => coord(d.x, v));
  const values = { lr: d.x.values[nearest(xc, pt.x)] };
  if (d.y) {
    const yc = d.y.values.map((v) => coord(d.y, v));
    values[d.y.name] = d.y.values[nearest(yc, pt.y)];
  }
  S.hypermapClicked = values;
  setHypers(d.index, values);
}

function marker() {
  const d = S.hypermap;
  const gd = plotDiv();
  if (!d || !gd.data) return;
  const opt = S.setup.optimizers[d.index];
  if (!opt) return;
  const res = S.result && S.result.trajectories[d.index];
  const h = res ? res.hyper : {};
  if (d.y) {
    const k = gd.data.findIndex((t) => t.meta && t.meta.role === "current");
    if (k >= 0 && h.lr > 0 && typeof h[d.y.name] === "number") {
      Plotly.restyle(gd, { x: [[log10(h.lr)]], y: [[coord(d.y, h[d.y.name])]] }, [k]);
    }
    d.current = { lr: h.lr, [d.y.name]: h[d.y.name] };
  } else if (h.lr > 0) {
    Plotly.relayout(gd, { "shapes[0].x0": log10(h.lr), "shapes[0].x1": log10(h.lr) });
    d.current = { lr: h.lr };
  }
}
