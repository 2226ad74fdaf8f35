/* ravine explorer — hand-written ES modules, no build step, no network beyond this server.
 *
 *   state.js     S (window.ravineState), formatting, setup helpers, URL hash, errors
 *   api.js       fetches (/api/problem, /api/run, /api/explain, /api/export, /api/meta)
 *   plots.js     contour, arrows, loss curves, state table
 *   playback.js  step / play / pause / selection, /api/explain when paused
 *   controls.js  the inputs and optimizer cards; every change → URL hash, debounce, /api/run
 *   main.js      boot: /api/meta, bind everything, restore the setup from the URL
 *   surface.js   the 3-D view beside the contour: surface z = f, the paths on it (toggle "3-D")
 *   conventions.js  one rule under each of its conventions: paths, losses, what differs and why
 *   eigen.js     the eigen-components view: |qᵢᵀ(θₜ − θ*)| per eigenvector of H, and ρᵢᵗ·|eᵢ(0)|
 *   hypermap.js  the hyperparameter map: final loss over (η, β), the stability bounds; click → run it
 *   present.js   presenter mode (key p, ?present), its view tabs, the light / dark theme (key d)
 *
 * Views (each a module with an init(), called once at boot; they redraw on the "result" and
 * "step" events of state.js):
 */
import { api, loadProblem } from "./api.js";
import { bindActions, bindContourClick, bindRunInputs, buildOptimizers, buildProblemSelect, runNow,
  syncProblemInputs, syncRunInputs } from "./controls.js";
import { bindPlayback, pause } from "./playback.js";
import { $, S, defaultSetup, lastHash, readHash, showError, writeHash } from "./state.js";
import { init as initSurface } from "./surface.js";
import { init as initConventions } from "./conventions.js";
import { init as initEigen } from "./eigen.js";
import { init as initHypermap } from "./hypermap.js";
import { applyView, init as initPresent } from "./present.js";

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
  applyView();
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
  // views: init() of each view module
  initSurface();
  initConventions();
  initEigen();
  initHypermap();
  const fromUrl = readHash();
  initPresent();
  await restore(fromUrl || { setup: defaultSetup(), t: 0, sel: 0 });
  window.addEventListener("hashchange", () => {
    if (location.hash === lastHash) return;
    const st = readHash();
    if (st) { pause(); restore(st); }
  });
  S.ready = true;
}

boot();
