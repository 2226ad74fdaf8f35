/* The eigen-components view (<details id="eigen-view">): on a quadratic
 * f(θ) = ½(θ − θ*)ᵀH(θ − θ*) + c the error θ_t − θ* splits along the eigenvectors qᵢ of H, and
 * each component |qᵢᵀ(θ_t − θ*)| decays (or grows) on its own, at the linear rate ρᵢ the theory
 * gives for the current η and β (GD: |1 − ηλᵢ|; heavy ball, Nesterov: the spectral radius of
 * their 2×2 iteration matrix — ravine.analysis.linear; Goh 2017, Distill). The measured
 * components are solid, ρᵢᵗ·|eᵢ(0)| dashed beside them, on a log axis: a straight dashed line
 * of slope log ρᵢ.
 *
 * Every new run ("result") asks POST /api/eigen for the selected optimizer (while the panel is
 * open); "step" moves the marker of the current step. S.eigen holds the last answer.
 */
import { api, requestBody } from "./api.js";
import { $, S, fmt, on, plotTheme } from "./state.js";

const COLORS = ["#0072B2", "#D55E00"];  // one per eigen-direction (Okabe–Ito blue, vermillion)
const SUB = ["₁", "₂"];
const plotDiv = () => $("eigen-plot");
let controller = null;
let seq = 0;
let lastKey = null;

export function init() {
  S.eigen = null;
  S.eigenRequests = 0;
  const panel = $("eigen-view");
  panel.addEventListener("toggle", () => { if (panel.open) refresh(true); });
  on("result", () => refresh(false));
  on("step", () => {
    if (S.eigen && S.eigen.index !== S.selected) refresh(false); else marker();
  });
}

function body() {
  const setup = requestBody();
  return { setup, index: Math.min(S.selected, setup.optimizers.length - 1) };
}

async function refresh(force) {
  if (!$("eigen-view").open || !S.result) return;
  const b = body();
  const key = JSON.stringify(b);
  if (!force && key === lastKey) return;
  lastKey = key;
  if (controller) controller.abort();
  controller = new AbortController();
  const mine = ++seq;
  try {
    const res = await api("/api/eigen", b, controller.signal);
    const d = await res.json();
    if (mine !== seq) return;
    S.eigen = d;
    S.eigenRequests += 1;
    draw(d);
  } catch (e) {
    if (e.name === "AbortError" || mine !== seq) return;
    lastKey = null;
    $("eigen-note").textContent = e.message;
  }
}

// the asymptotic rate measured from a component: the fitted slope of log|eᵢ| over its
// second half, before round-off (for the table beside the theory)
function measuredRate(e) {
  const top = Math.max(...e.filter((v) => v > 0));
  let end = e.length;
  for (let t = 0; t < e.length; t++) { if (!(e[t] > 1e-13 * top)) { end = t; break; } }
  const a = Math.floor(end / 2), b = end - 1;
  if (b - a < 4) return null;
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let t = a; t <= b; t++) { const y = Math.log(e[t]); n++; sx += t; sy += y; sxx += t * t; sxy += t * y; }
  return Math.exp((n * sxy - sx * sy) / (n * sxx - sx * sx));
}

function draw(d) {
  const note = $("eigen-note");
  const rates = $("eigen-rates");
  const gd = plotDiv();
  if (!d.kind) {
    note.textContent = d.message + " — no eigen-decomposition to show.";
    rates.textContent = "";
    Plotly.purge(gd);
    gd.hidden = true;
    return;
  }
  gd.hidden = false;
  note.textContent = d.message + ".";
  const T = d.components[0].length - 1;
  const traces = [];
  let top = 0, low = Infinity;
  d.components.forEach((c, i) => {
    const y = c.map((v) => (v !== null && v > 0 ? v : null));
    for (const v of y) { if (v !== null) { top = Math.max(top, v); low = Math.min(low, v); } }
    const q = d.eigenvectors[i];
    traces.push({
      type: "scatter", mode: "lines", name: `|q${SUB[i]}ᵀ(θₜ − θ*)|, λ${SUB[i]} = ${fmt(d.eigenvalues[i])}`,
      x: y.map((_, t) => t), y, line: { color: COLORS[i], width: 2.2 },
      meta: { role: "measured", i },
      hovertemplate: `e${SUB[i]}(t=%{x}) = %{y:.4g}<br>q${SUB[i]} = (${fmt(q[0])}, ${fmt(q[1])})<extra></extra>`,
    });
  });
  const floor = Math.max(low / 10, top * 1e-18);
  const lines = [];
  if (d.theory) {
    d.theory.rates.forEach((rho, i) => {
      const e0 = d.theory.start[i];
      if (!(e0 > 0)) return;
      const xs = [], ys = [];
      const every = Math.max(1, Math.floor(T / 300));
      for (let t = 0; t <= T; t += every) {
        const v = e0 * Math.pow(rho, t);
        if (!(v >= floor) || !isFinite(v) || v > top * 1e6) break;
        xs.push(t); ys.push(v);
      }
      traces.push({
        type: "scatter", mode: "lines", name: `ρ${SUB[i]}ᵗ·|e${SUB[i]}(0)|, ρ${SUB[i]} = ${fmt(rho)}`,
        x: xs, y: ys, line: { color: COLORS[i], width: 1.6, dash: "dash" },
        meta: { role: "theory", i, rate: rho }, hovertemplate: `theory: ρ${SUB[i]} = ${fmt(rho)}<extra></extra>`,
      });
      const m = measuredRate(d.components[i].map((v) => (v === null ? 0 : v)));
      lines.push(`λ${SUB[i]} = ${fmt(d.eigenvalues[i])}: ρ${SUB[i]} = ${fmt(rho)}` +
        (m === null ? "" : ` (measured ${fmt(m)})`));
    });
    const worst = Math.max(...d.theory.rates);
    const h = d.theory;
    const params = h.method === "gd" ? `η = ${fmt(h.lr)}` : `η = ${fmt(h.lr)}, β = ${fmt(h.momentum)}`;
    rates.textContent = `${h.method === "gd" ? "GD" : h.method === "nesterov" ? "Nesterov" : "heavy ball"} ` +
      `(${params}${h.weight_decay ? `, decay ${fmt(h.weight_decay)}` : ""}): ${h.formula}. ` + lines.join(" · ") +
      `. The slowest direction decides: ρ = max ρᵢ = ${fmt(worst)}` +
      (worst >= 1 ? " ≥ 1, so the run does not converge." : ` (about ${fmt(Math.ceil(Math.log(0.1) / Math.log(worst)))} steps per digit).`);
  } else {
    rates.textContent = `No rate drawn: ${d.no_theory}.`;
  }
  const layout = {
    margin: { l: 62, r: 12, t: 8, b: 40 },
    xaxis: { title: { text: "step t" }, range: [0, T], zeroline: false },
    yaxis: { title: { text: "|qᵢᵀ(θₜ − θ*)|" }, type: "log", range: [Math.log10(floor), Math.log10(top * 3)],
      exponentformat: "power" },
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0, font: { size: 11 } },
    shapes: [stepShape()],
    showlegend: true,
    ...plotTheme(),
  };
  Plotly.react(gd, traces, layout, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
}

function stepShape() {
  return { type: "line", xref: "x", yref: "paper", x0: S.step, x1: S.step, y0: 0, y1: 1,
    line: { color: "rgba(28,37,51,0.45)", width: 1, dash: "dot" } };
}

function marker() {
  const gd = plotDiv();
  if (!S.eigen || !S.eigen.kind || !gd.layout) return;
  Plotly.relayout(gd, { shapes: [stepShape()] });
}
