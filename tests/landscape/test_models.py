"""Hessian-vector products, surfaces and sharpness tracking on small real networks (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ravine.landscape import (
    LossHessian,
    check_same_architecture,
    evaluate,
    filter_normalized_direction,
    interpolate,
    lanczos,
    param_dict,
    param_vector,
    plane_through,
    random_plane,
    track_sharpness,
)
from ravine.train import TrainConfig, make_model, train


def _model(kind="mlp", n_features=12, width=6, seed=0):
    torch.manual_seed(seed)
    return make_model(kind, n_features, 4, width, 1).double()


def _data(n=40, n_features=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, n_features, generator=g, dtype=torch.float64), torch.randint(0, 4, (n,), generator=g)


def _dense_hessian(model, x, y, loss="cross_entropy"):
    th = param_vector(model)

    def L(t):
        out = torch.func.functional_call(model, param_dict(model, t), (x,))
        if loss == "mse":
            return 0.5 * (out - F.one_hot(y, 4).double()).pow(2).sum(1).mean()
        return F.cross_entropy(out, y)

    return torch.autograd.functional.hessian(L, th)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "logreg"])
@pytest.mark.parametrize("method", ["jvp", "double_backward", "linearize"])
def test_hvp_equals_dense_hessian(kind, method):
    m = _model(kind, width=3)
    x, y = _data()
    ref = _dense_hessian(m, x, y)
    H = LossHessian(m, (x, y), batch_size=13, method=method)  # 40 = 13 + 13 + 13 + 1: chunks summed
    D = H.dense()
    assert H.n_products == H.dim
    assert float((D - ref).abs().max()) <= 1e-12 * max(1.0, float(ref.abs().max()))
    # the top eigenvalue by Lanczos equals the dense one
    lam = np.linalg.eigvalsh(ref.numpy())[-1]
    r = lanczos(H, 1, tol=1e-10)
    assert abs(r.lambda_max - lam) <= 1e-9 * abs(lam)


def test_linearize_equals_jvp_over_chunks():
    m = _model()
    x, y = _data()
    H = LossHessian(m, (x, y), batch_size=15, method="linearize")
    v = torch.randn(H.dim, dtype=torch.float64)
    a, b = H.matvec(v), LossHessian(m, (x, y)).matvec(v)
    assert torch.allclose(a, b, rtol=0, atol=1e-14) and H.setup_time > 0


def test_mse_loss_and_gradient():
    m = _model()
    x, y = _data()
    H = LossHessian(m, (x, y), "mse", batch_size=7)
    assert float((H.dense() - _dense_hessian(m, x, y, "mse")).abs().max()) < 1e-12
    g_ref = torch.func.grad(lambda t: F.cross_entropy(torch.func.functional_call(m, param_dict(m, t), (x,)), y))(
        param_vector(m)
    )
    Hc = LossHessian(m, (x, y), batch_size=9)
    assert torch.allclose(Hc.gradient(), g_ref, rtol=0, atol=1e-14)
    assert abs(Hc.value() - F.cross_entropy(m(x), y).item()) < 1e-14


def test_evaluate_vmap_equals_a_loop():
    m = _model("cnn", width=3)
    x, y = _data(n=30)
    base = param_vector(m)
    thetas = torch.stack([base + 0.1 * k * torch.ones_like(base) for k in range(5)])
    loss, acc = evaluate(m, thetas, (x, y), points_per_batch=2, samples_per_batch=7)
    for k in range(5):
        out = torch.func.functional_call(m, param_dict(m, thetas[k]), (x,))
        assert abs(loss[k] - F.cross_entropy(out, y).item()) < 1e-13
        assert acc[k] == (out.argmax(1) == y).double().mean().item()


def test_interpolation_endpoints_reproduce_each_solution():
    a, b = _model(seed=1), _model(seed=2)
    tr, te = _data(seed=0), _data(n=25, seed=1)
    ln = interpolate(a, b, {"train": tr, "test": te}, alphas=[-0.5, 0.0, 0.5, 1.0, 1.5])
    for s, (x, y) in (("train", tr), ("test", te)):
        for i, mod in ((1, a), (3, b)):
            with torch.no_grad():
                out = mod(x)
            assert ln.loss[s][i] == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-14, abs=0)
            assert ln.acc[s][i] == (out.argmax(1) == y).double().mean().item()
    assert ln.distance == pytest.approx(float((param_vector(b) - param_vector(a)).norm()))
    assert ln.loss["train"][2] != ln.loss["train"][1]


def test_interpolate_pairs_covers_every_pair_in_order():
    from ravine.landscape import interpolate_pairs

    ms = {"p": _model(seed=1), "q": _model(seed=2), "r": _model(seed=3)}
    lines = interpolate_pairs(ms, _data(), alphas=[0.0, 1.0])
    assert [ln.labels for ln in lines] == [("p", "q"), ("p", "r"), ("q", "r")]
    assert lines[0].loss["train"][0] == lines[1].loss["train"][0]  # both start at p
    with pytest.raises(ValueError, match=r"^models must map ≥ 2 labels to solutions, got 1$"):
        interpolate_pairs({"p": ms["p"]}, _data())


def test_filter_normalized_direction_matches_each_filter():
    m = _model("cnn", width=5)
    d = param_dict(m, filter_normalized_direction(m, seed=3))
    for name, p in m.named_parameters():
        if p.ndim == 1:
            assert torch.all(d[name] == 0), name
        else:
            dims = tuple(range(1, p.ndim))
            assert torch.allclose(d[name].norm(dim=dims), p.detach().norm(dim=dims), rtol=1e-12)
    pl = random_plane(m, _data(), n=5, span=0.5)
    assert pl.loss["train"].shape == (5, 5)
    with torch.no_grad():
        centre = F.cross_entropy(m(_data()[0]), _data()[1]).item()
    assert pl.loss["train"][2, 2] == pytest.approx(centre, rel=1e-13)


def test_plane_through_three_solutions_contains_them():
    ms = [_model(seed=s) for s in (1, 2, 3)]
    data = _data()
    pl = plane_through(ms, data, n=7, margin=0.0)
    # with no margin the grid corners/edges hit the points: solution 1 at (0, 0) is on the grid
    assert pl.points["1"] == (0.0, 0.0)
    i0, j0 = np.argmin(abs(pl.y)), np.argmin(abs(pl.x))
    with torch.no_grad():
        l1 = F.cross_entropy(ms[0](data[0]), data[1]).item()
    assert pl.loss["train"][i0, j0] == pytest.approx(l1, rel=1e-12)


def test_bad_input_one_line_value_errors():
    a = _model()
    other = _model(width=7)
    cnn = _model("cnn", width=3)
    x, y = _data()
    with pytest.raises(
        ValueError, match=r"^models\[1\] is another architecture: parameter '0.weight' has shape \(7, 12\)"
    ):
        interpolate(a, other, (x, y))
    with pytest.raises(ValueError, match=r"^models\[1\] is another architecture: parameters"):
        check_same_architecture([a, cnn])
    with pytest.raises(ValueError, match=r"^data: the split is empty \(0 samples\)$"):
        LossHessian(a, (x[:0], y[:0]))
    with pytest.raises(ValueError, match=r"^data: the split is empty"):
        interpolate(a, a, (x[:0], y[:0]))
    with pytest.raises(ValueError, match=r"^k must be an integer in \[1, \d+\] \(the operator has dim = \d+\)"):
        H = LossHessian(a, (x, y))
        lanczos(H, H.dim + 1)
    with pytest.raises(ValueError, match=r"^models: the plane needs exactly 3 solutions, got 2$"):
        plane_through([a, a], (x, y))
    with pytest.raises(ValueError, match=r"^method must be one of jvp, linearize, double_backward, got 'hvp'$"):
        LossHessian(a, (x, y), method="hvp")
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got 0$"):
        LossHessian(a, (x, y), batch_size=0)
    with pytest.raises(ValueError, match=r"^loss must be one of cross_entropy, mse"):
        LossHessian(a, (x, y), "hinge")
    with pytest.raises(ValueError, match=r"^thetas must have shape \(P, \d+\)"):
        evaluate(a, torch.zeros(2, 3), (x, y))
    with pytest.raises(ValueError, match=r"^every must be a positive integer, got 0$"):
        track_sharpness((x, y), every=0)


def test_track_sharpness_as_step_callback_does_not_change_the_run():
    cfg = TrainConfig(
        problem="digits",
        model="logreg",
        optimizer="sgd",
        lr=0.5,
        batch_size="full",
        epochs=6,
        samples=200,
        dtype="float64",
        optimizer_args={"impl": "eager"},
    )
    tr = track_sharpness(cfg, every=3, tol=1e-8, max_iter=200)
    r1 = train(cfg, step_callback=tr)
    r0 = train(cfg)
    assert r1.metric("train_loss") == r0.metric("train_loss")
    assert [rec["step"] for rec in tr.records] == [1, 3, 6]
    assert all(rec["converged"] for rec in tr.records)
    assert tr.records[0]["threshold_plain"] == pytest.approx(2 / 0.5)
    # the recorded λ_max is the dense Hessian's at that point (final step)
    res = train(cfg, keep_model=True)
    from ravine.landscape.solutions import splits

    x, y = splits(cfg)["train"]
    lam = np.linalg.eigvalsh(_dense_hessian_any(res.module, x, y).numpy())[-1]
    assert tr.records[-1]["lambda_max"] == pytest.approx(lam, rel=1e-8)


def _dense_hessian_any(model, x, y):
    th = param_vector(model)
    return torch.autograd.functional.hessian(
        lambda t: F.cross_entropy(torch.func.functional_call(model, param_dict(model, t), (x,)), y), th
    )


def test_adam_preconditioned_sharpness_is_recorded():
    cfg = TrainConfig(
        problem="digits",
        model="logreg",
        optimizer="torch.adam",
        lr=1e-2,
        batch_size="full",
        epochs=4,
        samples=200,
        dtype="float64",
    )
    tr = track_sharpness(cfg, every=2, tol=1e-6, max_iter=200)
    train(cfg, step_callback=tr)
    rec = tr.records[-1]
    assert rec["pre_threshold"] == pytest.approx((2 + 2 * 0.9) / ((1 - 0.9) * 1e-2))
    assert rec["pre_lambda_max"] > rec["lambda_max"]  # P ≪ 1 early in training: P⁻¹H is larger
