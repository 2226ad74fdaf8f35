/* The controls: function and formula, run inputs, optimizer cards with their hyperparameter
 * controls, clicks on the contour, copy link / export; and the debounced /api/run that every
 * change ends in.
 *
 * What a hyperparameter is (type, kind, range, choices, defaults) comes from /api/meta, i.e.
 * from the rules; the only thing decided here is how much of a kind's range a slider spans.
 */
import { api, loadProblem, requestBody } from "./api.js";
import { contourDiv, drawAll, drawContour } from "./plots.js";
import { scheduleExplain, select } from "./playback.js";
import { $, FORMULA, S, byName, colorOf, currentRun, defaultsOf, fmt, hyperOf, labelOf, nextRun, setStatus,
  showError, writeHash } from "./state.js";

// fields shown on the card; the rest go under "more hyperparameters"
const PRIMARY = new Set(["lr", "momentum", "alpha", "beta1", "beta2", "rho", "window", "form", "damping",
  "nesterov", "centered", "amsgrad"]);
const DEBOUNCE_MS = 150;

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
export function buildProblemSelect() {
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

export function syncProblemInputs() {
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

export function syncRunInputs() {
  $("start-x").value = fmt(S.setup.start[0]);
  $("start-y").value = fmt(S.setup.start[1]);
  $("steps").value = S.setup.steps;
  $("steps-range").value = Math.min(S.setup.steps, 2000);
  $("tol").value = S.setup.tol === null || S.setup.tol === undefined ? "" : S.setup.tol;
  $("noise").value = S.setup.grad_noise || 0;
}

export function bindRunInputs() {
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

// ------------------------------------------------------------------ hyperparameter sliders
// How much of each kind's range (ravine.rules.hyper: the kind, its legal range and its
// defaults come with every field in /api/meta) a slider spans: UI choices, one per kind.
// "log0": a log scale whose lowest position is exactly 0. A kind not listed gets a number box.
const SLIDERS = {
  lr: { scale: "log", min: 1e-5, max: 10 },
  positive: { scale: "log", min: 1e-12, max: 1 },
  nonneg: { scale: "log0", min: 1e-6, max: 10 },
  unit: { scale: "linear", min: 0, max: 0.9999 },
  int: { scale: "int", min: 1, max: 100 },
};

// slider position (0..1000; an int slider: the value) <-> value
function toSlider(s, v) {
  if (s.scale === "log" || s.scale === "log0") {
    if (s.scale === "log0" && v <= 0) return 0;
    const lo = Math.log10(s.min), hi = Math.log10(s.max);
    const p = (Math.log10(Math.max(v, s.min)) - lo) / (hi - lo);
    return Math.round(Math.min(1, Math.max(0, p)) * 1000);
  }
  if (s.scale === "int") return Math.min(s.max, Math.max(s.min, v));
  return Math.round(Math.min(1, Math.max(0, (v - s.min) / (s.max - s.min))) * 1000);
}
function fromSlider(s, pos) {
  pos = Number(pos);
  if (s.scale === "log" || s.scale === "log0") {
    if (s.scale === "log0" && pos === 0) return 0;
    const lo = Math.log10(s.min), hi = Math.log10(s.max);
    const v = Math.pow(10, lo + (pos / 1000) * (hi - lo));
    return Number(v.toPrecision(3));
  }
  if (s.scale === "int") return Math.round(pos);
  return Number((s.min + (pos / 1000) * (s.max - s.min)).toFixed(4));
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

/** Set several hyperparameters of optimizer i at once (the map's click), rebuild its card
 * and rerun: the contour then shows the run with these values. */
export function setHypers(i, values) {
  const opt = S.setup.optimizers[i];
  if (!opt) return;
  const d = defaultsOf(opt);
  opt.hyper = Object.assign({}, opt.hyper);
  for (const [field, value] of Object.entries(values)) {
    if (d[field] === value) delete opt.hyper[field]; else opt.hyper[field] = value;
  }
  buildOptimizers();
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
  if (f.type === "bool") {
    const cb = document.createElement("input");
    cb.type = "checkbox"; cb.checked = !!value; cb.className = "hyper-bool";
    cb.addEventListener("change", () => setHyper(i, f.name, cb.checked));
    row.appendChild(cb);
    return row;
  }
  if (f.type === "choice") {
    const sel = document.createElement("select");
    for (const c of f.choices) {
      const o = document.createElement("option"); o.value = c; o.textContent = c; sel.appendChild(o);
    }
    sel.value = value;
    sel.addEventListener("change", () => setHyper(i, f.name, sel.value));
    row.appendChild(sel);
    return row;
  }
  const s = SLIDERS[f.kind];
  const num = document.createElement("input");
  num.type = "number"; num.step = "any"; num.className = "hyper-num";
  // a convention may have no default for a field (optax's Adadelta η): the box asks for it
  if (value === undefined || value === null) { num.value = ""; num.placeholder = "required"; }
  else num.value = value;
  let slider = null;
  if (s) {
    slider = document.createElement("input");
    slider.type = "range";
    slider.className = "hyper-slider";
    slider.dataset.field = f.name;
    if (s.scale === "int") { slider.min = s.min; slider.max = s.max; slider.step = 1; }
    else { slider.min = 0; slider.max = 1000; slider.step = 1; }
    slider.value = toSlider(s, value);
    slider.addEventListener("input", () => {
      const v = fromSlider(s, slider.value);
      num.value = v;
      setHyper(i, f.name, v);
    });
    row.appendChild(slider);
  }
  num.addEventListener("change", () => {
    const v = f.type === "int" ? parseInt(num.value, 10) : Number(num.value);
    if (num.value.trim() === "" || Number.isNaN(v)) return;
    if (slider) slider.value = toSlider(s, v);
    setHyper(i, f.name, v);
  });
  row.appendChild(num);
  return row;
}

export function buildOptimizers() {
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

// ------------------------------------------------------------------ running
let runTimer = null;
let runController = null;

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

export async function runNow(opts = {}) {
  runTimer = null;
  if (runController) runController.abort();
  const controller = new AbortController();
  runController = controller;
  const seq = nextRun();
  S.pending += 1;
  const t0 = performance.now();
  try {
    if (!S.problemInfo) await loadProblem();
    const res = await api("/api/run", requestBody(), controller.signal);
    const data = await res.json();
    if (seq !== currentRun()) return;
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
    if (seq !== currentRun()) return;
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

// ------------------------------------------------------------------ contour click → start
export function bindContourClick() {
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
export function bindActions() {
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
