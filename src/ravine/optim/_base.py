"""The one driver behind every ``ravine.optim`` optimizer.

A :class:`RuleOptimizer` is a ``torch.optim.Optimizer`` that owns no equation:
each step it builds the rule from the param group's hyperparameters (which
validates them), asks the rule for the step's scalars (``terms``) and calls the
rule's ``update`` on flat buffers.

Flat buffers
    The parameters of a param group are grouped by (dtype, device) into
    *buckets*. A bucket keeps the parameters, the gradients and every state
    field in one contiguous 1-D buffer each (state fields with leading axes,
    such as WindowedRMSprop's window, have shape ``(*lead, N)``). Parameters are
    re-pointed into the flat parameter buffer (``p.data = flat[o:o+n].view_as(p)``)
    and gradients into the flat gradient buffer, so autograd accumulates into it
    in place. A step is then ONE call of the rule's ``update`` on the flat
    tensors: eagerly (plain torch ops) or through ``torch.compile``, which fuses
    the whole update of a bucket into one kernel.

Torch's semantics on top of the buffers
    A post-accumulate-grad hook marks the parameters a backward pass reached since
    ``zero_grad()``: the others are skipped, as torch skips ``p.grad is None``. At each step a
    parameter that left its buffer (``p.data = …``, ``model.to(…)``, another optimizer) is
    taken back in with its state; ``self.state[p]`` holds views of the flat state, and
    what the user assigned or deleted there is read back in before the step. Complex
    parameters are stepped as their real views; ``differentiable=True`` groups have no
    buffers (parameter by parameter, autograd on).

Compiled path
    One compiled function per (rule class, structural flags, maximize, policy,
    dtype, device type), each with its own code object so that dynamo's cache
    (and its recompile limit) is per variant. Shapes are dynamic; the update is the
    rule's own, partially evaluated for the variant's flags and zero-valued
    hyperparameters, and the remaining numbers enter as one float64 vector, so changing
    lr, betas or momentum (schedulers) does not recompile (see _compiled_step);
    a hyperparameter becoming 0 or leaving 0 selects another variant.
"""

from __future__ import annotations

import inspect
import math
import threading
import weakref
from collections import defaultdict
from typing import Any

import torch
from torch.optim import Optimizer

from .. import _signals
from .._cache import use_for_inductor
from .._fallback import IMPLS, fall_back
from ..rules import hyper as hp
from ..rules.base import (
    NONFINITE_POLICIES,
    NonFiniteGradientError,
    check_bool,
    check_choice,
    masked,
    masked_state,
    next_theta,
    outcome,
)
from ..rules.specialize import attributes_used, is_literal, specialized_function
from . import _keywords

__all__ = ["RuleOptimizer", "IMPLS", "compile_stats"]

_ALIGN = 16  # elements; every parameter starts on a 64-byte boundary (float32)

# ------------------------------------------------------------------ the step function


def _make_step(rule_cls, static: dict, maximize: bool, check: bool, name: str, update=None):
    """The step of one rule variant on flat tensors, written once for eager and compiled use.

    ``num``: the float hyperparameters (dict), ``k``: the rule's terms,
    ``state``: the State fields (flat tensors, or the rule's scalar placeholders),
    ``g``, ``theta``: flat gradient and parameter buffers. Tensors are updated in
    place; returns (all-finite flag or None, new values of non-tensor state fields).
    """
    Hyper, State = rule_cls.Hyper, rule_cls.State
    update = rule_cls.update if update is None else update

    def _step(num, k, state, g, theta):
        if maximize:
            g = -g
        h = Hyper(**static, **num)
        rec = update(h, State(*state), g, theta, k)
        new_theta, new_state = outcome(State, rec, theta)
        # the whole bucket is left as it was when any gradient is not finite
        ok = torch.isfinite(g).all() if check else None
        theta.copy_(masked(ok, new_theta, theta))
        rest = []
        for v, buf in zip(masked_state(ok, new_state, state), state):
            if isinstance(buf, torch.Tensor):
                buf.copy_(v)
                rest.append(None)
            else:
                rest.append(v)
        return ok, tuple(rest)

    # a code object of its own: dynamo caches compiled code per code object
    _step.__code__ = _step.__code__.replace(co_name=name)
    _step.__name__ = _step.__qualname__ = name
    return _step


def _compiled_step(rule_cls, static, maximize, check, name):
    """The step of one variant through ``torch.compile``.

    The variant's ``update`` is the rule's own, partially evaluated for its fixed flags
    (``ravine.rules.specialize``): the hyperparameters in ``static`` — flags, forms and the
    float hyperparameters that are exactly 0 — become constants, and a test of another float
    against 0 folds to True (it is not 0, or it would be in ``static``). What remains reads
    numbers only, so the numbers enter as float64 tensor values (packed in one vector): dynamo never specializes a
    tensor's value, so a scheduler changing lr, β or momentum at every step recompiles nothing.
    (Passed as Python floats, dynamo kept them symbolic in most processes but, after some
    sequences of other compilations, specialized one and recompiled at every step.)
    Hyperparameters and terms the update does not read (Adagrad's lr: only its ``terms`` use it)
    are left out.

    Inductor's disk cache is the user's private one (``ravine._cache.use_for_inductor``:
    ``TORCHINDUCTOR_CACHE_DIR`` when the user set it, else the ``inductor`` folder of
    ``$RAVINE_CACHE_DIR`` or the platform's user cache — not torch's default in the shared
    temporary folder); a cache folder another user could write raises ``UnsafeCacheError``."""
    use_for_inductor()
    Hyper = rule_cls.Hyper
    nonzero = {f for f in Hyper._fields if f not in static}
    update, tree = specialized_function(rule_cls.update, static, nonzero=nonzero)
    used_h = sorted(attributes_used(tree, "h") - set(static))
    used_k = sorted(attributes_used(tree, "k"))
    const_h = {f: 0.0 for f in nonzero if f not in used_h}
    Terms = getattr(rule_cls, "Terms", None)
    const_k = {f: 0.0 for f in Terms._fields if f not in used_k} if Terms is not None else {}
    body = _make_step(rule_cls, static, maximize, check, name + "_body", update=update)

    def _inner(vec, flags, state, g, theta):
        # the numbers arrive packed in one float64 vector (one tensor to build and guard per step)
        num, kd, i = {}, {}, 0
        for f in used_h:
            num[f] = vec[i]
            i += 1
        for f in used_k:
            if f in flags:
                kd[f] = flags[f]
            else:
                kd[f] = vec[i]
                i += 1
        k = Terms(**const_k, **kd) if Terms is not None else ()
        return body({**const_h, **num}, k, state, g, theta)

    _inner.__code__ = _inner.__code__.replace(co_name=name)
    _inner.__name__ = _inner.__qualname__ = name
    compiled = torch.compile(_inner, dynamic=True, fullgraph=True)
    f64 = torch.float64

    def call(num, k, state, g, theta):
        nums = [float(num[f]) for f in used_h]
        flags = {}
        for f in used_k:
            v = getattr(k, f)
            if isinstance(v, bool):
                flags[f] = v
            else:
                nums.append(float(v))
        return compiled(torch.tensor(nums, dtype=f64), flags, state, g, theta)

    return call


_STEPS: dict = {}
_STEPS_LOCK = threading.Lock()
#: variant key → "compiled" | "eager" (compilation failed under impl="auto")
_FAILED: set = set()
_STATS = {"compiled_variants": 0, "compile_seconds": 0.0, "fallbacks": 0}


def compile_stats() -> dict:
    """How many compiled variants this process built, the seconds spent in their
    first calls (tracing + compiling, or loading from inductor's cache) and how
    many fell back to eager under ``impl="auto"``."""
    return dict(_STATS)


def _get_step(rule_cls, static, maximize, check, compiled, dtype, device_type):
    key = (rule_cls, tuple(sorted(static.items())), maximize, check, compiled, dtype, device_type)
    fn = _STEPS.get(key)
    if fn is None:
        with _STEPS_LOCK:
            fn = _STEPS.get(key)
            if fn is None:
                name = f"ravine_{rule_cls.name}_step_{len(_STEPS)}"
                fn = (
                    _compiled_step(rule_cls, static, maximize, check, name)
                    if compiled
                    else _make_step(rule_cls, static, maximize, check, name)
                )
                if compiled:
                    fn = _Compiled(fn, key)
                _STEPS[key] = fn
    return fn


class _Compiled:
    """A compiled step that records its first (compiling) call."""

    def __init__(self, fn, key):
        self.fn, self.key, self.warm = fn, key, False

    def __call__(self, *args):
        if self.warm:
            return self.fn(*args)
        import time

        t0 = time.perf_counter()
        out = self.fn(*args)
        _STATS["compiled_variants"] += 1
        _STATS["compile_seconds"] += time.perf_counter() - t0
        self.warm = True
        return out


# ------------------------------------------------------------------ buckets


def _round_up(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _real_dtype(p):
    return p.real.dtype if p.is_complex() else p.dtype


def _mark_present(ref, i):
    def hook(_param):
        b = ref()
        if b is not None:
            b.present[i] = True

    return hook


class _Bucket:
    """The parameters of one param group with one (real dtype, device), in flat buffers.

    A complex parameter is stepped as its real view (``torch.view_as_real``, as torch does):
    it takes 2·numel real slots, and the parameter, its gradient and its published state are
    complex views of them.
    """

    def __init__(self, params: list):
        self.params = params
        p0 = params[0]
        self.dtype, self.device = _real_dtype(p0), p0.device
        self.cplx = [p.is_complex() for p in params]
        self.shapes = [tuple(p.shape) for p in params]
        self.numels = [p.numel() * (2 if c else 1) for p, c in zip(params, self.cplx)]
        self.offsets = []
        o = 0
        for n in self.numels:
            self.offsets.append(o)
            o += _round_up(n)
        self.total = max(o, _ALIGN)
        self.present = [p.grad is not None for p in params]
        with torch.no_grad():
            self.flat_p = torch.zeros(self.total, dtype=self.dtype, device=self.device)
            self.flat_g = torch.zeros_like(self.flat_p)
            self.gviews = []
            for i, p in enumerate(params):
                self.view(self.flat_p, i).copy_(p.detach())
                p.data = self.view(self.flat_p, i)
                gv = self.view(self.flat_g, i)
                self.gviews.append(gv)
                if p.grad is not None and not p.grad.is_sparse:
                    gv.copy_(p.grad)
                    p.grad = gv
        self.pptrs = [p.data_ptr() for p in params]
        self.gptrs = [v.data_ptr() for v in self.gviews]
        self.handles = [None] * len(params)
        self.hook()
        self.steps = [0] * len(params)
        self.step_t = torch.zeros(len(params), dtype=torch.float32)
        self.step_views = [self.step_t[i] for i in range(len(params))]
        self.pubs: list[dict] = [{} for _ in params]  # what self.state[p] holds that is ours
        self.state: tuple | None = None  # flat State fields, allocated at the first step
        self.first_last = None  # index of each slot's first and last element (one-number fields)

    def hook(self):
        """Count a backward pass that accumulates into a parameter's gradient as giving it one."""
        ref = weakref.ref(self)
        for i, p in enumerate(self.params):
            if self.handles[i] is None and p.is_leaf and p.requires_grad:
                self.handles[i] = p.register_post_accumulate_grad_hook(_mark_present(ref, i))

    def release(self):
        for h in self.handles:
            if h is not None:
                h.remove()
        self.handles = [None] * len(self.params)

    def slot(self, buf, i):
        off, n = self.offsets[i], self.numels[i]
        return buf[..., off : off + n]

    def view(self, buf, i):
        """Slot i of ``buf`` shaped as parameter i (complex for a complex parameter)."""
        lead = tuple(buf.shape[:-1])
        if self.cplx[i]:
            return torch.view_as_complex(self.slot(buf, i).view(lead + self.shapes[i] + (2,)))
        return self.slot(buf, i).view(lead + self.shapes[i])

    def moved(self) -> bool:
        """A parameter no longer lives in the flat buffer (``p.data = …``, ``model.to(…)``,
        another optimizer took it)."""
        for p, ptr, c in zip(self.params, self.pptrs, self.cplx):
            if p.data_ptr() != ptr or p.is_complex() != c or _real_dtype(p) != self.dtype or p.device != self.device:
                return True
        return False

    def gather_grads(self, owner: str, sparse_ok: bool):
        """Point every gradient into the flat buffer; returns the indices of params without one."""
        missing = []
        for i, p in enumerate(self.params):
            g = p.grad
            gv = self.gviews[i]
            if g is gv:
                if not self.present[i]:
                    missing.append(i)
                continue
            if g is None:
                missing.append(i)
                continue
            self.present[i] = True
            if g.is_sparse:
                if not sparse_ok:
                    raise RuntimeError(f"{owner} does not support sparse gradients")
                gv.copy_(g.to_dense())  # the step is the dense rule: coordinates without a gradient get g = 0
                continue  # p.grad stays the user's sparse tensor, as in torch
            if g.data_ptr() != self.gptrs[i] or g.shape != p.shape or not g.is_contiguous():
                gv.copy_(g)  # e.g. model.zero_grad() set it to None and backward made a new one
            p.grad = gv
        return missing


# ------------------------------------------------------------------ the optimizer


_KEYS: dict = {}  # optimizer class → (pair names, group keys of the rule)
_SPLITS: dict = {}  # Hyper value → (static, num)


def _as_float(v):
    if isinstance(v, torch.Tensor):
        return float(v.detach().reshape(()).item()) if v.numel() == 1 else v
    return v


def _check_tensor_hyper(owner, name, v):
    if isinstance(v, torch.Tensor) and v.numel() != 1:
        raise ValueError(f"{owner}: Tensor {name} must be 1-element, got shape {tuple(v.shape)}")


class RuleOptimizer(Optimizer):
    """Base class of every ``ravine.optim`` optimizer (see the module docstring).

    Subclasses set ``_rule`` (a rule class from ``ravine.rules``), optionally
    ``_torch_keywords`` (torch's own keywords, in torch's order: the signature is made from
    them and the rule's ``Hyper``, ``_keywords.py``), ``_fixed`` (rule keywords held fixed),
    ``_state_names`` (rule State field → key in ``optimizer.state[p]``, torch's names where torch has the method),
    ``_scalar_state`` (keys torch keeps as one number per parameter: published as a
    0-d tensor), ``_sparse_ok`` (sparse gradients accepted, as torch's SGD and Adagrad)
    ``_state_at_init`` (state published at construction, as torch's Adagrad), ``_keeps_step``
    (False: no ``step`` in state dicts, as torch's SGD) and ``_detach_first`` (the state made at
    the first step is detached under ``differentiable=True``, as torch's SGD does).
    """

    _rule: Any = None
    _fixed: dict = {}
    _state_names: dict = {}
    _scalar_state: frozenset = frozenset()
    _sparse_ok = False
    _state_at_init = False
    _keeps_step = True  # torch's SGD keeps no step count: its state dicts have none
    _detach_first = False  # torch's SGD detaches its first momentum buffer (differentiable=True)
    #: torch's keywords besides the rule's, in torch's order, "*" where keyword-only begins
    _torch_keywords: tuple = _keywords.TORCHLESS

    def __init_subclass__(cls, **kwargs):
        """A subclass with a ``_rule`` and no ``__init__`` of its own gets the signature its rule's
        ``Hyper`` and its ``_torch_keywords`` make (``_keywords.py``)."""
        super().__init_subclass__(**kwargs)
        if cls._rule is not None and "__init__" not in cls.__dict__:
            _keywords.keyword_init(cls, RuleOptimizer.__init__)

    def __init__(
        self,
        params,
        hyper: dict,
        *,
        convention: str = "torch",
        maximize: bool = False,
        nonfinite: str = "ignore",
        impl: str = "auto",
        foreach=None,
        fused=None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        owner = type(self).__name__
        check_bool(owner, "maximize", maximize)
        check_bool(owner, "differentiable", differentiable)
        check_choice(owner, "nonfinite", nonfinite, NONFINITE_POLICIES)
        check_choice(owner, "impl", impl, IMPLS)
        if capturable:
            raise ValueError(f"{owner}: capturable must be False (the flat-buffer step needs no capture support)")
        tensors = {}
        plain = {}
        for k, v in hyper.items():
            if isinstance(v, torch.Tensor):
                _check_tensor_hyper(owner, k, v)
                tensors[k] = v
                v = _as_float(v)
            elif isinstance(v, tuple) and any(isinstance(x, torch.Tensor) for x in v):
                for x in v:
                    _check_tensor_hyper(owner, k, x)
                tensors[k] = v
                v = tuple(_as_float(x) for x in v)
            plain[k] = v
        rule = self._rule(convention=convention, **plain, **self._fixed)  # validates, fills the convention
        self._convention = convention
        self._impl = impl
        self._buckets: list[list[_Bucket]] = []
        self._rule_cache: dict = {}
        defaults = self._group_from_hyper(rule.h)
        defaults.update({k: v for k, v in tensors.items() if k in defaults})  # the user's tensors, as torch
        defaults.update(
            maximize=maximize,
            nonfinite=nonfinite,
            skipped=0,
            foreach=foreach,
            fused=fused,
            capturable=False,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)
        self._state_obj = self.state

    # -- hyperparameters ------------------------------------------------------
    @classmethod
    def _rule_keys(cls) -> list:
        """The rule's keywords as torch's param-group keys (``betas`` for β1, β2), from its spec."""
        return [k for k in hp.joined_names(cls._rule.settable()) if k not in cls._fixed]

    def _group_from_hyper(self, h) -> dict:
        values = hp.join_pairs(self._rule.fields, h._asdict())
        return {k: values[k] for k in self._rule_keys()}

    def _rule_for(self, group):
        """The rule with this group's hyperparameters now (validated; cached by value)."""
        cls = type(self)
        keys = _KEYS.get(cls)
        if keys is None:
            keys = _KEYS[cls] = (hp.pair_names(self._rule.fields), tuple(self._rule_keys()))
        pairs, names = keys
        owner = cls.__name__
        kw = {}
        for k in names:
            v = group[k]
            if k in pairs:
                for x in v:
                    _check_tensor_hyper(owner, k, x)
                kw[k] = tuple(_as_float(b) for b in v)
            else:
                _check_tensor_hyper(owner, k, v)
                kw[k] = _as_float(v)
        try:
            key = tuple(kw.values())
            hash(key)
        except TypeError:
            key = None
        if key is not None:
            rule = self._rule_cache.get(key)
            if rule is not None:
                return rule
        rule = self._rule(convention=self._convention, **kw, **self._fixed)
        if key is not None:
            if len(self._rule_cache) > 256:
                self._rule_cache.clear()
            self._rule_cache[key] = rule
        return rule

    @property
    def rule(self):
        """The rule of the first param group with its current hyperparameters."""
        return self._rule_for(self.param_groups[0])

    # -- param groups ---------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        owner = type(self).__name__
        check_bool(owner, "maximize", group["maximize"])
        check_bool(owner, "differentiable", group["differentiable"])
        check_choice(owner, "nonfinite", group["nonfinite"], NONFINITE_POLICIES)
        rule = self._rule_for(group)  # ValueError naming the argument
        for p in group["params"]:
            if not (p.is_floating_point() or p.is_complex()):
                raise ValueError(f"{owner}: parameters must be floating point or complex, got {p.dtype}")
        self._buckets.append([] if group["differentiable"] else self._make_buckets(group["params"]))
        if self._state_at_init and not group["differentiable"]:
            for b in self._buckets[-1]:
                self._init_bucket_state(b, rule)
                for i in range(len(b.params)):
                    self._publish(b, i)

    @staticmethod
    def _make_buckets(params):
        by_kind: dict = {}
        for p in params:
            by_kind.setdefault((_real_dtype(p), p.device), []).append(p)
        return [_Bucket(ps) for ps in by_kind.values()]

    # -- gradients ------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients.

        Gradients that live in the flat buffer stay there as zero-filled views (so that
        the next backward accumulates in place); with ``set_to_none=True`` (torch's
        default) they count as None until a backward pass (or an assignment) gives the
        parameter a gradient again: a parameter that gets none is skipped by the next
        step, its step count unchanged, as in torch. Other gradients are set to None
        (``set_to_none=True``) or zeroed.
        """
        for group, buckets in zip(self.param_groups, self._buckets):
            if group["differentiable"]:
                for p in group["params"]:
                    if p.grad is not None:
                        if set_to_none:
                            p.grad = None
                        else:
                            p.grad = torch.zeros_like(p.grad)
                continue
            for b in buckets:
                b.hook()  # a parameter unfrozen since (requires_grad_(True))
                b.flat_g.zero_()
                for i, p in enumerate(b.params):
                    if set_to_none:
                        b.present[i] = False
                    g = p.grad
                    if g is None or g is b.gviews[i]:
                        continue
                    if set_to_none:
                        p.grad = None
                    else:
                        if g.grad_fn is not None:
                            g.detach_()
                        else:
                            g.requires_grad_(False)
                        g.zero_()

    # -- state ----------------------------------------------------------------
    def _names(self):
        fields = self._rule.State._fields
        return [self._state_names.get(f, f) for f in fields]

    def _init_bucket_state(self, b: _Bucket, rule):
        b.state = tuple(rule.init_state(rule.h, b.flat_p))

    def _pub_view(self, b, i, name, buf):
        if name in self._scalar_state:  # torch keeps one (real) number per parameter; the rule one per coordinate
            return b.slot(buf, i)[0]
        return b.view(buf, i)

    def _publish(self, b: _Bucket, i: int):
        """Make ``self.state[p]`` hold views into the bucket's flat state (parameter i)."""
        p = b.params[i]
        st = self.state[p]
        pub = {"step": b.step_views[i]}
        for name, buf in zip(self._names(), b.state or ()):
            if isinstance(buf, torch.Tensor):
                pub[name] = self._pub_view(b, i, name, buf)
        st.update(pub)
        b.pubs[i] = pub

    def _check_value(self, b, i, name, v):
        owner = type(self).__name__
        p = b.params[i]
        if name in self._scalar_state:
            want = ()
            ok = v.numel() == 1
        else:
            j = self._names().index(name)
            lead = tuple(b.state[j].shape[:-1]) if b.state is not None and isinstance(b.state[j], torch.Tensor) else ()
            want = lead + tuple(p.shape)
            ok = tuple(v.shape) == want
        if not ok:
            raise ValueError(
                f"{owner}: state[{name!r}] of a parameter of shape {tuple(p.shape)} must have shape {want}, "
                f"got {tuple(v.shape)}"
            )
        if v.is_complex() != p.is_complex() and name not in self._scalar_state:
            raise ValueError(
                f"{owner}: state[{name!r}] must be {'complex' if p.is_complex() else 'real'}, got {v.dtype}"
            )

    def _import(self, b: _Bucket, i: int, st: dict, rule):
        """Copy a parameter's state (torch's keys) into the bucket's slots and publish views of them."""
        owner = type(self).__name__
        names = self._names()
        allowed = set(names) | {"step"}
        extra = sorted(k for k in st if k not in allowed)
        if extra:
            raise ValueError(
                f"{owner}: the state of a parameter has keys {extra} that {owner} does not use "
                f"(it uses {sorted(allowed)}): is it another optimizer's state?"
            )
        if b.state is None:
            self._init_bucket_state(b, rule)
        fresh = rule.init_state(rule.h, b.slot(b.flat_p, i))
        new = list(b.state)
        with torch.no_grad():
            for j, name in enumerate(names):
                v = st.get(name)
                if isinstance(v, torch.Tensor):
                    if not isinstance(new[j], torch.Tensor):
                        new[j] = torch.zeros_like(b.flat_p)
                        b.state = tuple(new)
                    self._check_value(b, i, name, v)
                    if name in self._scalar_state:
                        b.slot(new[j], i).fill_(_as_float(v))
                    else:
                        b.view(new[j], i).copy_(v.detach().to(b.device))
                elif isinstance(new[j], torch.Tensor):
                    f = fresh[j]
                    if isinstance(f, torch.Tensor):
                        b.slot(new[j], i).copy_(f)
                    else:
                        b.slot(new[j], i).fill_(float(f))
        b.state = tuple(new)
        if "step" in st and st["step"] is not None:
            b.steps[i] = int(_as_float(st["step"]))
        else:  # torch's SGD keeps no step: a loaded buffer means the first step is behind
            b.steps[i] = 1 if any(isinstance(st.get(n), torch.Tensor) for n in names) else 0
        b.step_t[i] = float(b.steps[i])
        self.state[b.params[i]].clear()
        self._publish(b, i)

    def _reset(self, b: _Bucket, i: int, rule):
        """Parameter i has no state (``del opt.state[p]``, ``opt.state = defaultdict(dict)``): fresh."""
        self._import(b, i, {}, rule)
        self.state.pop(b.params[i], None)
        b.pubs[i] = {}
        b.steps[i] = 0
        b.step_t[i] = 0.0

    def _sync(self, b: _Bucket, rule):
        """Take in what the user did to ``self.state`` since the last step."""
        state = self.state
        for i, p in enumerate(b.params):
            pub = b.pubs[i]
            st = state.get(p)
            if not pub:
                if st:  # the user assigned state to a parameter we have not stepped yet
                    self._import(b, i, dict(st), rule)
                continue
            if st is None or "step" not in st:
                if st:
                    self._import(b, i, dict(st), rule)
                else:
                    self._reset(b, i, rule)
                continue
            if any(st.get(k) is not v for k, v in pub.items()) or len(st) != len(pub):
                self._import(b, i, dict(st), rule)
        steps = b.step_t.tolist()  # the published step tensors, written in place or not
        b.steps = [int(s) for s in steps]
        if self._scalar_state and b.state is not None:
            self._sync_scalars(b)

    def _sync_scalars(self, b: _Bucket):
        """A published one-number field (NAdam's μ-product) is coordinate 0 of its slot: if it
        was written in place, spread it over the slot (one small gather per bucket and step)."""
        names = self._names()
        if b.first_last is None:
            b.first_last = torch.tensor(
                [o for o in b.offsets] + [o + n - 1 for o, n in zip(b.offsets, b.numels)], device=b.device
            )
        k = len(b.params)
        for j, name in enumerate(names):
            buf = b.state[j]
            if name not in self._scalar_state or not isinstance(buf, torch.Tensor):
                continue
            ends = buf[b.first_last]
            if torch.equal(ends[:k], ends[k:]):
                continue
            for i, (x, y) in enumerate(zip(ends[:k].tolist(), ends[k:].tolist())):
                if x != y:
                    b.slot(buf, i).fill_(x)

    def _export(self, b: _Bucket, i: int) -> dict:
        return {k: v.detach().clone() for k, v in b.pubs[i].items()}

    def _refresh(self, gi: int):
        """Rebuild a group's buckets when a parameter left its flat buffer, keeping its state."""
        group = self.param_groups[gi]
        if group["differentiable"]:
            return
        buckets = self._buckets[gi]
        if not any(b.moved() for b in buckets) and sum(len(b.params) for b in buckets) == len(group["params"]):
            return
        rule = self._rule_for(group)
        saved = {}
        for b in buckets:
            self._sync(b, rule)
            for i, p in enumerate(b.params):
                if b.pubs[i]:
                    saved[id(p)] = self._export(b, i)
            b.release()
        present = {id(p): b.present[i] for b in buckets for i, p in enumerate(b.params)}
        for p in group["params"]:
            self.state.pop(p, None)
        new = self._make_buckets(group["params"])
        for b in new:
            for i, p in enumerate(b.params):
                if id(p) in present:
                    b.present[i] = present[id(p)] and p.grad is not None
                st = saved.get(id(p))
                if st is not None:
                    st = {
                        k: (
                            v.to(dtype=p.dtype if k not in self._scalar_state else v.dtype, device=p.device)
                            if k != "step"
                            else v
                        )
                        for k, v in st.items()
                    }  # as torch's load_state_dict casts state to the parameter
                    self._import(b, i, st, rule)
        self._buckets[gi] = new

    def _check_state_obj(self):
        if self.state is not self._state_obj:  # opt.state = defaultdict(dict)
            if not isinstance(self.state, defaultdict):
                self.state = defaultdict(dict, self.state)
            self._state_obj = self.state

    def state_dict(self):
        self._check_state_obj()
        for gi, group in enumerate(self.param_groups):
            self._refresh(gi)
            rule = self._rule_for(group)
            for b in self._buckets[gi]:
                self._sync(b, rule)
        sd = super().state_dict()
        # copies, not views: whoever loads this (torch.optim too) must not write into our buffers
        sd["state"] = {
            k: {
                n: (v.detach().clone() if isinstance(v, torch.Tensor) else v)
                for n, v in st.items()
                if n != "step" or self._keeps_step
            }
            for k, st in sd["state"].items()
        }
        return sd

    def load_state_dict(self, state_dict) -> None:
        owner = type(self).__name__
        allowed = set(self._names()) | {"step"}
        for k, st in state_dict["state"].items():
            extra = sorted(n for n in st if n not in allowed)
            if extra:
                raise ValueError(
                    f"{owner}.load_state_dict: the state of parameter {k} has keys {extra} that {owner} "
                    f"does not use (it uses {sorted(allowed)}): is it another optimizer's state?"
                )
        need = self._torch_keys()
        for gi, g in enumerate(state_dict["param_groups"]):
            lacking = sorted(k for k in need if k not in g)
            if lacking:
                raise ValueError(
                    f"{owner}.load_state_dict: param group {gi} has no {', '.join(map(repr, lacking))} "
                    f"({owner}'s hyperparameters): is it another optimizer's state?"
                )
        super().load_state_dict(state_dict)
        self._state_obj = self.state
        for group, buckets in zip(self.param_groups, self._buckets):
            for k, v in self.defaults.items():
                group.setdefault(k, v)
            rule = self._rule_for(group)
            if group["differentiable"]:
                continue
            for b in buckets:
                loaded = [dict(self.state.get(p) or {}) for p in b.params]
                for i, st in enumerate(loaded):
                    st = {k: v for k, v in st.items() if v is not None}
                    if st:
                        self._import(b, i, st, rule)
                    elif b.pubs[i] or b.steps[i]:
                        self._reset(b, i, rule)

    @classmethod
    def _torch_keys(cls) -> set:
        """The group keys every state dict of this method has: the rule's keywords that
        torch.optim's class of the same name also takes (all of them if torch has none)."""
        keys = set(cls._rule_keys())
        tcls = getattr(torch.optim, cls.__name__, None)
        if tcls is None:
            return keys
        return keys & set(inspect.signature(tcls.__init__).parameters)

    def __getstate__(self):
        self._check_state_obj()
        for gi in range(len(self.param_groups)):
            self._refresh(gi)
        state = {}
        for group, buckets in zip(self.param_groups, self._buckets):
            rule = self._rule_for(group)
            for b in buckets:
                self._sync(b, rule)
                for i, p in enumerate(b.params):
                    if b.pubs[i]:
                        state[p] = self._export(b, i)
            if group["differentiable"]:
                for p in group["params"]:
                    if self.state.get(p):
                        state[p] = dict(self.state[p])
        return {
            "defaults": self.defaults,
            "param_groups": self.param_groups,
            "state": state,
            "_convention": self._convention,
            "_impl": self._impl,
        }

    def __setstate__(self, d):
        if "_convention" not in d:  # torch's load_state_dict passes its own dict
            return super().__setstate__(d)
        state = d.pop("state")
        conv, impl = d.pop("_convention"), d.pop("_impl")
        groups = d.pop("param_groups")
        super().__setstate__({"defaults": d["defaults"], "state": defaultdict(dict), "param_groups": []})
        self._convention, self._impl = conv, impl
        self._rule_cache = {}
        self._buckets = []
        self.param_groups = []
        self._state_obj = self.state
        for g in groups:
            self.param_groups.append(g)
            rule = self._rule_for(g)
            self._buckets.append([] if g["differentiable"] else self._make_buckets(g["params"]))
            for b in self._buckets[-1]:
                for i, p in enumerate(b.params):
                    if p in state:
                        self._import(b, i, state[p], rule)
            if g["differentiable"]:
                for p in g["params"]:
                    if p in state:
                        self.state[p] = state[p]

    # -- the step -------------------------------------------------------------
    def _use_compiled(self, b: _Bucket) -> bool:
        return self._impl != "eager"

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every param group (``closure`` re-evaluates the loss, as in torch).

        Under ``nonfinite="raise"`` every gradient of every group is checked before anything
        changes; under ``"skip"`` a group with a non-finite gradient is left untouched."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        owner = type(self).__name__
        self._check_state_obj()
        plans = []
        for gi, group in enumerate(self.param_groups):
            self._refresh(gi)
            rule = self._rule_for(group)
            if group["differentiable"]:
                work = [p for p in group["params"] if p.grad is not None]
                plans.append((group, rule, None, work))
                continue
            work = []
            for b in self._buckets[gi]:
                self._sync(b, rule)
                missing = b.gather_grads(owner, self._sparse_ok)
                if len(missing) == len(b.params):
                    continue
                work.append((b, missing))
            plans.append((group, rule, work, None))
        if any(g["nonfinite"] != "ignore" for g, *_ in plans):
            bad = self._nonfinite_groups(plans)
            for group, _, _, _ in plans:
                if id(group) in bad and group["nonfinite"] == "raise":
                    t = bad[id(group)]
                    raise NonFiniteGradientError(
                        f"{owner}: gradient has non-finite values at step {t} "
                        "(nonfinite='raise'; use 'skip' to skip such steps); nothing was changed"
                    )
            for group, _, _, _ in plans:
                if id(group) in bad:
                    group["skipped"] = group.get("skipped", 0) + 1
            plans = [pl for pl in plans if id(pl[0]) not in bad]
        for group, rule, work, dwork in plans:
            if dwork is not None:
                self._step_differentiable(group, rule, dwork)
                continue
            for b, missing in work:
                if b.state is None:
                    self._init_bucket_state(b, rule)
                self._step_bucket(b, missing, rule, group, owner)
        return loss

    def _nonfinite_groups(self, plans) -> dict:
        """id(group) → step number, for the checked groups with a non-finite gradient.

        One cheap reduction per bucket (the sum of its gradients: finite iff every term is,
        unless it overflows, which the exact test then settles), one host read for all."""
        sums, where = [], []
        for group, _, work, dwork in plans:
            if group["nonfinite"] == "ignore":
                continue
            if dwork is not None:
                for p in dwork:
                    sums.append(p.grad.detach().sum().abs().to(torch.float64).cpu().reshape(1))
                    where.append((group, None, p))
                continue
            for b, missing in work:
                # a plain sum (vectorized; summing into float64 or isfinite().all() were 100x slower on CPU)
                sums.append(self._present_grads(b, missing).sum().to(torch.float64).reshape(1))
                where.append((group, b, missing))
        if not sums:
            return {}
        s = torch.cat([x.cpu() for x in sums]) if len(sums) > 1 else sums[0]
        if math.isfinite(float(s.sum())):
            return {}
        bad = {}
        for v, (group, b, x) in zip(s.tolist(), where):
            if math.isfinite(v):
                continue
            if b is None:
                ok = bool(torch.isfinite(x.grad.detach()).all())
                t = int(_as_float(self.state[x].get("step", 0))) + 1 if self.state.get(x) else 1
            else:
                ok = bool(torch.isfinite(self._present_grads(b, x)).all())
                t = max(b.steps) + 1
            if not ok:
                bad[id(group)] = max(bad.get(id(group), 0), t)
        return bad

    @staticmethod
    def _present_grads(b, missing):
        if not missing:
            return b.flat_g
        return torch.cat([b.slot(b.flat_g, i) for i in range(len(b.params)) if i not in missing])

    def _split_hyper(self, h):
        """Numbers that may change from step to step (schedulers) vs flags, forms and zeros:
        a hyperparameter that is exactly 0 switches a term off (``if h.weight_decay != 0``),
        so it belongs to the compiled variant, not to its inputs. Cached by value."""
        hit = _SPLITS.get(h)
        if hit is not None:
            return hit
        if len(_SPLITS) > 512:
            _SPLITS.clear()
        _SPLITS[h] = out = self._split_hyper_uncached(h)
        return out

    @staticmethod
    def _split_hyper_uncached(h):
        static, num = {}, {}
        for f, v in zip(h._fields, h):
            if is_literal(v):
                static[f] = v
            else:
                num[f] = v
        return static, num

    def _step_bucket(self, b: _Bucket, missing, rule, group, owner):
        h = rule.h
        maximize = group["maximize"]
        if not missing and len(set(b.steps)) == 1:
            self._step_flat(b, rule, h, maximize, owner)
        else:
            self._step_slices(b, missing, rule, h, maximize)
        for i in range(len(b.params)):
            if i not in missing and not b.pubs[i]:
                self._publish(b, i)

    def _step_flat(self, b: _Bucket, rule, h, maximize, owner):
        t = b.steps[0] + 1
        k = rule.terms(h, t)
        static, num = self._split_hyper(h)
        rule_cls = type(rule)
        # a step whose terms carry a True flag (SGD's first step) runs eagerly: same code,
        # and it spares a second compiled variant used once
        flagged = any(isinstance(v, bool) and v for v in k)
        compiled = self._use_compiled(b) and not flagged
        key_dt = (b.dtype, b.device.type)
        if compiled and (rule_cls, tuple(sorted(static.items())), maximize, False, True, *key_dt) in _FAILED:
            compiled = False
        state = b.state
        if compiled:
            kk = (
                type(k)(*(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in k))
                if isinstance(k, tuple) and hasattr(k, "_fields")
                else k
            )
            fn = _get_step(rule_cls, static, maximize, False, True, *key_dt)
            try:
                _, rest = fn(num, kk, state, b.flat_g, b.flat_p)
            except Exception as e:
                _signals.check()  # a Ctrl+C that broke the compilation stops the run, not the compiler
                if self._impl == "compiled":
                    raise
                fall_back(
                    _FAILED,
                    _STATS,
                    fn.key,
                    f"{owner}: torch.compile failed",
                    e,
                    "running the rule eagerly (impl='eager')",
                    stacklevel=5,
                )
                return self._step_flat(b, rule, h, maximize, owner)
        else:
            fn = _get_step(rule_cls, static, maximize, False, False, *key_dt)
            _, rest = fn(num, k, state, b.flat_g, b.flat_p)
        self._store_rest(b, rest)
        for i in range(len(b.steps)):
            b.steps[i] = t
        b.step_t.fill_(float(t))

    def _store_rest(self, b, rest):
        """State fields that were scalar placeholders and came back as tensors get buffers."""
        if not any(isinstance(v, torch.Tensor) for v in rest):
            return
        new = list(b.state)
        for j, v in enumerate(rest):
            if isinstance(v, torch.Tensor):
                new[j] = v.contiguous()
        b.state = tuple(new)
        for i in range(len(b.params)):
            if b.pubs[i]:
                self._publish(b, i)

    def _step_slices(self, b: _Bucket, missing, rule, h, maximize):
        """Parameter by parameter (some have no gradient, or their step counts differ): eager."""
        static, num = self._split_hyper(h)
        fn = _get_step(type(rule), static, maximize, False, False, b.dtype, b.device.type)
        grown = False
        miss = set(missing)
        for i in range(len(b.params)):
            if i in miss:
                continue
            t = b.steps[i] + 1
            k = rule.terms(h, t)
            state = tuple(b.slot(s, i) if isinstance(s, torch.Tensor) else s for s in b.state)
            _, rest = fn(num, k, state, b.slot(b.flat_g, i), b.slot(b.flat_p, i))
            for j, v in enumerate(rest):
                if isinstance(v, torch.Tensor):  # a placeholder became a tensor: allocate the field
                    new = list(b.state)
                    new[j] = torch.zeros_like(b.flat_p)
                    b.state = tuple(new)
                    b.slot(new[j], i).copy_(v)
                    grown = True
            b.steps[i] = t
            b.step_t[i] = float(t)
        if grown:
            for i in range(len(b.params)):
                if b.pubs[i]:
                    self._publish(b, i)

    def _step_differentiable(self, group, rule, params):
        """``differentiable=True``: parameter by parameter, eagerly, with autograd on, so that
        ``torch.autograd.grad`` sees through the step (the rule is a pure function); the
        parameter is written in place (as torch does), the state fields are replaced."""
        h = rule.h
        static, num = self._split_hyper(h)
        rule_cls = type(rule)
        names = self._names()
        Hyper, State = rule_cls.Hyper, rule_cls.State
        with torch.enable_grad():
            for p in params:
                st = self.state[p]
                theta = torch.view_as_real(p) if p.is_complex() else p
                g = p.grad
                g = torch.view_as_real(g) if g.is_complex() else g
                if g.is_sparse:
                    raise RuntimeError(
                        f"{type(self).__name__}: sparse gradients with differentiable=True are not supported"
                    )
                if group["maximize"]:
                    g = -g
                fresh = rule.init_state(h, theta.detach())
                fields = []
                for name, f in zip(names, fresh):
                    v = st.get(name)
                    if isinstance(v, torch.Tensor):
                        if name in self._scalar_state:
                            v = v.reshape(()).expand(theta.shape)
                        elif v.is_complex():
                            v = torch.view_as_real(v)
                        fields.append(v)
                    else:
                        fields.append(f)
                t = int(_as_float(st.get("step", 0))) + 1
                k = rule.terms(h, t)
                first = self._detach_first and not any(isinstance(st.get(n), torch.Tensor) for n in names)
                if first:  # torch's SGD: buf = clone(g).detach(); θ moves by the detached step
                    rec = rule_cls.update(Hyper(**static, **num), State(*fields), g.detach(), theta.detach(), k)
                    new_theta = theta + (next_theta(rec, theta.detach()) - theta.detach())
                else:
                    rec = rule_cls.update(Hyper(**static, **num), State(*fields), g, theta, k)
                    new_theta = next_theta(rec, theta)
                theta.copy_(new_theta)
                st["step"] = torch.tensor(float(t), dtype=torch.get_default_dtype())
                for name, f in zip(names, State._fields):
                    v = getattr(rec, f)
                    if isinstance(v, torch.Tensor):
                        if name in self._scalar_state:
                            v = v.reshape(-1)[0]
                        elif p.is_complex():
                            v = torch.view_as_complex(v.contiguous())
                        st[name] = v

    def __repr__(self):
        return super().__repr__()
