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

Compiled path
    One compiled function per (rule class, structural flags, maximize, policy,
    dtype, device type), each with its own code object so that dynamo's cache
    (and its recompile limit) is per variant. Shapes are dynamic; the update is the
    rule's own, partially evaluated for the variant's flags and zero-valued
    hyperparameters, and the remaining numbers enter as 0-d tensors, so changing
    lr, betas or momentum (schedulers) does not recompile (see _compiled_step);
    a hyperparameter becoming 0 or leaving 0 selects another variant.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from typing import Any

import torch
from torch.optim import Optimizer

from ..rules import hyper as hp
from ..rules.base import NONFINITE_POLICIES, NonFiniteGradientError, check_bool, check_choice, next_theta
from ..rules.specialize import attributes_used, folded_tree

__all__ = ["RuleOptimizer", "IMPLS", "compile_stats"]

IMPLS = ("auto", "compiled", "eager")
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
    fields = State._fields

    def _step(num, k, state, g, theta):
        if maximize:
            g = -g
        h = Hyper(**static, **num)
        rec = update(h, State(*state), g, theta, k)
        new_theta = next_theta(rec, theta)
        ok = None
        if check:  # the whole bucket is left as it was when any gradient is not finite
            ok = torch.isfinite(g).all()
            new_theta = torch.where(ok, new_theta, theta)
        theta.copy_(new_theta)
        rest = []
        for f, buf in zip(fields, state):
            v = getattr(rec, f)
            if isinstance(buf, torch.Tensor):
                if check:
                    v = torch.where(ok, v, buf)
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
    numbers only, so the numbers enter as 0-d float64 tensors: dynamo never specializes a
    tensor's value, so a scheduler changing lr, β or momentum at every step recompiles nothing.
    (Passed as Python floats, dynamo kept them symbolic in most processes but, after some
    sequences of other compilations, specialized one and recompiled at every step.)
    Hyperparameters and terms the update does not read (Adagrad's lr: only its ``terms`` use it)
    are left out."""
    Hyper = rule_cls.Hyper
    nonzero = {f for f in Hyper._fields if f not in static}
    tree = folded_tree(rule_cls.update, static, nonzero=nonzero)
    ns = dict(rule_cls.update.__globals__)
    exec(compile(tree, inspect.getsourcefile(rule_cls.update) or "<rule>", "exec"), ns)  # the rule's own code
    update = ns[tree.body[0].name]
    used_h = sorted(attributes_used(tree, "h") - set(static))
    used_k = sorted(attributes_used(tree, "k"))
    const_h = {f: 0.0 for f in nonzero if f not in used_h}
    Terms = getattr(rule_cls, "Terms", None)
    const_k = {f: 0.0 for f in Terms._fields if f not in used_k} if Terms is not None else {}
    body = _make_step(rule_cls, static, maximize, check, name + "_body", update=update)

    def _inner(num, kd, state, g, theta):
        k = Terms(**const_k, **kd) if Terms is not None else ()
        return body({**const_h, **num}, k, state, g, theta)

    _inner.__code__ = _inner.__code__.replace(co_name=name)
    _inner.__name__ = _inner.__qualname__ = name
    compiled = torch.compile(_inner, dynamic=True, fullgraph=True)
    f64 = torch.float64

    def number(v):
        return v if isinstance(v, bool) else torch.tensor(float(v), dtype=f64)

    def call(num, k, state, g, theta):
        return compiled(
            {f: number(num[f]) for f in used_h}, {f: number(getattr(k, f)) for f in used_k}, state, g, theta
        )

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


class _Bucket:
    """The parameters of one param group with one (dtype, device), in flat buffers."""

    def __init__(self, params: list):
        self.params = params
        p0 = params[0]
        self.dtype, self.device = p0.dtype, p0.device
        self.numels = [p.numel() for p in params]
        self.offsets = []
        o = 0
        for n in self.numels:
            self.offsets.append(o)
            o += _round_up(n)
        self.total = max(o, _ALIGN)
        with torch.no_grad():
            self.flat_p = torch.zeros(self.total, dtype=self.dtype, device=self.device)
            self.flat_g = torch.zeros_like(self.flat_p)
            self.gviews = []
            for p, off, n in zip(params, self.offsets, self.numels):
                self.flat_p[off : off + n].copy_(p.detach().reshape(-1))
                p.data = self.flat_p[off : off + n].view(p.shape)
                gv = self.flat_g[off : off + n].view(p.shape)
                self.gviews.append(gv)
                if p.grad is not None:
                    gv.copy_(p.grad)
                    p.grad = gv
        self.gptrs = [v.data_ptr() for v in self.gviews]
        self.steps = [0] * len(params)
        self.state: tuple | None = None  # flat State fields, allocated at the first step

    def slot(self, buf, i):
        off, n = self.offsets[i], self.numels[i]
        return buf[..., off : off + n]

    def view(self, buf, i):
        p = self.params[i]
        return self.slot(buf, i).view(*buf.shape[:-1], *p.shape)

    def gather_grads(self, owner: str):
        """Point every gradient into the flat buffer; returns the indices of params without one."""
        missing = []
        for i, p in enumerate(self.params):
            g = p.grad
            gv = self.gviews[i]
            if g is gv:
                continue
            if g is None:
                missing.append(i)
                continue
            if g.is_sparse:
                raise ValueError(f"{owner}: sparse gradients are not supported")
            if g.data_ptr() != self.gptrs[i] or g.shape != p.shape or not g.is_contiguous():
                gv.copy_(g)  # e.g. model.zero_grad() set it to None and backward made a new one
            p.grad = gv
        return missing


# ------------------------------------------------------------------ the optimizer


def _as_float(v):
    return float(v.item()) if isinstance(v, torch.Tensor) else v


class RuleOptimizer(Optimizer):
    """Base class of every ``ravine.optim`` optimizer (see the module docstring).

    Subclasses set ``_rule`` (a rule class from ``ravine.rules``), optionally
    ``_fixed`` (rule keywords held fixed) and ``_state_names`` (rule State field →
    key in ``optimizer.state[p]``, torch's names where torch has the method).
    """

    _rule: Any = None
    _fixed: dict = {}
    _state_names: dict = {}

    def __init__(
        self,
        params,
        hyper: dict,
        *,
        convention: str = "torch",
        maximize: bool = False,
        nonfinite: str = "raise",
        impl: str = "auto",
        foreach=None,
        fused=None,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        owner = type(self).__name__
        check_bool(owner, "maximize", maximize)
        check_choice(owner, "nonfinite", nonfinite, NONFINITE_POLICIES)
        check_choice(owner, "impl", impl, IMPLS)
        if capturable:
            raise ValueError(f"{owner}: capturable must be False (the flat-buffer step needs no capture support)")
        if differentiable:
            raise ValueError(f"{owner}: differentiable must be False (the step runs under no_grad)")
        rule = self._rule(convention=convention, **hyper, **self._fixed)  # validates, fills the convention
        self._convention = convention
        self._impl = impl
        self._buckets: list[list[_Bucket]] = []
        self._rule_cache: dict = {}
        defaults = self._group_from_hyper(rule.h)
        defaults.update(
            maximize=maximize,
            nonfinite=nonfinite,
            skipped=0,
            foreach=foreach,
            fused=fused,
            capturable=False,
            differentiable=False,
        )
        super().__init__(params, defaults)

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
        pairs = hp.pair_names(self._rule.fields)
        kw = {}
        for k in self._rule_keys():
            v = group[k]
            kw[k] = tuple(_as_float(b) for b in v) if k in pairs else _as_float(v)
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
        check_choice(owner, "nonfinite", group["nonfinite"], NONFINITE_POLICIES)
        self._rule_for(group)  # ValueError naming the argument
        for p in group["params"]:
            if p.is_complex():
                raise ValueError(f"{owner}: complex parameters are not supported")
            if not p.is_floating_point():
                raise ValueError(f"{owner}: parameters must be floating point, got {p.dtype}")
        by_kind: dict = {}
        for p in group["params"]:
            by_kind.setdefault((p.dtype, p.device), []).append(p)
        self._buckets.append([_Bucket(ps) for ps in by_kind.values()])

    # -- gradients ------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the flat gradient buffers.

        Gradients that live in the flat buffer stay there as zero-filled views
        whatever ``set_to_none`` says (so that the next backward accumulates in
        place); other gradients are set to None (``set_to_none=True``) or zeroed.
        """
        for buckets in self._buckets:
            for b in buckets:
                b.flat_g.zero_()
                for i, p in enumerate(b.params):
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
        self._publish_state(b)

    def _publish_state(self, b: _Bucket):
        """Make ``self.state[p]`` hold views into the bucket's flat state."""
        names = self._names()
        for i, p in enumerate(b.params):
            st = self.state[p]
            st["step"] = torch.tensor(float(b.steps[i]), dtype=torch.float32)
            for name, buf in zip(names, b.state):
                if isinstance(buf, torch.Tensor):
                    st[name] = b.view(buf, i)

    def _sync_steps(self):
        for buckets in self._buckets:
            for b in buckets:
                if b.state is None:
                    continue
                for i, p in enumerate(b.params):
                    st = self.state.get(p)
                    if st is not None and "step" in st:
                        st["step"] = torch.tensor(float(b.steps[i]), dtype=torch.float32)

    def state_dict(self):
        self._sync_steps()
        return super().state_dict()

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        names = self._names()
        for group, buckets in zip(self.param_groups, self._buckets):
            for k, v in self.defaults.items():
                group.setdefault(k, v)
            rule = self._rule_for(group)
            for b in buckets:
                loaded = [self.state.get(p) or None for p in b.params]
                if not any(loaded):
                    b.state, b.steps = None, [0] * len(b.params)
                    continue
                fresh = list(rule.init_state(rule.h, b.flat_p))
                for j, name in enumerate(names):
                    if not isinstance(fresh[j], torch.Tensor) and any(
                        st and isinstance(st.get(name), torch.Tensor) for st in loaded
                    ):
                        fresh[j] = torch.zeros_like(b.flat_p)
                with torch.no_grad():
                    for i, st in enumerate(loaded):
                        if not st:
                            b.steps[i] = 0
                            continue
                        b.steps[i] = int(_as_float(st.get("step", 0)))
                        for j, name in enumerate(names):
                            v = st.get(name)
                            if isinstance(fresh[j], torch.Tensor) and isinstance(v, torch.Tensor):
                                b.view(fresh[j], i).copy_(v.to(fresh[j].device))
                b.state = tuple(fresh)
                self._publish_state(b)

    # -- the step -------------------------------------------------------------
    def _use_compiled(self, b: _Bucket) -> bool:
        return self._impl != "eager"

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every param group (``closure`` re-evaluates the loss, as in torch)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group, buckets in zip(self.param_groups, self._buckets):
            self._step_group(group, buckets)
        return loss

    def _step_group(self, group, buckets):
        owner = type(self).__name__
        rule = self._rule_for(group)
        h = rule.h
        policy = group["nonfinite"]
        maximize = group["maximize"]
        work = []
        for b in buckets:
            missing = b.gather_grads(owner)
            if len(missing) == len(b.params):
                continue
            if b.state is None:
                self._init_bucket_state(b, rule)
            work.append((b, missing))
        if not work:
            return
        fast_one = len(work) == 1 and not work[0][1] and len(set(work[0][0].steps)) == 1
        if policy != "ignore" and not fast_one:
            # check every gradient of the group before anything changes
            finite = all(bool(torch.isfinite(self._present_grads(b, miss)).all()) for b, miss in work)
            if not finite:
                self._nonfinite(group, policy, owner, max(max(b.steps) for b, _ in work) + 1)
                return
            policy = "ignore"
        for b, missing in work:
            if not missing and len(set(b.steps)) == 1:
                if not self._step_flat(b, rule, h, group, maximize, policy, owner):
                    return
            else:
                self._step_slices(b, missing, rule, h, maximize)

    @staticmethod
    def _present_grads(b, missing):
        if not missing:
            return b.flat_g
        return torch.cat([b.slot(b.flat_g, i) for i in range(len(b.params)) if i not in missing])

    def _nonfinite(self, group, policy, owner, t):
        if policy == "raise":
            raise NonFiniteGradientError(
                f"{owner}: gradient has non-finite values at step {t} "
                "(nonfinite='raise'; use 'skip' to skip such steps)"
            )
        group["skipped"] = group.get("skipped", 0) + 1

    def _split_hyper(self, h):
        """Numbers that may change from step to step (schedulers) vs flags, forms and zeros:
        a hyperparameter that is exactly 0 switches a term off (``if h.weight_decay != 0``),
        so it belongs to the compiled variant, not to its inputs."""
        static, num = {}, {}
        for f, v in zip(h._fields, h):
            if isinstance(v, float) and v != 0.0:
                num[f] = v
            else:
                static[f] = v
        return static, num

    def _step_flat(self, b: _Bucket, rule, h, group, maximize, policy, owner) -> bool:
        t = b.steps[0] + 1
        k = rule.terms(h, t)
        static, num = self._split_hyper(h)
        check = policy != "ignore"
        rule_cls = type(rule)
        # a step whose terms carry a True flag (SGD's first step) runs eagerly: same code,
        # and it spares a second compiled variant used once
        flagged = any(isinstance(v, bool) and v for v in k)
        compiled = self._use_compiled(b) and not flagged
        key_dt = (b.dtype, b.device.type)
        if compiled and (rule_cls, tuple(sorted(static.items())), maximize, check, True, *key_dt) in _FAILED:
            compiled = False
        if not compiled and check:
            if not bool(torch.isfinite(b.flat_g).all()):
                self._nonfinite(group, policy, owner, t)
                return False
            check = False
        state = b.state
        if compiled:
            kk = (
                type(k)(*(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in k))
                if isinstance(k, tuple) and hasattr(k, "_fields")
                else k
            )
            fn = _get_step(rule_cls, static, maximize, check, True, *key_dt)
            try:
                ok, rest = fn(num, kk, state, b.flat_g, b.flat_p)
            except Exception as e:
                if self._impl == "compiled":
                    raise
                _FAILED.add(fn.key)
                _STATS["fallbacks"] += 1
                warnings.warn(
                    f"{owner}: torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                    "running the rule eagerly (impl='eager')",
                    RuntimeWarning,
                    stacklevel=4,
                )
                return self._step_flat(b, rule, h, group, maximize, policy, owner)
            if check and not bool(ok):
                self._nonfinite(group, policy, owner, t)
                return False
        else:
            fn = _get_step(rule_cls, static, maximize, False, False, *key_dt)
            _, rest = fn(num, k, state, b.flat_g, b.flat_p)
        self._store_rest(b, rest)
        for i in range(len(b.steps)):
            b.steps[i] = t
        return True

    def _store_rest(self, b, rest):
        """State fields that were scalar placeholders and came back as tensors get buffers."""
        if not any(isinstance(v, torch.Tensor) for v in rest):
            return
        new = list(b.state)
        for j, v in enumerate(rest):
            if isinstance(v, torch.Tensor):
                new[j] = v.contiguous()
        b.state = tuple(new)
        self._publish_state(b)

    def _step_slices(self, b: _Bucket, missing, rule, h, maximize):
        """Parameter by parameter (some have no gradient, or their step counts differ): eager."""
        static, num = self._split_hyper(h)
        fn = _get_step(type(rule), static, maximize, False, False, b.dtype, b.device.type)
        grown = False
        for i in range(len(b.params)):
            if i in missing:
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
        if grown:
            self._publish_state(b)

    def __repr__(self):
        return super().__repr__()
