/* Presenter mode, its view tabs, and the light / dark theme.
 *
 * Presenter mode (the "Present" button, the key p, or a link with "present":1 in #s=… or a
 * bare ?present / #present) is the same page for a projector: body.present, larger text and
 * contrast (style.css), the contour, the loss curve and the playback on one screen, and a tab
 * per view instead of the panels below the fold (digits 1–6 pick them). The theme (the
 * button, the key d) follows the browser's prefers-color-scheme until one is chosen; both are
 * kept in the URL (S.view, state.js) so a shared link opens as the presenter left it.
 */
import { drawAll } from "./plots.js";
import { typing } from "./playback.js";
import { $, S, writeHash } from "./state.js";

// each tab and the <details> view it opens (null: a part of the page that is always there)
export const TABS = { run: null, table: null, setup: null, conventions: "conventions-view",
  eigen: "eigen-view", map: "hypermap-view" };
const dark = window.matchMedia("(prefers-color-scheme: dark)");

export function theme() { return S.view.theme || (dark.matches ? "dark" : "light"); }

// S.view → the page (classes, attributes, the views' panels), then a redraw at the new size
export function applyView() {
  if (!Object.hasOwn(TABS, S.view.tab)) S.view.tab = "run";  // own keys only: a link may say "constructor"
  document.body.classList.toggle("present", S.view.present);
  document.body.dataset.tab = S.view.tab;
  document.documentElement.dataset.theme = theme();
  $("present-toggle").setAttribute("aria-pressed", String(S.view.present));
  $("theme-toggle").textContent = theme() === "dark" ? "Light" : "Dark";
  for (const b of document.querySelectorAll("#view-tabs button")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === S.view.tab));
  }
  const panel = S.view.present && TABS[S.view.tab];
  if (panel && !$(panel).open) $(panel).open = true;  // its "toggle" event computes the view
  if (S.problemInfo) drawAll();
  // the figures refit their new boxes (Plotly's own "responsive" waits for a window resize)
  for (const el of document.querySelectorAll(".plot")) if (el.data && el.getClientRects().length) Plotly.Plots.resize(el);
}

function change(view) {
  Object.assign(S.view, view);
  applyView();
  writeHash();
}
export const togglePresent = () => change({ present: !S.view.present });
export const toggleTheme = () => change({ theme: theme() === "dark" ? "light" : "dark" });
export const showTab = (tab) => change({ tab });

export function init() {
  const q = new URLSearchParams(location.search);
  if (q.has("present") || location.hash === "#present") S.view.present = true;
  $("present-toggle").addEventListener("click", togglePresent);
  $("theme-toggle").addEventListener("click", toggleTheme);
  for (const b of document.querySelectorAll("#view-tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  dark.addEventListener("change", () => { if (!S.view.theme) applyView(); });
  const keys = Object.keys(TABS);
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    if (ev.key === "p") { ev.preventDefault(); togglePresent(); }
    else if (ev.key === "d") { ev.preventDefault(); toggleTheme(); }
    else if (S.view.present && /^[1-9]$/.test(ev.key) && Number(ev.key) <= keys.length) {
      ev.preventDefault(); showTab(keys[Number(ev.key) - 1]);
    }
  });
  applyView();
}
