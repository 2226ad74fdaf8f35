/* ravine explorer — hand-written, no build step, no network beyond this server.
 *
 * The whole setup lives in S.setup (what the server's RunSetup model accepts) plus the view
 * (current step t, selected optimizer). Every change: write the URL hash, debounce, POST
 * /api/run, redraw. window.ravineState exposes S for tests and for the curious.
 */
"use strict";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
  "#bcbd22", "#7f7f7f", "#393b79", "#e7969c", "#637939", "#ad494a", "#3182bd", "#fd8d3c"];
const PRIMARY = new Set(["lr", "momentum", "alpha", "beta1", "beta2", "rho", "window", "form", "damping",
  "nesterov", "centered", "amsgrad"]);
const FORMULA = "__formula__";
const DEBOUNCE_MS = 150;
const svg = (d) => `<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="${d}" fill="currentColor"/></svg>`;
const ICON_PLAY = svg("M4 2v12l10-6z");
const ICON_PAUSE = svg("M3 2h4v12H3zM9 2h4v12H9z");

const S = {
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
};
window.ravineState = S;

const $ = (id) => document.getElementById(id);
const byName = (name) => S.meta.optimizers.find((o) => o.name === name);

// ------------------------------------------------------------------ formatting
function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) return v.toExponential(4);
  return Number(v.toPrecision(6)).toString();
}
function fmtHyper(v) {
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  return (a >= 1e4 || a < 1e-3) ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

// ------------------------------------------------------------------ setup helpers
function defaultsOf(opt) {
  const m = byName(opt.name);
  return (m && (m.defaults[opt.convention] || m.defaults[m.conventions[0]])) || {};
}
function hyperOf(opt) { return Object.assign({}, defaultsOf(opt), opt.hyper || {}); }
function labelOf(i) {
  const o = S.setup.optimizers[i];
  const h = o.hyper || {};
  const keys = Object.keys(h);
  const parts = keys.slice(0, 3).map((k) => `${k}=${fmtHyper(h[k])}`);
  return `${o.name}${parts.length ? " (" + parts.join(", ") + ")" : ""}`;
}
function colorOf(i) { return COLORS[i % COLORS.length]; }

function defaultSetup() {
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
  if (!s.formula) delete s.formula;
  if (!s.bounds) delete s.bounds;
  if (s.tol === null) delete s.tol;
  return "#s=" + encodeURIComponent(JSON.stringify(s));
}
let lastHash = "";
function writeHash() {
  const h = encodeState();
  if (h !== location.hash) {
    lastHash = h;
    history.replaceState(null, "", h);
  }
}
function readHash() {
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
    return { setup, t: Number.isInteger(s.t) ? s.t : 0, sel: Number.isInteger(s.sel) ? s.sel : 0 };
  } catch (e) {
    showError("could not read the setup in the URL: " + e.message);
    return null;
  }
}

// ------------------------------------------------------------------ errors / status
function showError(msg) {
  S.lastError = msg;
  const bar = $("error-bar");
  if (msg) { bar.textContent = msg; bar.hidden = false; } else { bar.textContent = ""; bar.hidden = true; }
}
function setStatus(text) { $("status").textContent = text; }

async function api(path, body, signal) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) {
    let detail = `HTTP ${res.status}`;
    try { const j = await res.json(); if (j && j.detail) detail = String(j.detail); } catch (e) { /* not JSON */ }
    const err = new Error(detail);
    err.status = res.status;
    throw err;
  }
  return res;
}

function requestBody() {
  const s = S.setup;
  const body = {
    problem: s.problem, start: s.start, steps: s.steps, grad_noise: s.grad_noise || 0, seed: s.seed || 0,
    optimizers: s.optimizers.map((o) => ({ name: o.name, convention: o.convention, hyper: o.hyper || {} })),
  };
  if (s.formula) body.formula = s.formula;
  if (s.bounds) body.bounds = s.bounds;
  if (s.tol !== null && s.tol !== undefined) body.tol = s.tol;
  return body;
}

// ------------------------------------------------------------------ problem
async function loadProblem() {
  const body = { problem: S.setup.problem };
  if (S.setup.formula) body.formula = S.setup.formula;
  if (S.setup.bounds) body.bounds = S.setup.bounds;
  const res = await api("/api/problem", body);
  S.problemInfo = await res.json();
  $("problem-title").textContent = S.problemInfo.title;
  S.contourTrace = null;
}

async function applyFormula() {
  const text = $("formula").value.trim();
  $("formula-error").textContent = "";
  if (!text) { $("formula-error").textContent = "type a formula in x and y"; return; }
  const old = { formula: S.setup.formula, bounds: S.setup.bounds, start: S.setup.start };
  S.setup.formula = text;
  S.setup.bounds = null;
  try {
    await loadProblem();
  } catch (e) {
    Object.assign(S.setup, old);
    $("formula-error").textContent = e.message;
    return;
  }
  S.setup.start = S.problemInfo.start.slice();
  syncRunInputs();
  changed({ reset: true });
}

async function selectProblem(name) {
  if (name === FORMULA) {
    $("formula-box").hidden = false;
    $("formula").focus();
    return;
  }
  $("formula-box").hidden = true;
  $("formula-error").textContent = "";
  S.setup.problem = name;
  S.setup.formula = null;
  S.setup.bounds = null;
  try { await loadProblem(); } catch (e) { showError(e.message); return; }
  S.setup.start = S.problemInfo.start.slice();
  syncRunInputs();
  changed({ reset: true });
}

// ------------------------------------------------------------------ controls
function buildProblemSelect() {
  const sel = $("problem");
  sel.innerHTML = "";
  for (const p of S.meta.problems) {
    const o = document.createElement("option");
    o.value = p.name; o.textContent = p.name.replace(/_/g, " ");
    o.title = p.title;
    sel.appendChild(o);
  }
  const f = document.createElement("option");
  f.value = FORMULA; f.textContent = "custom formula…";
  sel.appendChild(f);
  sel.addEventListener("change", () => selectProblem(sel.value));
  $("formula-apply").addEventListener("click", applyFormula);
  $("formula").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); applyFormula(); }
  });
}

function syncProblemInputs() {
  const sel = $("problem");
  if (S.setup.formula) {
    sel.value = FORMULA;
    $("formula-box").hidden = false;
    $("formula").value = S.setup.formula;
  } else {
    sel.value = S.setup.problem;
    $("formula-box").hidden = true;
  }
}

function syncRunInputs() {
  $("start-x").value = fmt(S.setup.start[0]);
  $("start-y").value = fmt(S.setup.start[1]);
  $("steps").value = S.setup.steps;
  $("steps-range").value = Math.min(S.setup.steps, 2000);
  $("tol").value = S.setup.tol === null || S.setup.tol === undefined ? "" : S.setup.tol;
  $("noise").value = S.setup.grad_noise || 0;
}

function bindRunInputs() {
  const num = (el, fn) => el.addEventListener("change", () => {
    const v = el.value.trim() === "" ? null : Number(el.value);
    fn(v);
  });
  num($("start-x"), (v) => { if (v !== null && isFinite(v)) { S.setup.start = [v, S.setup.start[1]]; changed(); } });
  num($("start-y"), (v) => { if (v !== null && isFinite(v)) { S.setup.start = [S.setup.start[0], v]; changed(); } });
  $("steps-range").addEventListener("input", () => {
    S.setup.steps = Number($("steps-range").value);
    $("steps").value = S.setup.steps;
    changed();
  });
  num($("steps"), (v) => {
    if (v !== null && Number.isInteger(v)) { S.setup.steps = v; $("steps-range").value = Math.min(v, 2000); changed(); }
  });
  num($("tol"), (v) => { S.setup.tol = v; changed(); });
  num($("noise"), (v) => { S.setup.grad_noise = v === null ? 0 : v; changed(); });
  $("add-optimizer").addEventListener("click", () => {
    if (S.setup.optimizers.length >= S.meta.limits.max_optimizers) {
      showError(`at most ${S.meta.limits.max_optimizers} optimizers`); return;
    }
    const used = new Set(S.setup.optimizers.map((o) => o.name));
    const next = ["nag", "rmsprop", "adagrad", "adadelta", "yogi", "nadam", "sgd", "adamw"].find((n) => !used.has(n)) || "sgd";
    S.setup.optimizers.push({ name: next, convention: "torch", hyper: {} });
    S.selected = S.setup.optimizers.length - 1;
    buildOptimizers();
    changed();
  });
}

// slider position (0..1000) <-> value
function toSlider(f, v) {
  if (f.kind === "log" || f.kind === "log0") {
    if (f.kind === "log0" && v <= 0) return 0;
    const lo = Math.log10(f.min), hi = Math.log10(f.max);
    const p = (Math.log10(Math.max(v, f.min)) - lo) / (hi - lo);
    return Math.round(Math.min(1, Math.max(0, p)) * 1000);
  }
  if (f.kind === "int") return Math.min(f.max, Math.max(f.min, v));
  return Math.round(Math.min(1, Math.max(0, (v - f.min) / (f.max - f.min))) * 1000);
}
function fromSlider(f, pos) {
  pos = Number(pos);
  if (f.kind === "log" || f.kind === "log0") {
    if (f.kind === "log0" && pos === 0) return 0;
    const lo = Math.log10(f.min), hi = Math.log10(f.max);
    const v = Math.pow(10, lo + (pos / 1000) * (hi - lo));
    return Number(v.toPrecision(3));
  }
  if (f.kind === "int") return Math.round(pos);
  return Number((f.min + (pos / 1000) * (f.max - f.min)).toFixed(4));
}

function setHyper(i, field, value) {
  const opt = S.setup.optimizers[i];
  const d = defaultsOf(opt);
  opt.hyper = Object.assign({}, opt.hyper);
  if (d[field] === value) delete opt.hyper[field]; else opt.hyper[field] = value;
  const card = document.querySelector(`.opt-card[data-index="${i}"]`);
  if (card) {
    const row = card.querySelector(`.opt-field[data-field="${field}"]`);
    if (row) row.classList.toggle("changed", field in opt.hyper);
  }
  changed();
}

function fieldRow(i, f, value) {
  const row = document.createElement("div");
  row.className = "opt-field";
  row.dataset.field = f.name;
  if (f.name in (S.setup.optimizers[i].hyper || {})) row.classList.add("changed");
  const name = document.createElement("span");
  name.className = "fname";
  name.textContent = f.symbol && f.symbol !== f.name ? `${f.name} (${f.symbol})` : f.name;
  name.title = f.name;
  row.appendChild(name);
  if (f.kind === "bool") {
    const cb = document.createElement("input");
    cb.type = "checkbox"; cb.checked = !!value; cb.className = "hyper-bool";
    cb.addEventListener("change", () => setHyper(i, f.name, cb.checked));
    row.appendChild(cb);
    return row;
  }
  if (f.kind === "choice") {
    const sel = document.createElement("select");
    for (const c of f.choices) {
      const o = document.createElement("option"); o.value = c; o.textContent = c; sel.appendChild(o);
    }
    sel.value = value;
    sel.addEventListener("change", () => setHyper(i, f.name, sel.value));
    row.appendChild(sel);
    return row;
  }
  const slider = document.createElement("input");
  slider.type = "range";
  slider.className = "hyper-slider";
  slider.dataset.field = f.name;
  if (f.kind === "int") { slider.min = f.min; slider.max = f.max; slider.step = 1; }
  else { slider.min = 0; slider.max = 1000; slider.step = 1; }
  slider.value = toSlider(f, value);
  const num = document.createElement("input");
  num.type = "number"; num.step = "any"; num.className = "hyper-num";
  num.value = value;
  slider.addEventListener("input", () => {
    const v = fromSlider(f, slider.value);
    num.value = v;
    setHyper(i, f.name, v);
  });
  num.addEventListener("change", () => {
    const v = f.kind === "int" ? parseInt(num.value, 10) : Number(num.value);
    if (num.value.trim() === "" || Number.isNaN(v)) return;
    slider.value = toSlider(f, v);
    setHyper(i, f.name, v);
  });
  row.appendChild(slider);
  row.appendChild(num);
  return row;
}

function buildOptimizers() {
  const box = $("optimizers");
  box.innerHTML = "";
  S.setup.optimizers.forEach((opt, i) => {
    const m = byName(opt.name);
    const card = document.createElement("div");
    card.className = "opt-card" + (i === S.selected ? " selected" : "");
    card.dataset.index = i;
    card.style.setProperty("--c", colorOf(i));
    const head = document.createElement("div");
    head.className = "opt-head";
    const sw = document.createElement("span");
    sw.className = "swatch"; sw.title = "Show this optimizer's state";
    const name = document.createElement("select");
    name.className = "opt-name";
    for (const o of S.meta.optimizers) {
      const e = document.createElement("option"); e.value = o.name; e.textContent = o.name; e.title = o.title;
      name.appendChild(e);
    }
    name.value = opt.name;
    name.title = m ? m.title : "";
    name.addEventListener("change", () => {
      S.setup.optimizers[i] = { name: name.value, convention: "torch", hyper: {} };
      buildOptimizers(); changed();
    });
    const conv = document.createElement("select");
    conv.className = "opt-conv"; conv.title = "convention (defaults and forms)";
    for (const c of m.conventions) {
      const e = document.createElement("option"); e.value = c; e.textContent = c; conv.appendChild(e);
    }
    conv.value = opt.convention;
    conv.addEventListener("change", () => {
      S.setup.optimizers[i] = { name: opt.name, convention: conv.value, hyper: {} };
      buildOptimizers(); changed();
    });
    const rm = document.createElement("button");
    rm.type = "button"; rm.className = "remove"; rm.textContent = "×"; rm.title = "Remove";
    rm.disabled = S.setup.optimizers.length <= 1;
    rm.addEventListener("click", (ev) => {
      ev.stopPropagation();
      S.setup.optimizers.splice(i, 1);
      if (S.selected >= S.setup.optimizers.length) S.selected = S.setup.optimizers.length - 1;
      buildOptimizers(); changed();
    });
    head.append(sw, name, conv, rm);
    card.appendChild(head);
    const fields = document.createElement("div");
    fields.className = "opt-fields";
    const more = document.createElement("details");
    const sum = document.createElement("summary"); sum.textContent = "more hyperparameters";
    more.appendChild(sum);
    const h = hyperOf(opt);
    for (const f of m.fields) {
      const row = fieldRow(i, f, h[f.name]);
      (PRIMARY.has(f.name) ? fields : more).appendChild(row);
    }
    if (more.children.length > 1) fields.appendChild(more);
    card.appendChild(fields);
    const st = document.createElement("div");
    st.className = "opt-status"; st.dataset.role = "status";
    card.appendChild(st);
    card.addEventListener("click", (ev) => {
      if (ev.target.closest("input,select,button,summary")) return;
      select(i);
    });
    sw.addEventListener("click", () => select(i));
    box.appendChild(card);
  });
  $("add-optimizer").disabled = S.setup.optimizers.length >= S.meta.limits.max_optimizers;
  buildSelected();
}

function buildSelected() {
  const sel = $("selected");
  sel.innerHTML = "";
  S.setup.optimizers.forEach((o, i) => {
    const e = document.createElement("option"); e.value = i; e.textContent = `${i + 1}. ${labelOf(i)}`;
    sel.appendChild(e);
  });
  sel.value = S.selected;
}

function select(i) {
  S.selected = i;
  document.querySelectorAll(".opt-card").forEach((c) => c.classList.toggle("selected", Number(c.dataset.index) === i));
  $("selected").value = i;
  writeHash();
  drawStep();
  scheduleExplain();
}

// ------------------------------------------------------------------ running
let runTimer = null;
let runController = null;
let runSeq = 0;

function changed(opts = {}) {
  writeHash();
  buildSelectedLabels();
  if (runTimer) clearTimeout(runTimer);
  runTimer = setTimeout(() => runNow(opts), DEBOUNCE_MS);
}
function buildSelectedLabels() {
  const sel = $("selected");
  S.setup.optimizers.forEach((o, i) => { if (sel.options[i]) sel.options[i].textContent = `${i + 1}. ${labelOf(i)}`; });
}

async function runNow(opts = {}) {
  runTimer = null;
  if (runController) runController.abort();
  const controller = new AbortController();
  runController = controller;
  const seq = ++runSeq;
  S.pending += 1;
  const t0 = performance.now();
  try {
    if (!S.problemInfo) await loadProblem();
    const res = await api("/api/run", requestBody(), controller.signal);
    const data = await res.json();
    if (seq !== runSeq) return;
    S.result = data;
    S.runMs = performance.now() - t0;
    S.requests += 1;
    showError(null);
    clearCardErrors();
    const max = data.steps;
    $("step").max = max;
    if (opts.reset) S.step = 0;
    if (S.step > max) S.step = max;
    $("step").value = S.step;
    drawAll();
    setStatus(`${data.trajectories.length} optimizer(s) × ${data.steps} steps · server ${data.server_ms.toFixed(1)} ms ` +
      `(${data.backend}) · round trip ${S.runMs.toFixed(0)} ms`);
    scheduleExplain();
  } catch (e) {
    if (e.name === "AbortError") return;
    if (seq !== runSeq) return;
    const m = /^optimizers\[(\d+)\]: (.*)$/.exec(e.message);
    if (m) cardError(Number(m[1]), m[2]);
    showError(e.message);
  } finally {
    S.pending -= 1;
  }
}

function clearCardErrors() {
  document.querySelectorAll('.opt-card [data-role="status"]').forEach((el) => { el.classList.remove("error"); });
}
function cardError(i, msg) {
  const el = document.querySelector(`.opt-card[data-index="${i}"] [data-role="status"]`);
  if (el) { el.textContent = msg; el.classList.add("diverged"); }
}

// ------------------------------------------------------------------ drawing
const contourDiv = () => $("contour");
const lossDiv = () => $("loss");

function contourTrace() {
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
    colorscale: [[0, "#22315a"], [0.2, "#3d5a8a"], [0.45, "#7d9fc6"], [0.7, "#c2d4ea"], [1, "#f5f8fc"]],
    contours: { coloring: "fill", showlines: true },
    line: { color: "rgba(255,255,255,0.35)", width: 0.6 },
    colorbar: { title: { text: title, side: "right", font: { size: 11 } }, thickness: 12, len: 0.9, tickfont: { size: 10 } },
  };
  return S.contourTrace;
}

function at(arr, t) { return arr[Math.min(t, arr.length - 1)]; }
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

function drawContour() {
  const info = S.problemInfo;
  const r = S.result;
  const traces = [contourTrace()];
  const vars = info.variables;
  if (info.minima.length) {
    traces.push({
      type: "scatter", mode: "markers", name: "minima", x: info.minima.map((m) => m.point[0]),
      y: info.minima.map((m) => m.point[1]), marker: { symbol: "x-thin", size: 11, line: { width: 2, color: "#ffffff" } },
      hovertemplate: "minimum (%{x:.4g}, %{y:.4g})<extra></extra>", showlegend: false,
    });
  }
  if (r) {
    r.trajectories.forEach((tr, i) => {
      const color = colorOf(i);
      const sel = i === S.selected;
      traces.push({
        type: "scatter", mode: "lines", name: `${i + 1}. ${labelOf(i)}`,
        x: tr.x, y: tr.y, line: { color, width: sel ? 2.6 : 1.7 }, opacity: sel ? 1 : 0.85,
        hovertemplate: `${tr.label} step %{pointNumber}: (%{x:.4g}, %{y:.4g})<extra></extra>`,
      });
    });
    r.trajectories.forEach((tr, i) => {
      const t = Math.min(S.step, tr.x.length - 1);
      traces.push({
        type: "scatter", mode: "markers", showlegend: false, x: [tr.x[t]], y: [tr.y[t]], hoverinfo: "skip",
        marker: { color: colorOf(i), size: i === S.selected ? 12 : 9, line: { color: "#fff", width: 1.5 } },
      });
    });
  }
  traces.push({
    type: "scatter", mode: "markers", name: "start", x: [S.setup.start[0]], y: [S.setup.start[1]],
    marker: { symbol: "star", size: 15, color: "#ffd166", line: { color: "#1c2533", width: 1.2 } },
    hovertemplate: "start (%{x:.4g}, %{y:.4g})<extra></extra>", showlegend: false,
  });
  const b = info.bounds;
  const layout = {
    margin: { l: 52, r: 10, t: 10, b: 44 },
    xaxis: { title: { text: vars[0] }, range: b[0].slice(), constrain: "domain", zeroline: false, showgrid: false },
    yaxis: { title: { text: vars[1] }, range: b[1].slice(), zeroline: false, showgrid: false },
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: 11 }, bgcolor: "rgba(255,255,255,0)" },
    annotations: arrowAnnotations(),
    uirevision: (S.setup.formula || S.setup.problem) + JSON.stringify(b),
    hovermode: "closest",
    plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff",
    font: { family: "system-ui, DejaVu Sans, sans-serif", size: 12, color: "#1c2533" },
  };
  layout.margin.t = 34;
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
    margin: { l: 58, r: 10, t: 26, b: 40 },
    title: { text: "loss f(θ<sub>t</sub>)", font: { size: 12 }, x: 0.01, xanchor: "left", y: 0.97 },
    xaxis: { title: { text: "step t" }, zeroline: false },
    yaxis: Object.assign({ type: positive ? "log" : "linear", exponentformat: "power", zeroline: false },
      yrange ? { range: yrange, autorange: false } : { autorange: true },
      positive && decades >= 1.5 ? { dtick: decades > 12 ? 3 : 1 } : {}),
    showlegend: false,
    shapes: [{ type: "line", xref: "x", yref: "paper", x0: S.step, x1: S.step, y0: 0, y1: 1,
               line: { color: "#98a2b3", width: 1, dash: "dot" } }],
    plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff",
    font: { family: "system-ui, DejaVu Sans, sans-serif", size: 12, color: "#1c2533" },
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

function drawAll() {
  if (!S.problemInfo) return;
  drawContour();
  drawLoss();
  drawCardsStatus();
  drawStepLabel();
  drawQuickTable();
}

function drawStepLabel() {
  const max = S.result ? S.result.steps : 0;
  $("step-label").textContent = `t = ${S.step} / ${max}`;
  $("step").value = S.step;
  $("state-step").textContent = `at t = ${S.step}`;
}

// Only the moving parts: current-point markers, arrows, the loss cursor.
function drawStep() {
  if (!S.result || !S.problemInfo) return;
  drawStepLabel();
  const gd = contourDiv();
  const n = S.result.trajectories.length;
  const first = gd.data ? gd.data.length - 1 - n : 0;
  if (gd.data && first > 0) {
    const idx = [], xs = [], ys = [], sizes = [];
    S.result.trajectories.forEach((tr, i) => {
      const t = Math.min(S.step, tr.x.length - 1);
      idx.push(first + i); xs.push([tr.x[t]]); ys.push([tr.y[t]]); sizes.push(i === S.selected ? 12 : 9);
    });
    Plotly.restyle(gd, { x: xs, y: ys, "marker.size": sizes }, idx);
    Plotly.relayout(gd, { annotations: arrowAnnotations() });
  } else {
    drawContour();
  }
  Plotly.relayout(lossDiv(), { "shapes[0].x0": S.step, "shapes[0].x1": S.step });
  drawQuickTable();
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

function drawExplainTable() {
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

let explainTimer = null;
let explainController = null;
function explainKey() { return `${runSeq}|${S.selected}|${S.step}`; }
function scheduleExplain() {
  if (explainTimer) clearTimeout(explainTimer);
  if (S.playing || !S.result) return;
  explainTimer = setTimeout(async () => {
    const key = explainKey();
    if (explainController) explainController.abort();
    explainController = new AbortController();
    try {
      const res = await api("/api/explain", { setup: requestBody(), index: S.selected, step: S.step },
        explainController.signal);
      const data = await res.json();
      if (key !== explainKey()) return;
      S.explain = { key, data };
      drawExplainTable();
    } catch (e) {
      if (e.name !== "AbortError") $("state-note").textContent = e.message;
    }
  }, 120);
}

// ------------------------------------------------------------------ playback
let playHandle = null;
function setStep(t) {
  const max = S.result ? S.result.steps : 0;
  S.step = Math.max(0, Math.min(max, t));
  drawStep();
  scheduleExplain();
}
function play() {
  if (!S.result) return;
  if (S.step >= S.result.steps) S.step = 0;
  S.playing = true;
  $("play").innerHTML = ICON_PAUSE;
  let last = performance.now();
  const tick = (now) => {
    if (!S.playing) return;
    if (now - last >= 33) {
      last = now;
      const speed = Number($("speed").value);
      const next = S.step + speed;
      if (next >= S.result.steps) { S.step = S.result.steps; drawStep(); pause(); return; }
      S.step = next;
      drawStep();
    }
    playHandle = requestAnimationFrame(tick);
  };
  playHandle = requestAnimationFrame(tick);
}
function pause() {
  S.playing = false;
  if (playHandle) cancelAnimationFrame(playHandle);
  $("play").innerHTML = ICON_PLAY;
  writeHash();
  scheduleExplain();
}

function bindPlayback() {
  $("play").addEventListener("click", () => (S.playing ? pause() : play()));
  $("first").addEventListener("click", () => { pause(); setStep(0); writeHash(); });
  $("last").addEventListener("click", () => { pause(); setStep(S.result ? S.result.steps : 0); writeHash(); });
  $("back").addEventListener("click", () => { pause(); setStep(S.step - 1); writeHash(); });
  $("fwd").addEventListener("click", () => { pause(); setStep(S.step + 1); writeHash(); });
  $("step").addEventListener("input", () => { if (S.playing) pause(); setStep(Number($("step").value)); writeHash(); });
  $("selected").addEventListener("change", () => select(Number($("selected").value)));
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input,textarea,select")) return;
    if (ev.key === " ") { ev.preventDefault(); S.playing ? pause() : play(); }
    else if (ev.key === "ArrowRight") { pause(); setStep(S.step + 1); }
    else if (ev.key === "ArrowLeft") { pause(); setStep(S.step - 1); }
  });
}

// ------------------------------------------------------------------ contour click → start
function bindContourClick() {
  const gd = contourDiv();
  let down = null;
  gd.addEventListener("mousedown", (ev) => { down = [ev.clientX, ev.clientY]; }, true);
  gd.addEventListener("click", (ev) => {
    if (ev.target.closest(".modebar, .legend")) return;
    if (down && Math.hypot(ev.clientX - down[0], ev.clientY - down[1]) > 4) return;  // a zoom drag
    const fl = gd._fullLayout;
    if (!fl || !fl.xaxis) return;
    const xa = fl.xaxis, ya = fl.yaxis;
    const rect = gd.getBoundingClientRect();
    const px = ev.clientX - rect.left - xa._offset, py = ev.clientY - rect.top - ya._offset;
    if (px < 0 || py < 0 || px > xa._length || py > ya._length) return;
    const x = xa.p2l(px), y = ya.p2l(py);
    if (!isFinite(x) || !isFinite(y)) return;
    S.setup.start = [Number(x.toPrecision(5)), Number(y.toPrecision(5))];
    syncRunInputs();
    drawContour();
    changed();
  });
}

// ------------------------------------------------------------------ copy / export
function bindActions() {
  $("copy-link").addEventListener("click", async () => {
    writeHash();
    const url = location.href;
    try {
      await navigator.clipboard.writeText(url);
      setStatus("Link copied: it restores this whole setup.");
    } catch (e) {
      window.prompt("Copy this link:", url);
    }
  });
  const exp = async (format) => {
    try {
      const res = await api(`/api/export?format=${format}`, requestBody());
      const blob = await res.blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `ravine-trajectories.${format}`;
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 5000);
    } catch (e) { showError(e.message); }
  };
  $("export-csv").addEventListener("click", () => exp("csv"));
  $("export-json").addEventListener("click", () => exp("json"));
}

// ------------------------------------------------------------------ boot
async function restore(state) {
  S.setup = state.setup;
  S.step = state.t || 0;
  S.selected = Math.min(state.sel || 0, S.setup.optimizers.length - 1);
  S.problemInfo = null;
  S.contourTrace = null;
  S.explain = null;
  syncProblemInputs();
  syncRunInputs();
  buildOptimizers();
  try {
    await loadProblem();
  } catch (e) {
    showError(e.message);
    if (S.setup.formula) $("formula-error").textContent = e.message;
    return;
  }
  writeHash();
  await runNow();
}

async function boot() {
  try {
    const res = await api("/api/meta");
    S.meta = await res.json();
  } catch (e) {
    showError("cannot reach the ravine server: " + e.message);
    return;
  }
  buildProblemSelect();
  bindRunInputs();
  bindPlayback();
  bindContourClick();
  bindActions();
  const fromUrl = readHash();
  await restore(fromUrl || { setup: defaultSetup(), t: 0, sel: 0 });
  window.addEventListener("hashchange", () => {
    if (location.hash === lastHash) return;
    const st = readHash();
    if (st) { pause(); restore(st); }
  });
  S.ready = true;
}

boot();
