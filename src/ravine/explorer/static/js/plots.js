/* Drawing: the contour with trajectories and arrows, the loss curves, the cards' status
 * lines and the state table (quick, from the run; or the rule's record from /api/explain). */
import { $, S, colorOf, contourScale, emit, explainKey, fmt, fmtHyper, labelOf, markerOf, palette, plotLook, plotTheme } from "./state.js";

export const contourDiv = () => $("contour");
const lossDiv = () => $("loss");

export function contourTrace() {
  if (S.contourTrace) return S.contourTrace;
  const c = S.problemInfo.contour;
  const log = S.problemInfo.log_levels;
  let z = c.z;
  let title = "f";
  if (log) {
    const zmin = c.zmin;
    z = c.z.map((row) => row.map((v) => (v === null ? null : Math.log10(1 + v - zmin))));
    title = "log₁₀(1 + f − f<sub>min</sub>)";
  }
  S.contourTrace = {
    type: "contour", x: c.x, y: c.y, z, ncontours: 28, hoverinfo: "skip",
    colorscale: contourScale(),  // the palette's grey map: every path colour stays readable on it
    contours: { coloring: "fill", showlines: true },
    line: { color: "rgba(28,37,51,0.22)", width: 0.6 },
    colorbar: { title: { text: title, side: "right", font: { size: 11 } }, thickness: 12, len: 0.9, tickfont: { size: 10 } },
  };
  return S.contourTrace;
}

function at(arr, t) { return arr[Math.min(t, arr.length - 1)]; }
// the index of a trajectory's last finite point (-1: none)
export function lastFinite(tr) {
  for (let k = tr.x.length - 1; k >= 0; k--) if (tr.x[k] !== null && tr.y[k] !== null) return k;
  return -1;
}
// A path that leaves the plotting window for good is cut where it crosses the window's edge
// (tr.exit: the server's answer, from the static plots' cut, ravine.plot._figure.visible_part):
// the drawn points end there, with an ✕, and the current-step dot is not drawn past it.
export function shownPath(tr) {
  if (!tr.exit) return { x: tr.x, y: tr.y };
  const k = tr.exit.step;
  return { x: tr.x.slice(0, k).concat([tr.exit.x]), y: tr.y.slice(0, k).concat([tr.exit.y]) };
}
function shownAt(tr, t) {
  if (tr.exit && t >= tr.exit.step) return [null, null];
  return [tr.x[t], tr.y[t]];
}
// a state field is [values of coordinate 1, values of coordinate 2] over the steps
function stateAt(v, t) { return [at(v[0], t), at(v[1], t)]; }

function arrowAnnotations() {
  const ann = [];
  const r = S.result;
  if (!r) return ann;
  const tr = r.trajectories[S.selected];
  if (!tr) return ann;
  const t = Math.min(S.step, tr.x.length - 1);
  const x = tr.x[t], y = tr.y[t];
  if (x === null || y === null) return ann;
  const b = S.problemInfo.bounds;
  const sx = b[0][1] - b[0][0], sy = b[1][1] - b[1][0];
  const L = 0.11;
  const arrow = (dx, dy, color, text) => {
    if (dx === null || dy === null) return;
    const nx = dx / sx, ny = dy / sy;
    const n = Math.hypot(nx, ny);
    if (!(n > 0) || !isFinite(n)) return;
    ann.push({
      x: x + (nx / n) * L * sx, y: y + (ny / n) * L * sy, ax: x, ay: y, xref: "x", yref: "y", axref: "x", ayref: "y",
      showarrow: true, arrowhead: 2, arrowsize: 1.1, arrowwidth: 2.2, arrowcolor: color, text: "",
      hovertext: text,
    });
  };
  arrow(tr.gx[t] === null ? null : -tr.gx[t], tr.gy[t] === null ? null : -tr.gy[t], "#d62728",
    `−∇f = (${fmt(-tr.gx[t])}, ${fmt(-tr.gy[t])})`);
  const m = tr.momentum;
  if (m && tr.state[m.field]) {
    const v = stateAt(tr.state[m.field], t);
    if (v && v[0] !== null && v[1] !== null) {
      const s = m.kind === "gradient" ? -1 : 1;
      arrow(s * v[0], s * v[1], "#111827", `${m.symbol} = (${fmt(v[0])}, ${fmt(v[1])})`);
    }
  }
  return ann;
}

export function drawContour() {
  const info = S.problemInfo;
  const r = S.result;
  const traces = [contourTrace()];
  const vars = info.variables;
  if (info.minima.length) {
    traces.push({
      type: "scatter", mode: "markers", name: "minima", x: info.minima.map((m) => m.point[0]),
      y: info.minima.map((m) => m.point[1]), marker: markerOf("minimum"),
      hovertemplate: "minimum (%{x:.4g}, %{y:.4g})<extra></extra>", showlegend: false,
    });
  }
  if (r) {
    const casing = palette().path_casing;
    r.trajectories.forEach((tr, i) => {  // a thin dark edge under each path (light colours keep their contrast)
      const sel = i === S.selected;
      const p = shownPath(tr);
      traces.push({
        type: "scatter", mode: "lines", showlegend: false, hoverinfo: "skip", x: p.x, y: p.y,
        line: { color: casing.color, width: (sel ? 2.6 : 1.7) + casing.extra_width }, opacity: casing.opacity,
      });
    });
    r.trajectories.forEach((tr, i) => {
      const color = colorOf(i);
      const sel = i === S.selected;
      const p = shownPath(tr);
      traces.push({
        type: "scatter", mode: "lines", name: `${i + 1}. ${labelOf(i)}`, ravine: { role: "path", index: i },
        x: p.x, y: p.y, line: { color, width: sel ? 2.6 : 1.7 }, opacity: sel ? 1 : 0.85,
        hovertemplate: `${tr.label} step %{pointNumber}: (%{x:.4g}, %{y:.4g})<extra></extra>`,
      });
    });
    r.trajectories.forEach((tr, i) => {  // the last point: a dot of the path's colour, an ✕ where it diverged
      if (tr.exit) {  // or where it left the window
        traces.push({
          type: "scatter", mode: "markers", showlegend: false, x: [tr.exit.x], y: [tr.exit.y], cliponaxis: false,
          marker: markerOf("diverged", colorOf(i)), ravine: { role: "exit", index: i, step: tr.exit.step },
          hovertemplate: `${tr.label} left the window at step ${tr.exit.step}`
            + (tr.status === "diverged" ? `, diverged at step ${tr.stop_step}` : "") + "<extra></extra>",
        });
        return;
      }
      const k = lastFinite(tr);
      if (k < 0) return;
      const kind = tr.status === "diverged" ? "diverged" : "end";
      traces.push({
        type: "scatter", mode: "markers", showlegend: false, x: [tr.x[k]], y: [tr.y[k]],
        marker: markerOf(kind, colorOf(i), kind === "end" ? 1.6 : 1),
        hovertemplate: `${tr.label} ${tr.status.replace("_", " ")} at step ${k}: (%{x:.4g}, %{y:.4g})<extra></extra>`,
      });
    });
    r.trajectories.forEach((tr, i) => {
      const [x, y] = shownAt(tr, Math.min(S.step, tr.x.length - 1));
      traces.push({
        type: "scatter", mode: "markers", showlegend: false, x: [x], y: [y], hoverinfo: "skip",
        marker: markerOf("current", colorOf(i), i === S.selected ? 4 / 3 : 1),
      });
    });
  }
  traces.push({
    type: "scatter", mode: "markers", name: "start", x: [S.setup.start[0]], y: [S.setup.start[1]],
    marker: markerOf("start", null, 1.6),
    hovertemplate: "start (%{x:.4g}, %{y:.4g})<extra></extra>", showlegend: false,
  });
  const b = info.bounds;
  const layout = {
    margin: { l: 52 * plotLook().k, r: 10, t: 10, b: 44 * plotLook().k },
    xaxis: { title: { text: vars[0] }, range: b[0].slice(), constrain: "domain", zeroline: false, showgrid: false },
    yaxis: { title: { text: vars[1] }, range: b[1].slice(), zeroline: false, showgrid: false },
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: plotLook().small }, bgcolor: "rgba(255,255,255,0)" },
    annotations: arrowAnnotations(),
    uirevision: (S.setup.formula || S.setup.problem) + JSON.stringify(b),
    hovermode: "closest",
    plot_bgcolor: "#ffffff", ...plotTheme(),
  };
  layout.margin.t = 34 * plotLook().k;
  Plotly.react(contourDiv(), traces, layout, { displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] });
}

function drawLoss() {
  const r = S.result;
  if (!r) return;
  let positive = true;
  const traces = r.trajectories.map((tr, i) => {
    for (const v of tr.loss) if (v !== null && v <= 0) { positive = false; break; }
    return {
      type: "scatter", mode: "lines", name: `${i + 1}. ${labelOf(i)}`, x: tr.loss.map((_, k) => k), y: tr.loss,
      line: { color: colorOf(i), width: i === S.selected ? 2.4 : 1.5 },
      hovertemplate: `${tr.label} t=%{x}: f=%{y:.5g}<extra></extra>`,
    };
  });
  // diverged trajectories would flatten every other curve: fit the axis to the others
  const finite = r.trajectories.filter((tr) => tr.status !== "diverged");
  const kept = finite.length ? finite : r.trajectories;
  let yrange, decades = 0;
  let lo = Infinity, hi = -Infinity;
  for (const tr of kept) for (const v of tr.loss) if (v !== null && (!positive || v > 0)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (isFinite(lo) && isFinite(hi)) {
    if (positive) {
      const a = Math.log10(lo), b = Math.log10(hi);
      decades = b - a;
      const pad = 0.05 * Math.max(decades, 1);
      yrange = [a - pad, b + pad];
    } else {
      const pad = 0.05 * Math.max(hi - lo, 1e-12);
      yrange = [lo - pad, hi + pad];
    }
  }
  const layout = {
    margin: { l: 58 * plotLook().k, r: 10, t: 26 * plotLook().k, b: 40 * plotLook().k },
    title: { text: "loss f(θ<sub>t</sub>)", font: { size: plotLook().font.size }, x: 0.01, xanchor: "left", y: 0.97 },
    xaxis: { title: { text: "step t" }, zeroline: false },
    yaxis: Object.assign({ type: positive ? "log" : "linear", exponentformat: "power", zeroline: false },
      yrange ? { range: yrange, autorange: false } : { autorange: true },
      positive && decades >= 1.5 ? { dtick: decades > 12 ? 3 : 1 } : {}),
    showlegend: false,
    shapes: [{ type: "line", xref: "x", yref: "paper", x0: S.step, x1: S.step, y0: 0, y1: 1,
               line: { color: "#98a2b3", width: 1, dash: "dot" } }],
    plot_bgcolor: plotLook().paper, ...plotTheme(),
    uirevision: "loss",
  };
  Plotly.react(lossDiv(), traces, layout, { displaylogo: false, responsive: true });
}

function drawCardsStatus() {
  const r = S.result;
  if (!r) return;
  r.trajectories.forEach((tr, i) => {
    const el = document.querySelector(`.opt-card[data-index="${i}"] [data-role="status"]`);
    if (!el) return;
    const last = tr.loss.length - 1;
    const fx = tr.loss[last];
    let text = `${tr.status.replace("_", " ")}`;
    if (tr.status !== "max_steps") text += ` at step ${tr.stop_step}`;
    text += ` · f = ${fmt(fx)} at (${fmt(tr.x[last])}, ${fmt(tr.y[last])})`;
    el.textContent = text;
    el.classList.toggle("diverged", tr.status === "diverged");
  });
}

export function drawAll() {
  if (!S.problemInfo) return;
  drawContour();
  drawLoss();
  drawCardsStatus();
  drawStepLabel();
  drawQuickTable();
  emit("result");
}

function drawStepLabel() {
  const max = S.result ? S.result.steps : 0;
  $("step-label").textContent = `t = ${S.step} / ${max}`;
  $("step").value = S.step;
  $("state-step").textContent = `at t = ${S.step}`;
}

// Only the moving parts: current-point markers, arrows, the loss cursor.
export function drawStep() {
  if (!S.result || !S.problemInfo) return;
  drawStepLabel();
  const gd = contourDiv();
  const n = S.result.trajectories.length;
  const first = gd.data ? gd.data.length - 1 - n : 0;
  if (gd.data && first > 0) {
    const idx = [], xs = [], ys = [], sizes = [];
    S.result.trajectories.forEach((tr, i) => {
      const t = Math.min(S.step, tr.x.length - 1);
      const m = markerOf("current", colorOf(i), i === S.selected ? 4 / 3 : 1);
      const [x, y] = shownAt(tr, t);
      idx.push(first + i); xs.push([x]); ys.push([y]); sizes.push(m.size);
    });
    Plotly.restyle(gd, { x: xs, y: ys, "marker.size": sizes }, idx);
    Plotly.relayout(gd, { annotations: arrowAnnotations() });
  } else {
    drawContour();
  }
  Plotly.relayout(lossDiv(), { "shapes[0].x0": S.step, "shapes[0].x1": S.step });
  drawQuickTable();
  emit("step");
}

// ------------------------------------------------------------------ state table
function row(sym, field, value, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  const a = document.createElement("td"); a.className = "sym";
  if (sym && sym.html) a.innerHTML = sym.html; else a.textContent = sym;
  const b = document.createElement("td"); b.className = "fld"; b.textContent = field;
  tr.append(a, b);
  const vals = Array.isArray(value) ? value : [value];
  const cells = vals.length === 1 ? [vals[0], ""] : vals;
  for (const v of cells.slice(0, 2)) {
    const c = document.createElement("td");
    c.textContent = v === "" ? "" : fmt(v);
    tr.appendChild(c);
  }
  return tr;
}

function tableHead() {
  const table = $("state-table");
  table.innerHTML = "";
  const vars = S.problemInfo ? S.problemInfo.variables : ["x", "y"];
  const head = document.createElement("tr");
  for (const h of ["quantity", "field", vars[0], vars[1]]) {
    const th = document.createElement("th"); th.textContent = h; head.appendChild(th);
  }
  table.appendChild(head);
  return table;
}

// From the run data (instant, also while playing): θ_t, g(θ_t), the rule's State fields at t.
function drawQuickTable() {
  const r = S.result;
  if (!r) return;
  const tr = r.trajectories[S.selected];
  if (!tr) return;
  if (S.explain && S.explain.key === explainKey()) { drawExplainTable(); return; }
  const t = Math.min(S.step, tr.x.length - 1);
  const table = tableHead();
  table.appendChild(row({ html: "θ<sub>t</sub>" }, "theta", [tr.x[t], tr.y[t]]));
  table.appendChild(row({ html: "f(θ<sub>t</sub>)" }, "loss", tr.loss[t]));
  table.appendChild(row({ html: "∇f(θ<sub>t</sub>)" }, "grad", [tr.gx[t], tr.gy[t]], "sep"));
  for (const [k, v] of Object.entries(tr.state)) {
    table.appendChild(row(tr.symbols[k] || k, k, stateAt(v, t)));
  }
  $("state-note").textContent = "state after step t (the rule's State fields); pause for the full step record";
}

export function drawExplainTable() {
  const e = S.explain.data;
  const tr = S.result.trajectories[S.selected];
  const table = tableHead();
  const t = e.step;
  table.appendChild(row({ html: t > 0 ? "θ<sub>t−1</sub>" : "θ<sub>0</sub>" }, "theta", e.theta_before));
  for (const r of e.rows) table.appendChild(row(r.symbol, r.field, r.value));
  if (t > 0) table.appendChild(row({ html: "θ<sub>t</sub>" }, "theta", e.theta_after, "sep"));
  table.appendChild(row({ html: "f(θ<sub>t</sub>)" }, "loss", at(tr.loss, t)));
  const hyper = Object.entries(e.hyper).map(([k, v]) => `${k}=${fmtHyper(v)}`).join(", ");
  let note = t === 0 ? "initial state (no step taken yet)" : `record of step t = ${t}`;
  if (e.requested_step !== t) note += ` (the trajectory stopped: ${e.status} at step ${e.stop_step})`;
  $("state-note").textContent = `${note} · ${e.title} · ${hyper}`;
}
