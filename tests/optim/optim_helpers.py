"""Shared pieces of the ravine.optim tests: a small MLP and cycling minibatches.

Minibatches that cycle through a fixed data set keep the gradients O(0.1) for all
500 steps, so the comparisons test the update and not the round-off floor at a
minimum (where an adaptive step g/√r divides noise by noise, see
tests/rules/test_torch_parity.py).
"""

import torch


def make_model(seed=0, dtype=None):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    if dtype is not None:
        m = m.to(dtype)
    return m


def make_data(dtype=None, n=512):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(n, 8, generator=g, dtype=dtype or torch.get_default_dtype())
    Y = torch.randn(n, 1, generator=g, dtype=dtype or torch.get_default_dtype())
    return X, Y


def batch(X, Y, s, size=64):
    i = (s % (X.shape[0] // size)) * size
    return X[i : i + size], Y[i : i + size]


def loss_step(model, opt, X, Y, s):
    x, y = batch(X, Y, s)
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    return loss


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


class _Configurations(dict):
    """An optimizer without an entry runs with its class's defaults (a new rule is tested at
    once; an entry is added to exercise more of its state)."""

    def __missing__(self, name):
        return {}


#: one configuration per optimizer, exercising its state (used by the state_dict,
#: non-finite, dtype and compiled-path tests)
OPT_KW = _Configurations(
    {
        "SGD": dict(lr=0.05, momentum=0.9, weight_decay=0.01),
        "Adagrad": dict(lr=0.05, lr_decay=0.01),
        "RMSprop": dict(lr=1e-3, centered=True, momentum=0.5),
        "Adadelta": dict(lr=1.0, weight_decay=0.01),
        "Adam": dict(lr=1e-3, amsgrad=True),
        "AdamW": dict(lr=1e-3),
        "NAdam": dict(lr=1e-3),
        "RAdam": dict(lr=1e-3, weight_decay=0.01, decoupled_weight_decay=True),
        "Adamax": dict(lr=2e-3, weight_decay=0.01),
        "ASGD": dict(lr=0.01, t0=20.0, weight_decay=0.01),
        "Rprop": dict(lr=1e-3, step_sizes=(1e-5, 0.01)),
        "Yogi": dict(lr=1e-2),
        "RMSpropNesterov": dict(lr=1e-3),
        "WindowedRMSprop": dict(lr=1e-3, window=5),
        "Momentum": dict(lr=0.01),
    }
)


def train(model, opt, X, Y, steps, start=0):
    for s in range(start, start + steps):
        loss_step(model, opt, X, Y, s)
