/* The 3-D view beside the contour: the surface z = f(x, y) of the problem's contour grid
 * (/api/problem), coloured with the contour's own scale (log₁₀(1 + f − f_min) where the contour
 * uses log levels), and every trajectory drawn ON it: z = the run's loss f(θ_t) at each point,
 * lifted a hair above the drawn surface so no path is ever hidden in it, with the current
 * step's marker per optimizer following playback ("step" event). Colours and markers are the
 * palette's (state.js). Toggled by the "3-D" box in the plot card; S.view.surface is
 * remembered in the URL (v3d).
 *
 * Why the lift is not a constant: Plotly draws the surface as two triangles per grid cell,
 * which on a curved valley lie above the true f between grid points; a path at z = f would
 * dip into the surface there (the sawtooth). Each point is lifted to the higher of f and the
 * surface's height at that point under either triangulation of its cell, plus a hair
 * (LIFT × the surface's z span). S.surface.lift holds the hair, S.surface.paths the z drawn.
 */
import { $, S, colorOf, contourScale, labelOf, markerOf, on, plotTheme, writeHash } from "./state.js";

const LIFT = 0.004;  // the hair, as a fraction of the surface's z span
const div = () => $("surface");

let grid = null;  // {info, x, y, z, color, zmin, zmax, title}: the surface of S.problemInfo
let currentIdx = [];  // gd.data indices of the current-step markers, by optimizer

function surfaceGrid() {
  const info = S.problemInfo;
  if (grid && grid.info === info) return grid;
  const c = info.contour;
  let zmin = Infinity, zmax = -Infinity;
  for (const row of c.z) for (const v of row) if (v !== null && isFinite(v)) { zmin = Math.min(zmin, v); zmax = Math.max(zmax, v); }
  if (!isFinite(zmin)) { zmin = 0; zmax = 1; }
  let color = c.z, title = "f";
  if (info.log_levels) {  // the contour's transform (plots.js), so both views show the same colours
    color = c.z.map((row) => row.map((v) => (v === null ? null : Math.log10(1 + v - c.zmin))));
    title = "log₁₀(1 + f − f<sub>min</sub>)";
  }
  grid = { info, x: c.x, y: c.y, z: c.z, color, zmin, zmax, title };
  return grid;
}

// the highest the drawn surface can be at (x, y): the grid cell's two triangulations
function surfaceTop(g, x, y) {
  const nx = g.x.length, ny = g.y.length;
  const fx0 = (x - g.x[0]) / (g.x[nx - 1] - g.x[0]) * (nx - 1);
  const fy0 = (y - g.y[0]) / (g.y[ny - 1] - g.y[0]) * (ny - 1);
  if (!(fx0 >= 0 && fy0 >= 0 && fx0 <= nx - 1 && fy0 <= ny - 1)) return null;
  const i = Math.min(Math.floor(fx0), nx - 2), j = Math.min(Math.floor(fy0), ny - 2);
  const fx = fx0 - i, fy = fy0 - j;
  const z00 = g.z[j][i], z10 = g.z[j][i + 1], z01 = g.z[j + 1][i], z11 = g.z[j + 1][i + 1];
  if ([z00, z10, z01, z11].some((v) => v === null || !isFinite(v))) return null;
  const a = fx >= fy ? z00 + fx * (z10 - z00) + fy * (z11 - z10) : z00 + fy * (z01 - z00) + fx * (z11 - z01);
  const b = fx + fy <= 1 ? z00 + fx * (z10 - z00) + fy * (z01 - z00)
    : z11 + (1 - fx) * (z01 - z11) + (1 - fy) * (z10 - z11);
  return Math.max(a, b);
}

// the z drawn for each point of a trajectory: null outside the window or where f is not finite
function pathZ(g, tr, hair) {
  const b = S.problemInfo.bounds;
  return tr.loss.map((f, k) => {
    const x = tr.x[k], y = tr.y[k];
    if (f === null || x === null || y === null || !isFinite(f)) return null;
    if (x < b[0][0] || x > b[0][1] || y < b[1][0] || y > b[1][1]) return null;
    const top = surfaceTop(g, x, y);
    return Math.max(f, top === null ? f : top) + hair;
  });
}

const at = (arr, t) => arr[Math.min(t, arr.length - 1)];

function marker3d(kind, color, scale) {
  const m = markerOf(kind, color, scale);
  m.symbol = S.meta.palette.markers[kind].plotly3d;
  return m;
}

function currentTrace(tr, i, zs) {
  const t = Math.min(S.step, tr.x.length - 1);
  const z = at(zs, t);
  return {
    type: "scatter3d", mode: "markers", showlegend: false, hoverinfo: "skip",
    x: [z === null ? null : tr.x[t]], y: [z === null ? null : tr.y[t]], z: [z],
    marker: marker3d("current", colorOf(i), i === S.selected ? 0.55 : 0.45),
    ravine: { role: "current", index: i, step: t },
  };
}

export function drawSurface() {
  if (!S.problemInfo || !S.result || !S.view.surface) return;
  const g = surfaceGrid();
  const hair = LIFT * Math.max(g.zmax - g.zmin, 1e-12);
  const info = S.problemInfo;
  const traces = [{
    type: "surface", x: g.x, y: g.y, z: g.z, surfacecolor: g.color, colorscale: contourScale(),
    showscale: false, opacity: 0.96, hoverinfo: "skip", name: "f",
    contours: { z: { show: false } },
    lighting: { ambient: 0.55, diffuse: 0.7, specular: 0.05, roughness: 0.9 },
    ravine: { role: "surface", log: !!info.log_levels },
  }];
  const paths = [];
  S.result.trajectories.forEach((tr, i) => {
    const zs = pathZ(g, tr, hair);
    paths.push(zs);
    traces.push({
      type: "scatter3d", mode: "lines", name: `${i + 1}. ${labelOf(i)}`,
      x: tr.x, y: tr.y, z: zs, line: { color: colorOf(i), width: i === S.selected ? 6 : 4 },
      hovertemplate: `${tr.label} step %{pointNumber}: f = %{customdata:.5g}<extra></extra>`, customdata: tr.loss,
      ravine: { role: "path", index: i },
    });
  });
  const minima = info.minima.filter((m) => surfaceTop(g, m.point[0], m.point[1]) !== null);
  if (minima.length) {
    traces.push({
      type: "scatter3d", mode: "markers", name: "minima", showlegend: false,
      x: minima.map((m) => m.point[0]), y: minima.map((m) => m.point[1]),
      z: minima.map((m) => Math.max(m.value, surfaceTop(g, m.point[0], m.point[1])) + hair),
      marker: marker3d("minimum", null, 0.45), hovertemplate: "minimum (%{x:.4g}, %{y:.4g})<extra></extra>",
      ravine: { role: "minima" },
    });
  }
  S.result.trajectories.forEach((tr, i) => {  // the last point: a dot, or an ✕ where it diverged
    const zs = paths[i];
    let k = zs.length - 1;
    while (k >= 0 && zs[k] === null) k--;
    if (k < 0) return;
    const kind = tr.status === "diverged" ? "diverged" : "end";
    traces.push({
      type: "scatter3d", mode: "markers", showlegend: false, hoverinfo: "skip", x: [tr.x[k]], y: [tr.y[k]], z: [zs[k]],
      marker: marker3d(kind, colorOf(i), kind === "end" ? 0.9 : 0.5), ravine: { role: kind, index: i },
    });
  });
  const z0 = paths.map((zs) => zs[0]).find((v) => v !== null);
  if (z0 !== undefined) {
    traces.push({
      type: "scatter3d", mode: "markers", name: "start", showlegend: false, hoverinfo: "skip",
      x: [S.setup.start[0]], y: [S.setup.start[1]], z: [z0], marker: marker3d("start", null, 0.6),
      ravine: { role: "start" },
    });
  }
  currentIdx = [];
  S.result.trajectories.forEach((tr, i) => { currentIdx.push(traces.length); traces.push(currentTrace(tr, i, paths[i])); });
  S.surface = { lift: hair, paths, zmin: g.zmin, zmax: g.zmax, log: !!info.log_levels, draws: (S.surface ? S.surface.draws : 0) + 1 };
  const vars = info.variables, b = info.bounds;
  const axis = (title, range) => ({ title: { text: title }, range, backgroundcolor: "#ffffff", gridcolor: "#e4e7ec",
    zeroline: false, showspikes: false });
  const layout = {
    margin: { l: 0, r: 0, t: 30, b: 0 },
    scene: {
      xaxis: axis(vars[0], b[0].slice()), yaxis: axis(vars[1], b[1].slice()),
      zaxis: axis("f", [g.zmin, g.zmax + 2 * hair]),
      aspectmode: "manual", aspectratio: { x: 1, y: 1, z: 0.65 },
      camera: { eye: { x: -0.85, y: -1.35, z: 1.75 } },  // from above: the valleys stay in view
    },
    showlegend: false,
    title: { text: `surface z = f (colour: ${g.title}) · drag to rotate`, font: { size: 11 }, x: 0.02, xanchor: "left" },
    uirevision: (S.setup.formula || S.setup.problem) + JSON.stringify(b),
    ...plotTheme(),
  };
  Plotly.react(div(), traces, layout, { displaylogo: false, responsive: true });
}

// only the current-step markers (playback)
function moveMarkers() {
  const gd = div();
  if (!S.result || !S.surface || !gd.data || currentIdx.length !== S.result.trajectories.length) { drawSurface(); return; }
  const xs = [], ys = [], zs = [], sizes = [], steps = [];
  S.result.trajectories.forEach((tr, i) => {
    const c = currentTrace(tr, i, S.surface.paths[i]);
    xs.push(c.x); ys.push(c.y); zs.push(c.z); sizes.push(c.marker.size); steps.push(c.ravine.step);
  });
  Plotly.restyle(gd, { x: xs, y: ys, z: zs, "marker.size": sizes }, currentIdx);
  currentIdx.forEach((k, i) => { gd.data[k].ravine.step = steps[i]; });
}

function apply() {
  const on3d = !!S.view.surface;
  $("show-3d").checked = on3d;
  const card = $("contour").closest(".plot-card");
  card.classList.toggle("with-3d", on3d);
  div().hidden = !on3d;
  if (on3d) drawSurface();
  else if (div().data) { Plotly.purge(div()); S.surface = null; }
  if ($("contour").data) Plotly.Plots.resize($("contour"));
}

export function init() {
  $("show-3d").addEventListener("change", () => {
    S.view.surface = $("show-3d").checked;
    writeHash();
    apply();
  });
  on("result", apply);
  on("step", () => { if (S.view.surface) moveMarkers(); });
}
