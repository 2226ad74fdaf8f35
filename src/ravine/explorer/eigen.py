"""``/api/eigen``: a run's distance to θ* along each eigenvector of the Hessian, and the linear
rates the theory gives for it (:mod:`ravine.analysis.linear`)."""

from __future__ import annotations

import numpy as np

from ravine._json import jsonable
from ravine.runner import STATUS

from .encode import f64, nested
from .limits import BadRequest, one_line
from .problems import quadratic_model
from .schemas import EigenRequest

__all__ = ["eigen"]


def eigen(explorer, req: EigenRequest) -> dict:
    """|q_iᵀ(θ_t − θ*)| of optimizer ``req.index`` along each eigenvector q_i of H, and the
    linear rates ρ_i the theory gives for its η and β (:mod:`ravine.analysis.linear`)."""
    from ravine.analysis.linear import linear_form, no_linear_rate_reason

    setup = req.setup
    rules, rule, e = explorer.select(req)
    try:
        res = explorer.run_one(rule, e, setup)
    except ValueError as exc:
        raise BadRequest(f"optimizers[{req.index}]: {one_line(exc)}") from None
    theta = np.asarray(res.theta[:, 0], float)
    out = {
        "index": req.index,
        "label": explorer.labels(rules)[req.index],
        "name": rule.name,
        "hyper": {k: jsonable(v) for k, v in rule.hyperparameters().items()},
        "steps": int(setup.steps),
        "status": STATUS[res.status[0]],
        "stop_step": int(res.stop_step[0]),
    }
    model = quadratic_model(e, theta[-1] if np.isfinite(theta[-1]).all() else theta[0])
    out.update(kind=model["kind"], message=model["message"])
    if model["kind"] is None:
        return out
    H, xs = model["hessian"], model["theta_star"]
    form = linear_form(rule)
    wd = form.weight_decay if form is not None else 0.0
    if wd:  # coupled decay: the decayed loss f + ½λ‖θ‖² has Hessian H + λI and its own θ*
        xs = xs - np.linalg.solve(H + wd * np.eye(2), wd * xs)
    lam, Q = np.linalg.eigh(H)
    with np.errstate(all="ignore"):
        comps = np.abs((theta - xs) @ Q)  # (steps + 1, 2): |q_iᵀ(θ_t − θ*)|
    out.update(
        theta_star=nested(xs),
        hessian=nested(H),
        eigenvalues=nested(lam),
        eigenvectors=nested(Q.T),  # row i is q_i
        components=[f64(comps[:, i]) for i in range(2)],
    )
    if form is None:
        out["theory"] = None
        out["no_theory"] = no_linear_rate_reason(rule)
    else:
        rates = form.rates(lam)
        out["theory"] = {
            "method": form.method,
            "lr": form.lr,
            "momentum": form.momentum,
            "weight_decay": wd,
            "rates": nested(rates),
            "formula": form.formula,
            "start": nested(comps[0]),
        }
        out["no_theory"] = None
    if setup.grad_noise > 0:
        out["message"] += "; with gradient noise the components stall at a noise floor"
    return out
