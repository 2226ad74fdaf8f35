"""state_dict round trip through a file and a NEW PROCESS: 100 steps, save, load in
a fresh python, 100 more steps → bit-identical to 200 uninterrupted steps."""

import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from optim_helpers import OPT_KW, flat_params, make_data, make_model, train  # noqa: E402

import ravine.optim as ro  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import sys, torch
sys.path.insert(0, {here!r})
import ravine.optim as ro
from optim_helpers import OPT_KW, make_data, make_model, train
X, Y = make_data()
for name in {names!r}:
    ck = torch.load({d!r} + "/" + name + ".pt", weights_only=False)
    model = make_model(seed=123)            # different weights: all must come from the file
    model.load_state_dict(ck["model"])
    opt = getattr(ro, name)(model.parameters(), impl={impl!r}, **OPT_KW[name])
    opt.load_state_dict(ck["opt"])
    train(model, opt, X, Y, 100, start=100)
    torch.save({{"params": [p.detach().clone() for p in model.parameters()], "opt": opt.state_dict()}},
               {d!r} + "/" + name + ".final.pt")
"""


def _roundtrip(tmp_path, names, impl):
    X, Y = make_data()
    refs = {}
    for name in names:
        ref = make_model()
        oref = getattr(ro, name)(ref.parameters(), impl=impl, **OPT_KW[name])
        train(ref, oref, X, Y, 200)
        refs[name] = (ref, oref)
        m = make_model()
        o = getattr(ro, name)(m.parameters(), impl=impl, **OPT_KW[name])
        train(m, o, X, Y, 100)
        torch.save({"model": m.state_dict(), "opt": o.state_dict()}, tmp_path / f"{name}.pt")
    code = CHILD.format(here=HERE, names=list(names), d=str(tmp_path), impl=impl)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
    for name in names:
        got = torch.load(tmp_path / f"{name}.final.pt", weights_only=False)
        ref, oref = refs[name]
        for p, q in zip(ref.parameters(), got["params"]):
            assert torch.equal(p.detach(), q), f"{name}: parameters differ after the reload"
        sa, sb = oref.state_dict()["state"], got["opt"]["state"]
        assert sa.keys() == sb.keys()
        for i in sa:
            assert sa[i].keys() == sb[i].keys(), name
            for k in sa[i]:
                assert torch.equal(torch.as_tensor(sa[i][k]), torch.as_tensor(sb[i][k])), f"{name}: state {k} differs"
        assert float(oref.state[next(iter(ref.parameters()))]["step"]) == 200.0  # SGD's dicts have no step (torch)


def test_state_dict_new_process_bit_identical(tmp_path):
    _roundtrip(tmp_path, list(ro.OPTIMIZERS), "eager")


@pytest.mark.slow
def test_state_dict_new_process_compiled(tmp_path):
    _roundtrip(tmp_path, ["Adam", "SGD", "WindowedRMSprop"], "compiled")


def test_state_dict_uses_torch_names_and_loads_torch_state():
    """A torch.optim.Adam state_dict loads into ravine's Adam and continues identically (float64)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        X, Y = make_data()
        a, b = make_model(), make_model()
        oa = torch.optim.Adam(a.parameters(), lr=1e-3, foreach=False)
        train(a, oa, X, Y, 50)
        b.load_state_dict(a.state_dict())
        ob = ro.Adam(b.parameters(), lr=1e-3, impl="eager")
        ob.load_state_dict(oa.state_dict())
        assert set(ob.state_dict()["state"][0]) >= {"step", "exp_avg", "exp_avg_sq"}
        train(a, oa, X, Y, 50, start=50)
        train(b, ob, X, Y, 50, start=50)
        pa, pb = flat_params(a), flat_params(b)
        assert ((pa - pb).norm() / pa.norm()).item() < 1e-13
    finally:
        torch.set_default_dtype(old)
