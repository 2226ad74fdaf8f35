/* Talking to the server: every fetch of the page goes through api() (same origin only). */
import { $, S } from "./state.js";

export async function api(path, body, signal) {
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

export function requestBody() {
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

export async function loadProblem() {
  const body = { problem: S.setup.problem };
  if (S.setup.formula) body.formula = S.setup.formula;
  if (S.setup.bounds) body.bounds = S.setup.bounds;
  const res = await api("/api/problem", body);
  S.problemInfo = await res.json();
  $("problem-title").textContent = S.problemInfo.title;
  S.contourTrace = null;
}
