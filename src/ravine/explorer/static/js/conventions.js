/* The conventions view: one rule, the user's hyperparameters, under each of its conventions.
 *
 * Pick one of the current optimizers (its name and the hyperparameters set on its card) or
 * any rule (its defaults). /api/conventions answers, per convention, the resolved
 * hyperparameters (the convention's defaults with the user's values over them, or the rule's
 * refusal) and one row per field whose value differs between the conventions, with a
 * sentence saying what each value does (from ravine.rules.meanings: nothing is written here).
 * Then /api/run runs every convention from the same start for the same steps (one optimizer
 * per convention, within the server's limit) and the view draws the paths on a small contour
 * and the loss curves, one palette colour per convention. S.conventions holds it all.
 */
import { api, requestBody } from "./api.js";
import { contourTrace } from "./plots.js";
import { $, S, colorOf, fmt, fmtHyper, labelOf, markerOf, on, palette, plotTheme } from "./state.js";

const panel = () => $("conventions-view");
let timer = null;
let seq = 0;

function choices() {
  const sel = $("conv-pick");
  const keep = sel.value;
  sel.innerHTML = "";
  const mine = document.createElement("optgroup"); mine.label = "current optimizers";
  S.setup.optimizers.forEach((o, i) => {
    const e = document.createElement("option"); e.value = `opt:${i}`; e.textContent = `${i + 1}. ${labelOf(i)}`;
    mine.appendChild(e);
  });
  const all = document.createElement("optgroup"); all.label = "rules (their defaults)";
  for (const m of S.meta.optimizers) {
    if (m.conventions.length < 2) continue;
    const e = document.createElement("option"); e.value = `rule:${m.name}`; e.textContent = m.name; e.title = m.title;
    all.appendChild(e);
  }
  sel.append(mine, all);
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : `opt:${Math.min(S.selected, S.setup.optimizers.length - 1)}`;
}

function picked() {
  const v = $("conv-pick").value || "opt:0";
  if (v.startsWith("opt:")) {
    const o = S.setup.optimizers[Number(v.slice(4))] || S.setup.optimizers[0];
    return { name: o.name, hyper: Object.assign({}, o.hyper || {}) };
  }
  return { name: v.slice(5), hyper: {} };
}

function schedule() {
  if (!panel().open || !S.result) return;
  if (timer) clearTimeout(timer);
  timer = setTimeout(compute, 150);
}

async function compute() {
  timer = null;
  const want = picked();
  const base = requestBody();
  delete base.optimizers;
  const key = JSON.stringify([want, base]);
  if (S.conventions && S.conventions.key === key && !S.conventions.error) return;
  const mine = ++seq;
  S.conventions = Object.assign(S.conventions || {}, { pending: true, key });
  try {
    const info = await (await api("/api/conventions", want)).json();
    const convs = Object.keys(info.resolved).slice(0, S.meta.limits.max_optimizers);
    let result = null;
    if (convs.length) {
      const body = Object.assign(requestBody(), {
        optimizers: convs.map((c) => ({ name: info.name, convention: c, hyper: want.hyper })),
      });
      body.steps = Math.min(body.steps, Math.floor(S.meta.limits.max_work / convs.length));
      result = await (await api("/api/run", body)).json();
    }
    if (mine !== seq) return;
    S.conventions = { key, info, convs, result, pending: false, error: null, draws: (S.conventions.draws || 0) + 1 };
    draw();
  } catch (e) {
    if (mine !== seq) return;
    S.conventions = { key, pending: false, error: e.message };
    $("conv-note").textContent = e.message;
  }
}

function draw() {
  const { info, convs, result } = S.conventions;
  $("conv-note").textContent = `${info.title}: ${convs.length} convention(s)` +
    (Object.keys(info.hyper).length ? `, each with ${Object.entries(info.hyper).map(([k, v]) => `${k}=${fmtHyper(v)}`).join(", ")} (set by you)` : ", each with its own defaults") +
    `; from (${S.setup.start.map(fmt).join(", ")}) for ${result ? result.steps : 0} steps.`;
  drawPlots(convs, result);
  drawTable(info, convs, result);
}

function drawPlots(convs, result) {
  if (!result) { Plotly.purge($("conv-contour")); Plotly.purge($("conv-loss")); return; }
  const info = S.problemInfo, b = info.bounds;
  const casing = palette().path_casing;
  const base = Object.assign({}, contourTrace(), { showscale: false });
  const traces = [base];
  result.trajectories.forEach((tr) => traces.push({
    type: "scatter", mode: "lines", showlegend: false, hoverinfo: "skip", x: tr.x, y: tr.y,
    line: { color: casing.color, width: 2 + casing.extra_width }, opacity: casing.opacity,
  }));
  result.trajectories.forEach((tr, i) => traces.push({
    type: "scatter", mode: "lines", name: convs[i], x: tr.x, y: tr.y, line: { color: colorOf(i), width: 2 },
    hovertemplate: `${convs[i]} step %{pointNumber}: (%{x:.4g}, %{y:.4g})<extra></extra>`,
    ravine: { role: "path", convention: convs[i] },
  }));
  traces.push({ type: "scatter", mode: "markers", showlegend: false, hoverinfo: "skip", x: [S.setup.start[0]],
    y: [S.setup.start[1]], marker: markerOf("start", null, 1.4) });
  const { font, paper_bgcolor } = plotTheme();
  Plotly.react($("conv-contour"), traces, {
    margin: { l: 40, r: 8, t: 8, b: 30 }, xaxis: { range: b[0].slice(), showgrid: false, zeroline: false },
    yaxis: { range: b[1].slice(), showgrid: false, zeroline: false }, showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: 11 } }, font, paper_bgcolor, hovermode: "closest",
  }, { displaylogo: false, responsive: true });
  let positive = true;
  for (const tr of result.trajectories) for (const v of tr.loss) if (v !== null && v <= 0) positive = false;
  Plotly.react($("conv-loss"), result.trajectories.map((tr, i) => ({
    type: "scatter", mode: "lines", name: convs[i], x: tr.loss.map((_, k) => k), y: tr.loss,
    line: { color: colorOf(i), width: 1.8 }, ravine: { role: "loss", convention: convs[i] },
    hovertemplate: `${convs[i]} t=%{x}: f=%{y:.5g}<extra></extra>`,
  })), {
    margin: { l: 50, r: 8, t: 24, b: 34 }, showlegend: false, font, paper_bgcolor, plot_bgcolor: paper_bgcolor,
    title: { text: "loss f(θ<sub>t</sub>)", font: { size: font.size }, x: 0.01, xanchor: "left" },
    xaxis: { title: { text: "step t" }, zeroline: false },
    yaxis: { type: positive ? "log" : "linear", exponentformat: "power", zeroline: false },
  }, { displaylogo: false, responsive: true });
}

function cell(tag, text, cls) {
  const c = document.createElement(tag);
  if (text && text.html) c.innerHTML = text.html; else c.textContent = text;
  if (cls) c.className = cls;
  return c;
}

function drawTable(info, convs, result) {
  const t = $("conv-table");
  t.innerHTML = "";
  const head = document.createElement("tr");
  head.append(cell("th", "field"));
  convs.forEach((c, i) => {
    const th = cell("th", c, "conv");
    th.style.setProperty("--c", colorOf(i));
    head.appendChild(th);
  });
  t.appendChild(head);
  for (const r of info.rows) {
    const tr = document.createElement("tr");
    tr.dataset.field = r.field;
    tr.appendChild(cell("td", r.symbol && r.symbol !== r.field ? `${r.field} (${r.symbol})` : r.field, "fld"));
    for (const c of convs) tr.appendChild(cell("td", fmtHyper(r.values[c]), "val"));
    t.appendChild(tr);
    const why = document.createElement("tr");
    why.className = "why";
    const td = cell("td", r.sentence);
    td.colSpan = convs.length + 1;
    why.appendChild(td);
    t.appendChild(why);
  }
  if (!info.rows.length) {
    const tr = document.createElement("tr");
    const td = cell("td", "No field differs: with these hyperparameters every convention is the same rule.");
    td.colSpan = convs.length + 1;
    tr.appendChild(td);
    t.appendChild(tr);
  }
  if (result) {  // where each convention ends
    const tr = document.createElement("tr");
    tr.className = "final";
    tr.appendChild(cell("td", { html: `f(θ<sub>${result.steps}</sub>)` }, "fld"));
    result.trajectories.forEach((r) => tr.appendChild(cell("td", `${fmt(r.loss[r.loss.length - 1])}${r.status === "diverged" ? " (diverged)" : ""}`, "val")));
    t.appendChild(tr);
  }
  const errs = Object.entries(info.errors);
  $("conv-errors").textContent = errs.length ? "Not run: " + errs.map(([c, m]) => `${c} — ${m}`).join("; ") : "";
}

export function init() {
  panel().addEventListener("toggle", () => { if (panel().open) { choices(); schedule(); } });
  $("conv-pick").addEventListener("change", schedule);
  on("result", () => { if (panel().open) { choices(); schedule(); } });
}
