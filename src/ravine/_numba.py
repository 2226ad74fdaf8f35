"""Compile a rule's ``update`` and a problem's scalar gradient into one loop.

The rule is not rewritten: its own ``init_state``/``terms``/``update`` functions
are handed to ``numba.njit`` and called on scalars, one coordinate at a time,
inside a generated kernel that loops over steps (outer) and trajectories
(inner). Only the glue — unpacking the D coordinates and the State fields into
scalars and writing them back — is generated, from the field names. The
functions of ``ravine.rules.ops`` get Numba overloads here.

Per step and group the kernel computes ``terms(h, t)`` once (bias corrections
and the like), exactly as the NumPy path does, so both paths give the same
numbers up to the order of floating-point operations Numba chooses (no
fastmath: none is allowed to reorder).
"""
from __future__ import annotations

import ast
import inspect
import math
import textwrap
from functools import lru_cache

import numba
import numpy as np
from numba.extending import overload

from .rules import ops
from .rules.base import Rule

_RUNNING, _MAX_STEPS, _CONVERGED, _DIVERGED = 0, 1, 2, 3


@overload(ops.sqrt, inline="always")
def _sqrt(x):
    return lambda x: math.sqrt(x)


@overload(ops.sign, inline="always")
def _sign(x):
    def impl(x):
        if x > 0:
            return 1.0
        if x < 0:
            return -1.0
        return 0.0 * x  # 0 stays 0, NaN stays NaN (as np.sign)
    return impl


@overload(ops.maximum, inline="always")
def _maximum(a, b):
    def impl(a, b):
        if a != a:  # NaN propagates, as np.maximum
            return a
        if b != b:
            return b
        return a if a >= b else b
    return impl


@overload(ops.where, inline="always")
def _where(c, a, b):
    return lambda c, a, b: a if c else b


@overload(ops.zeros_like, inline="always")
def _zeros_like(x):
    return lambda x: 0.0 * x


@overload(ops.full_like, inline="always")
def _full_like(x, v):
    return lambda x, v: v + 0.0 * x


_jit = lambda f: numba.njit(inline="always", error_model="numpy")(f)  # noqa: E731


def _fold(tree: ast.AST, literals: dict) -> ast.AST:
    """Partially evaluate a rule function for fixed flags: ``h.<name>`` → constant,
    then fold comparisons, ``not``/``and``/``or`` and ``if``/``x if c else y`` on
    constants. The equations are untouched; only dead branches go."""

    class Fold(ast.NodeTransformer):
        def visit_Attribute(self, node):
            self.generic_visit(node)
            if isinstance(node.value, ast.Name) and node.value.id == "h" and node.attr in literals:
                return ast.copy_location(ast.Constant(literals[node.attr]), node)
            return node

        def visit_Compare(self, node):
            self.generic_visit(node)
            parts = [node.left, *node.comparators]
            if all(isinstance(x, ast.Constant) for x in parts) and len(node.ops) == 1:
                ops = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
                       ast.Lt: lambda a, b: a < b, ast.Gt: lambda a, b: a > b,
                       ast.LtE: lambda a, b: a <= b, ast.GtE: lambda a, b: a >= b}
                op = ops.get(type(node.ops[0]))
                if op is not None:
                    return ast.copy_location(ast.Constant(op(parts[0].value, parts[1].value)), node)
            return node

        def visit_UnaryOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Constant):
                return ast.copy_location(ast.Constant(not node.operand.value), node)
            return node

        def visit_BoolOp(self, node):
            self.generic_visit(node)
            if all(isinstance(v, ast.Constant) for v in node.values):
                vals = [v.value for v in node.values]
                return ast.copy_location(ast.Constant(all(vals) if isinstance(node.op, ast.And) else any(vals)),
                                         node)
            return node

        def visit_IfExp(self, node):
            self.generic_visit(node)
            if isinstance(node.test, ast.Constant):
                return node.body if node.test.value else node.orelse
            return node

        def visit_If(self, node):
            self.generic_visit(node)
            if isinstance(node.test, ast.Constant):
                body = node.body if node.test.value else node.orelse
                return body or [ast.Pass()]
            return node

    return ast.fix_missing_locations(Fold().visit(tree))


@lru_cache(maxsize=None)
def _specialized(fn, literal_items: tuple):
    """``fn`` (a rule's static function) compiled for fixed flags ``literal_items``."""
    literals = dict(literal_items)
    src = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(src)
    tree.body[0].decorator_list = []
    tree = _fold(tree, literals)
    ns = dict(fn.__globals__)
    exec(compile(tree, inspect.getsourcefile(fn) or "<rule>", "exec"), ns)  # the rule's own source
    return _jit(ns[tree.body[0].name])


def _literals(h) -> tuple:
    """Flags and forms (bools, strings, ints) and hyperparameters that are exactly 0
    become compile-time constants; other numbers stay runtime values, so a sweep
    over lr or β reuses one compiled kernel."""
    return tuple((k, v) for k, v in h._asdict().items()
                 if not isinstance(v, float) or v == 0.0)


def _kernel_source(D: int, fields: tuple, placeholder: tuple, hyper_fields: tuple, scheduled: tuple,
                   lookahead: bool, keep_state: bool, has_noise: bool) -> str:
    """The glue: loops, unpacking of coordinates and state fields into scalars.

    Arrays are coordinate-major (X[j, i], ST[field, j, i]). Running trajectories
    are kept in a contiguous prefix [0, A) of the arrays (PERM maps positions to
    trajectory numbers), so the hot loop has no masks or branches and the
    compiler vectorizes it across trajectories; a trajectory that stops is
    swapped behind the prefix. A diverged trajectory is put back to its last
    finite point (kept in XP).
    """
    xs = [f"x{j}" for j in range(D)]
    live = [fi for fi in range(len(fields)) if not placeholder[fi]]
    L = []
    a = L.append

    def norm(v):
        return f"math.sqrt({' + '.join(f'{v}[{j}] * {v}[{j}]' for j in range(D))})"

    a("def kernel(HF, SCHED, X, ST, NOISE, T, tol, div, REC, OUT_X, OUT_L, OUT_G, OUT_S, STATUS, STOP, sign):")
    a("    S = X.shape[1]")
    a("    XP = np.empty_like(X)")
    a("    PERM = np.arange(S)")
    a("    A = S")
    a("    check = tol >= 0.0")
    a("    ri = 0")
    a("    for t in range(0, T + 1):")
    a("        if t > 0:")
    args = []
    for fi, name in enumerate(hyper_fields):
        if name in scheduled:
            args.append(f"SCHED[{scheduled.index(name)}, t - 1]")
        else:
            args.append(f"HF[{fi}]")
    a(f"            h = Hyper({', '.join(args)})")
    a("            k = terms(h, t)")
    a("            for i in range(A):")
    for j in range(D):
        a(f"                x{j} = X[{j}, i]")
    for j in range(D):
        parts = [("0.0" if placeholder[fi] else f"ST[{fi}, {j}, i]") for fi in range(len(fields))]
        a(f"                st{j} = State({', '.join(parts)}{',' if len(parts) == 1 else ''})")
    if lookahead:
        a(f"                gg = grad({', '.join(f'lookahead(h, st{j}, x{j})' for j in range(D))})")
    else:
        a(f"                gg = grad({', '.join(xs)})")
    for j in range(D):
        noise = f" + NOISE[t - 1, {j}, PERM[i]]" if has_noise else ""
        a(f"                rec{j} = update(h, st{j}, sign * gg[{j}]{noise}, x{j}, k)")
        a(f"                XP[{j}, i] = x{j}")
        a(f"                X[{j}, i] = x{j} + rec{j}.delta")
        for fi in live:
            a(f"                ST[{fi}, {j}, i] = rec{j}.{fields[fi]}")
    a("        recording = ri < REC.shape[0] and REC[ri] == t")
    a("        # stopping: divergence (non-finite or |θ| > div), tolerance; stopped ones leave the prefix")
    a("        i = 0")
    a("        while i < A:")
    a("            stop = 0")
    a("            if t > 0:")
    fin = " and ".join(f"abs(X[{j}, i]) <= div" for j in range(D))  # False for NaN
    a(f"                if not ({fin}):")
    for j in range(D):
        a(f"                    X[{j}, i] = XP[{j}, i]")
    a("                    stop = 3")
    a("            if stop == 0 and (check or recording):")
    a(f"                gz = grad({', '.join(f'X[{j}, i]' for j in range(D))})")
    a(f"                if check and {norm('gz')} <= tol:")
    a("                    stop = 2")
    a("            if stop != 0:")
    a("                p = PERM[i]")
    a("                STATUS[p] = stop")
    a("                STOP[p] = t")
    a("                A -= 1")
    a("                PERM[i], PERM[A] = PERM[A], PERM[i]")
    for j in range(D):
        a(f"                X[{j}, i], X[{j}, A] = X[{j}, A], X[{j}, i]")
        a(f"                XP[{j}, i], XP[{j}, A] = XP[{j}, A], XP[{j}, i]")
        for fi in live:
            a(f"                ST[{fi}, {j}, i], ST[{fi}, {j}, A] = ST[{fi}, {j}, A], ST[{fi}, {j}, i]")
    a("            else:")
    a("                i += 1")
    a("        if recording:")
    a("            for i in range(S):")
    a("                p = PERM[i]")
    a(f"                gz = grad({', '.join(f'X[{j}, i]' for j in range(D))})")
    for j in range(D):
        a(f"                OUT_X[ri, {j}, p] = X[{j}, i]")
    a(f"                OUT_L[ri, p] = f({', '.join(f'X[{j}, i]' for j in range(D))})")
    a(f"                OUT_G[ri, p] = {norm('gz')}")
    if keep_state:
        for fi in live:
            for j in range(D):
                a(f"                OUT_S[{fi}, ri, {j}, p] = ST[{fi}, {j}, i]")
    a("            ri += 1")
    a("        if A == 0 and not recording and ri >= REC.shape[0]:")
    a("            break")
    a("    # put the final state back in trajectory order")
    a("    X2 = X.copy()")
    a("    ST2 = ST.copy()")
    a("    for i in range(S):")
    a("        X[:, PERM[i]] = X2[:, i]")
    a("        ST[:, :, PERM[i]] = ST2[:, :, i]")
    return "\n".join(L) + "\n"


_KERNELS: dict = {}


def _kernel(rule: Rule, problem, fields, placeholder, scheduled, keep_state, has_noise):
    cls = type(rule)
    f_s, g_s = problem.scalar_functions()
    lit = tuple((k, v) for k, v in _literals(rule.h) if k not in scheduled)
    key = (cls, id(g_s), problem.dim, fields, placeholder, scheduled, keep_state, has_noise, lit)
    if key in _KERNELS:
        return _KERNELS[key]
    terms = _specialized(cls.terms, lit) if cls.terms is not Rule.terms else _jit(cls.terms)
    update = _specialized(cls.update, lit)
    lookahead = _specialized(cls.lookahead, lit) if "lookahead" in rule.needs else None
    src = _kernel_source(problem.dim, fields, placeholder, cls.Hyper._fields, scheduled,
                         "lookahead" in rule.needs, keep_state, has_noise)
    ns = {"math": math, "np": np, "Hyper": cls.Hyper, "State": cls.State, "terms": terms, "update": update,
          "lookahead": lookahead, "f": _jit(f_s), "grad": _jit(g_s)}
    code = compile(src, f"<ravine kernel {cls.__name__} × {problem.name}>", "exec")
    exec(code, ns)  # the generated glue only; it holds no user text
    kern = numba.njit(error_model="numpy")(ns["kernel"])
    _KERNELS[key] = kern
    return kern


def run_group_numba(rule, problem, starts, steps, tol, divergence, rec_steps, keep_state, noise, sched,
                    maximize, nonfinite):
    if nonfinite == "raise" or nonfinite == "skip":
        # these policies act across the batch; the reference path implements them
        from .runner import _run_group_numpy

        return _run_group_numpy(rule, problem, starts, steps, tol, divergence, rec_steps, keep_state,
                                noise, sched, maximize, nonfinite)
    S, D = starts.shape
    dtype = starts.dtype
    st0 = rule.init_state(rule.h, starts)
    fields = tuple(rule.State._fields)
    placeholder = tuple(np.ndim(getattr(st0, f)) == 0 for f in fields)
    ST = np.zeros((max(len(fields), 1), D, S), dtype=dtype)
    for fi, fname in enumerate(fields):
        if not placeholder[fi]:
            ST[fi] = np.asarray(getattr(st0, fname)).T
    scheduled = tuple(sched)
    SCHED = (np.stack([sched[k] for k in scheduled]).astype(np.float64) if scheduled
             else np.zeros((1, 1)))
    X = np.array(starts.T, order="C")  # a copy: the kernel writes X in place
    R = len(rec_steps)
    OUT_X = np.empty((R, D, S), dtype=dtype)
    OUT_L = np.empty((R, S), dtype=dtype)
    OUT_G = np.empty((R, S), dtype=dtype)
    nf = len(fields) if keep_state else 0
    OUT_S = np.empty((max(nf, 1), R if keep_state else 1, D, S), dtype=dtype)
    STATUS = np.zeros(S, dtype=np.int8)
    STOP = np.full(S, steps, dtype=np.int64)
    if noise is not None:
        NOISE = np.ascontiguousarray(noise.transpose(0, 2, 1))
    else:
        NOISE = np.broadcast_to(np.zeros((), dtype=dtype), (max(steps, 1), D, S))
    kern = _kernel(rule, problem, fields, placeholder, scheduled, keep_state, noise is not None)
    HF = tuple(rule.h)
    kern(HF, SCHED, X, ST, NOISE, steps, -1.0 if tol is None else float(tol), float(divergence),
         np.asarray(rec_steps, dtype=np.int64), OUT_X, OUT_L, OUT_G, OUT_S, STATUS, STOP,
         -1.0 if maximize else 1.0)
    STATUS[STATUS == _RUNNING] = _MAX_STEPS
    state = {}
    if keep_state:
        for fi, fname in enumerate(fields):
            if not placeholder[fi]:
                state[fname] = OUT_S[fi].transpose(0, 2, 1)
    return dict(theta=OUT_X.transpose(0, 2, 1), loss=OUT_L, grad_norm=OUT_G, status=STATUS, stop_step=STOP, state=state)
