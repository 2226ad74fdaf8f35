/* The page's state and what every module shares: S (window.ravineState), formatting, the
 * setup's helpers, the URL hash, the error bar and status line. Imports nothing.
 *
 * The whole setup lives in S.setup (what the server's RunSetup model accepts) plus the view
 * (current step t, selected optimizer). window.ravineState exposes S for tests and the curious.
 */

export const FORMULA = "__formula__";

export const S = {
  meta: null,
  setup: null,          // {problem, formula, bounds, start, steps, tol, grad_noise, seed, optimizers}
  problemInfo: null,    // /api/problem answer for the current function
  result: null,         // last /api/run answer
  step: 0,
  selected: 0,
  playing: false,
  requests: 0,          // /api/run answers applied
  pending: 0,
  lastError: null,
  explain: null,
  runMs: null,
  // the views' switches, remembered in the URL: v3d; present (presenter mode), tab (its view),
  // theme ("light" / "dark" when chosen; else the browser's prefers-color-scheme)
  view: { surface: false, present: false, tab: "run", theme: null },
};
window.ravineState = S;

export const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ events
// The views beside the contour and below it listen here instead of being called by name:
//   "result"  a new /api/run answer is in S.result (also after a problem change)
//   "step"    S.step or S.selected changed (playback, the slider, a click on a card)
const listeners = {};
export function on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); }
export function emit(event) {
  for (const fn of listeners[event] || []) {
    try { fn(); } catch (e) { console.error(`${event} listener:`, e); }
  }
}
export const byName = (name) => S.meta.optimizers.find((o) => o.name === name);

// the /api/run answer a record belongs to (explain answers are matched to it)
let runSeq = 0;
export function nextRun() { return ++runSeq; }
export function currentRun() { return runSeq; }
export function explainKey() { return `${runSeq}|${S.selected}|${S.step}`; }

// ------------------------------------------------------------------ formatting
export function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) return v.toExponential(4);
  return Number(v.toPrecision(6)).toString();
}
export function fmtHyper(v) {
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  return (a >= 1e4 || a < 1e-3) ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

// ------------------------------------------------------------------ setup helpers
export function defaultsOf(opt) {
  const m = byName(opt.name);
  return (m && (m.defaults[opt.convention] || m.defaults[m.conventions[0]])) || {};
}
export function hyperOf(opt) { return Object.assign({}, defaultsOf(opt), opt.hyper || {}); }
export function labelOf(i) {
  const o = S.setup.optimizers[i];
  const h = o.hyper || {};
  const keys = Object.keys(h);
  const parts = keys.slice(0, 3).map((k) => `${k}=${fmtHyper(h[k])}`);
  return `${o.name}${parts.length ? " (" + parts.join(", ") + ")" : ""}`;
}
// ------------------------------------------------------------------ palette
// Colours, markers and the contour map come from the server (/api/meta "palette", built from
// ravine.plot.palette, the one definition the static matplotlib plots use too).
export function palette() { return S.meta.palette; }
export function colorOf(i) { const c = S.meta.palette.colors; return c[i % c.length]; }
// a Plotly marker for a point kind ("minimum", "start", "end", "diverged", "current");
// "path" in the definition is the trajectory's colour
export function markerOf(kind, color, scale = 1) {
  const m = S.meta.palette.markers[kind];
  const col = (c) => (c === "path" ? color : c);
  return { symbol: m.plotly, size: m.size * scale, color: col(m.face),
           line: { color: col(m.edge), width: m.edge_width * scale } };
}
// the contour map as a Plotly colorscale
// How the page's Plotly figures look: larger text in presenter mode, the theme's card colour
// and ink (read from the style sheet's variables, so a theme change needs only a redraw).
export function plotLook() {
  const css = getComputedStyle(document.body);
  const present = S.view.present;
  return {
    k: present ? 1.45 : 1,
    small: present ? 16 : 11,
    paper: css.getPropertyValue("--card").trim() || "#ffffff",
    font: { family: "system-ui, DejaVu Sans, sans-serif", size: present ? 18 : 12,
            color: css.getPropertyValue("--ink").trim() || "#1c2533" },
  };
}
// the part of a Plotly layout every figure of the page shares: its text and its paper
export function plotTheme() {
  const look = plotLook();
  return { font: look.font, paper_bgcolor: look.paper };
}
export function contourScale() { return S.meta.palette.contour_scale.map(([p, c]) => [p, c]); }

export function defaultSetup() {
  return {
    problem: "rosenbrock", formula: null, bounds: null, start: [-1.2, 1.0], steps: 500,
    tol: null, grad_noise: 0, seed: 0,
    optimizers: [
      { name: "momentum", convention: "torch", hyper: { lr: 0.001 } },
      { name: "adam", convention: "torch", hyper: { lr: 0.05 } },
    ],
  };
}

// ------------------------------------------------------------------ URL state
function encodeState() {
  const s = Object.assign({}, S.setup, { t: S.step, sel: S.selected });
  if (S.view.surface) s.v3d = 1;
  if (S.view.present) s.present = 1;
  if (S.view.present && S.view.tab !== "run") s.tab = S.view.tab;
  if (S.view.theme) s.theme = S.view.theme;
  if (!s.formula) delete s.formula;
  if (!s.bounds) delete s.bounds;
  if (s.tol === null) delete s.tol;
  return "#s=" + encodeURIComponent(JSON.stringify(s));
}
export let lastHash = "";
export function writeHash() {
  const h = encodeState();
  if (h !== location.hash) {
    lastHash = h;
    history.replaceState(null, "", h);
  }
}
export function readHash() {
  const m = /^#s=(.*)$/.exec(location.hash);
  if (!m) return null;
  try {
    const s = JSON.parse(decodeURIComponent(m[1]));
    if (!s || typeof s !== "object" || !Array.isArray(s.optimizers) || !Array.isArray(s.start)) return null;
    const base = defaultSetup();
    const setup = {
      problem: typeof s.problem === "string" ? s.problem : base.problem,
      formula: typeof s.formula === "string" && s.formula ? s.formula : null,
      bounds: Array.isArray(s.bounds) ? s.bounds : null,
      start: s.start.slice(0, 2).map(Number),
      steps: Number.isInteger(s.steps) ? s.steps : base.steps,
      tol: typeof s.tol === "number" ? s.tol : null,
      grad_noise: typeof s.grad_noise === "number" ? s.grad_noise : 0,
      seed: Number.isInteger(s.seed) ? s.seed : 0,
      optimizers: s.optimizers.slice(0, S.meta.limits.max_optimizers)
        .filter((o) => o && typeof o.name === "string" && byName(o.name))
        .map((o) => ({ name: o.name, convention: typeof o.convention === "string" ? o.convention : "torch",
                       hyper: (o.hyper && typeof o.hyper === "object") ? o.hyper : {} })),
    };
    if (!setup.optimizers.length) setup.optimizers = base.optimizers;
    S.view = { surface: s.v3d === 1, present: s.present === 1, tab: typeof s.tab === "string" ? s.tab : "run",
               theme: s.theme === "dark" || s.theme === "light" ? s.theme : null };
    return { setup, t: Number.isInteger(s.t) ? s.t : 0, sel: Number.isInteger(s.sel) ? s.sel : 0 };
  } catch (e) {
    showError("could not read the setup in the URL: " + e.message);
    return null;
  }
}

// ------------------------------------------------------------------ errors / status
export function showError(msg) {
  S.lastError = msg;
  const bar = $("error-bar");
  if (msg) { bar.textContent = msg; bar.hidden = false; } else { bar.textContent = ""; bar.hidden = true; }
}
export function setStatus(text) { $("status").textContent = text; }
