/* Time and selection: the step slider, play / pause, keyboard (space, ←/→, Shift+←/→, Home/End,
 * +/−), which optimizer's state is shown, and the /api/explain request for a paused step. */
import { requestBody, api } from "./api.js";
import { drawExplainTable, drawStep } from "./plots.js";
import { $, S, explainKey, writeHash } from "./state.js";

const svg = (d) => `<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="${d}" fill="currentColor"/></svg>`;
const ICON_PLAY = svg("M4 2v12l10-6z");
const ICON_PAUSE = svg("M3 2h4v12H3zM9 2h4v12H9z");

let explainTimer = null;
let explainController = null;
export function scheduleExplain() {
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

export function select(i) {
  S.selected = i;
  document.querySelectorAll(".opt-card").forEach((c) => c.classList.toggle("selected", Number(c.dataset.index) === i));
  $("selected").value = i;
  writeHash();
  drawStep();
  scheduleExplain();
}

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
export function pause() {
  S.playing = false;
  if (playHandle) cancelAnimationFrame(playHandle);
  $("play").innerHTML = ICON_PLAY;
  writeHash();
  scheduleExplain();
}

export function bindPlayback() {
  $("play").addEventListener("click", () => (S.playing ? pause() : play()));
  $("first").addEventListener("click", () => { pause(); setStep(0); writeHash(); });
  $("last").addEventListener("click", () => { pause(); setStep(S.result ? S.result.steps : 0); writeHash(); });
  $("back").addEventListener("click", () => { pause(); setStep(S.step - 1); writeHash(); });
  $("fwd").addEventListener("click", () => { pause(); setStep(S.step + 1); writeHash(); });
  $("step").addEventListener("input", () => { if (S.playing) pause(); setStep(Number($("step").value)); writeHash(); });
  $("selected").addEventListener("change", () => select(Number($("selected").value)));
  for (const [id, title] of Object.entries(TITLES)) $(id).title = title;
  document.addEventListener("keydown", onKey);
}

// ------------------------------------------------------------------ keyboard
// The keys (docs/explorer.md lists the same): the buttons' titles say them too.
const BIG_STEP = 10;
const TITLES = {
  play: "Play / pause (space)",
  first: "First step (Home)",
  last: "Last step (End)",
  back: `One step back (←; Shift+← ${BIG_STEP} steps)`,
  fwd: `One step forward (→; Shift+→ ${BIG_STEP} steps)`,
  speed: "Playback speed (+ faster, − slower)",
};
// typing in a field (text, number, a slider's own arrows, a select, the formula) keeps its keys
export function typing(el) {
  if (!el || !el.closest) return false;
  if (el.closest("textarea,select,[contenteditable=''],[contenteditable='true']")) return true;
  const input = el.closest("input");
  return !!input && !["checkbox", "radio", "button"].includes(input.type);
}
function changeSpeed(d) {
  const sel = $("speed");
  const i = Math.max(0, Math.min(sel.options.length - 1, sel.selectedIndex + d));
  if (i !== sel.selectedIndex) { sel.selectedIndex = i; sel.dispatchEvent(new Event("change")); }
}
function go(ev, t) { ev.preventDefault(); pause(); setStep(t); writeHash(); }
function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
  const max = S.result ? S.result.steps : 0;
  const n = ev.shiftKey ? BIG_STEP : 1;
  if (ev.key === " ") {
    if (ev.target.closest && ev.target.closest("button,input,summary")) return;  // the focused control's own click
    ev.preventDefault(); S.playing ? pause() : play();
  } else if (ev.key === "ArrowRight") go(ev, S.step + n);
  else if (ev.key === "ArrowLeft") go(ev, S.step - n);
  else if (ev.key === "Home") go(ev, 0);
  else if (ev.key === "End") go(ev, max);
  else if (ev.key === "+" || ev.key === "=") { ev.preventDefault(); changeSpeed(1); }
  else if (ev.key === "-" || ev.key === "_") { ev.preventDefault(); changeSpeed(-1); }
}
