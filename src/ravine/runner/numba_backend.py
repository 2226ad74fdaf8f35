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
import hashlib
import inspect
import math
import os
import sys
import textwrap
import types
from collections import OrderedDict
from pathlib import Path

import numba
import numpy as np
from numba.extending import overload

from .. import _cache
from ..rules import ops
from ..rules.base import Rule
from ..rules.specialize import literals as _literals
from ..rules.specialize import specialized_source
from .result import CONVERGED, DIVERGED, MAX_STEPS, RUNNING


@overload(ops.sqrt)
def _sqrt(x):
    return lambda x: math.sqrt(x)


@overload(ops.sign)
def _sign(x):
    def impl(x):
        if x > 0:
            return 1.0
        if x < 0:
            return -1.0
        return 0.0 * x  # 0 stays 0, NaN stays NaN (as np.sign)

    return impl


@overload(ops.maximum)
def _maximum(a, b):
    def impl(a, b):
        if a != a:  # NaN propagates, as np.maximum
            return a
        if b != b:
            return b
        return a if a >= b else b

    return impl


@overload(ops.add_scaled)
def _add_scaled(x, a, y):
    return lambda x, a, y: x + a * y


@overload(ops.where)
def _where(c, a, b):
    return lambda c, a, b: a if c else b


@overload(ops.zeros_like)
def _zeros_like(x):
    return lambda x: 0.0 * x


@overload(ops.full_like)
def _full_like(x, v):
    return lambda x, v: v + 0.0 * x


_jit = lambda f: numba.njit(inline="always", error_model="numpy")(f)


def _imports_for(fn, skip=()) -> list[str]:
    """Import lines for the globals ``fn`` uses (NamedTuples, ops functions, math)."""
    lines = []
    for name in fn.__code__.co_names:
        if name in skip or name not in fn.__globals__:
            continue
        obj = fn.__globals__[name]
        mod = getattr(obj, "__module__", None) if not inspect.ismodule(obj) else None
        if inspect.ismodule(obj):
            lines.append(f"import {obj.__name__} as {name}")
        elif mod and getattr(obj, "__qualname__", None) and "<" not in obj.__qualname__:
            lines.append(f"from {mod} import {obj.__qualname__} as {name}")
        elif isinstance(obj, (int, float)):
            lines.append(f"{name} = {obj!r}")
    return lines


def _kernel_source(
    D: int,
    fields: tuple,
    placeholder: tuple,
    hyper_fields: tuple,
    scheduled: tuple,
    lookahead: bool,
    keep_state: bool,
    has_noise: bool,
    record_fields: tuple = (),
) -> str:
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
        if "theta" in record_fields:
            a(f"                X[{j}, i] = rec{j}.theta")
        else:
            a(f"                X[{j}, i] = x{j} + rec{j}.delta")
        for fi in live:
            a(f"                ST[{fi}, {j}, i] = rec{j}.{fields[fi]}")
    a("        recording = ri < REC.shape[0] and REC[ri] == t")
    a("        # stopping: divergence (non-finite or |θ| > div), tolerance; stopped ones leave the prefix")
    a("        i = 0")
    a("        while i < A:")
    a(f"            stop = {RUNNING}")
    a("            if t > 0:")
    fin = " and ".join(f"abs(X[{j}, i]) <= div" for j in range(D))  # False for NaN
    a(f"                if not ({fin}):")
    for j in range(D):
        a(f"                    X[{j}, i] = XP[{j}, i]")
    a(f"                    stop = {DIVERGED}")
    a(f"            if stop == {RUNNING} and (check or recording):")
    a(f"                gz = grad({', '.join(f'X[{j}, i]' for j in range(D))})")
    a(f"                if check and {norm('gz')} <= tol:")
    a(f"                    stop = {CONVERGED}")
    a(f"            if stop != {RUNNING}:")
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


def cache_dir() -> Path:
    """Where compiled kernels are kept across processes: the private ``kernels`` folder of the
    user's cache (``ravine._cache``: ``$RAVINE_CACHE_DIR``, else the platform's user cache),
    created 0700; one another user could write is refused (``UnsafeCacheError``)."""
    return _cache.folder("kernels")


def _digest(src: str) -> str:
    """A kernel module's name: the hash of its source and of the versions that compile it."""
    return hashlib.sha1((src + numba.__version__ + np.__version__).encode()).hexdigest()[:20]


def on_disk(digest: str) -> bool:
    """Whether Numba's cache holds the compiled kernel ``k_<digest>`` (False where there is no
    usable cache folder)."""
    try:
        return any((cache_dir() / "__pycache__").glob(f"k_{digest}.kernel-*.nbi"))
    except OSError:
        return False


def _module_source(rule: Rule, problem, fields, placeholder, scheduled, keep_state, has_noise) -> str:
    cls = type(rule)
    f_s, g_s = problem.scalar_functions()
    lit = dict((k, v) for k, v in _literals(rule.h) if k not in scheduled)
    funcs = {"_terms": cls.terms, "_update": cls.update}
    if "lookahead" in rule.needs:
        funcs["_lookahead"] = cls.lookahead
    head = [
        "# generated by ravine.runner.numba_backend: a rule's own functions with fixed flags, a problem's",
        "# scalar functions, and the loop around them. Safe to delete (rebuilt on demand).",
        "import math",
        "import numpy as np",
        "import numba",
        f"from {cls.Hyper.__module__} import {cls.Hyper.__qualname__} as Hyper",
        f"from {cls.State.__module__} import {cls.State.__qualname__} as State",
        "_jit = lambda f: numba.njit(error_model='numpy', cache=True)(f)",
    ]
    body = []
    for new, fn in funcs.items():
        head += _imports_for(fn)
        body.append(specialized_source(fn, lit, new))
        body.append(f"{new} = _jit({new})")
    for new, fn in (("_f", f_s), ("_g", g_s)):
        head += _imports_for(fn)
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        tree.body[0].name = new
        body.append(ast.unparse(tree))
        body.append(f"{new} = _jit({new})")
    kern = _kernel_source(
        problem.dim,
        fields,
        placeholder,
        cls.Hyper._fields,
        scheduled,
        "lookahead" in rule.needs,
        keep_state,
        has_noise,
        cls.Record._fields,
    )
    kern = (
        kern.replace("terms(", "_terms(")
        .replace("update(", "_update(")
        .replace("lookahead(", "_lookahead(")
        .replace(" grad(", " _g(")
        .replace("= f(", "= _f(")
    )
    body.append(kern)
    body.append("kernel = numba.njit(error_model='numpy', cache=True, nogil=True)(kernel)")
    return "\n".join(dict.fromkeys(head)) + "\n\n\n" + "\n\n\n".join(body) + "\n"


_BY_KEY: OrderedDict[tuple, object] = OrderedDict()
#: trajectories per thread below which one thread does all (thread start-up costs more)
_CHUNK_MIN = 2048
_MAX_KERNELS = 256
#: kernel modules kept on disk (each with Numba's index and object files); the least recently
#: used beyond this are deleted when a new one is written
_MAX_DISK_KERNELS = 256


def _prune_disk(folder: Path, keep: int = _MAX_DISK_KERNELS) -> None:
    """Delete the least recently used kernel modules (and their Numba cache files) beyond ``keep``."""
    try:
        mods = sorted(folder.glob("k_*.py"), key=lambda q: q.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in mods[keep:]:
        stem = old.stem
        for f in [old, *(folder / "__pycache__").glob(f"{stem}.*")]:
            try:
                f.unlink()
            except OSError:
                pass


def _kernel(rule: Rule, problem, fields, placeholder, scheduled, keep_state, has_noise):
    """The compiled kernel: from memory, else from the disk cache, else compiled and cached."""
    f_s, g_s = problem.scalar_functions()
    key = (type(rule), _literals(rule.h), g_s, problem.dim, fields, placeholder, scheduled, keep_state, has_noise)
    hit = _BY_KEY.get(key)
    if hit is not None:
        _BY_KEY.move_to_end(key)
        return hit
    kern = _kernel_from_source(rule, problem, fields, placeholder, scheduled, keep_state, has_noise)
    _BY_KEY[key] = kern
    while len(_BY_KEY) > _MAX_KERNELS:  # a long-running server sees many formulas
        _BY_KEY.popitem(last=False)
    return kern


def _kernel_from_source(rule: Rule, problem, fields, placeholder, scheduled, keep_state, has_noise):
    """The kernel's module, run from the source generated here — never from what a file holds.

    The module is written to ``k_<digest>.py`` in :func:`cache_dir` (Numba's ``cache=True``
    keys its compiled code on that file), and that file is re-hashed before use: a file whose
    content does not hash to its name (damaged or planted) is replaced, atomically, by the
    known source. The code executed is always the generated text, compiled under the file's
    name."""
    src = _module_source(rule, problem, fields, placeholder, scheduled, keep_state, has_noise)
    digest = _digest(src)
    if digest in _KERNELS:
        return _KERNELS[digest]
    while len(_KERNELS) >= _MAX_KERNELS:
        old = next(iter(_KERNELS))
        _KERNELS.pop(old)
        sys.modules.pop(f"ravine_kernel_{old}", None)
    name = f"ravine_kernel_{digest}"
    try:
        folder = cache_dir()
        path = folder / f"k_{digest}.py"
        try:
            known = _digest(path.read_bytes().decode("utf-8")) == digest
        except (OSError, UnicodeDecodeError):
            known = False
        if known:
            os.utime(path)  # recently used: kept by the pruning
        else:
            tmp = folder / f".k_{digest}.{os.getpid()}.tmp"
            tmp.write_text(src, encoding="utf-8")
            os.replace(tmp, path)
            _prune_disk(folder)
        code = compile(src, str(path), "exec")
    except OSError:  # no writable cache: compile in memory
        code = compile(src.replace("cache=True", "cache=False"), f"<ravine kernel {digest}>", "exec")
        path = None
    mod = types.ModuleType(name)
    if path is not None:
        mod.__file__ = str(path)
        sys.modules[name] = mod  # Numba's cache refers to the module by name
    try:
        exec(code, mod.__dict__)  # the source generated above from the rule's and the problem's own code
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _KERNELS[digest] = mod.kernel
    return mod.kernel


def run_group_numba(
    rule, problem, starts, steps, tol, divergence, rec_steps, keep_state, noise, sched, maximize, nonfinite
):
    if nonfinite == "raise" or nonfinite == "skip":
        # these policies act across the batch; the reference path implements them
        from .numpy_backend import _run_group_numpy

        return _run_group_numpy(
            rule, problem, starts, steps, tol, divergence, rec_steps, keep_state, noise, sched, maximize, nonfinite
        )
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
    SCHED = np.stack([sched[k] for k in scheduled]).astype(np.float64) if scheduled else np.zeros((1, 1))
    kern = _kernel(rule, problem, fields, placeholder, scheduled, keep_state, noise is not None)
    HF = tuple(rule.h)
    R = len(rec_steps)
    nf = len(fields) if keep_state else 0
    rec = np.asarray(rec_steps, dtype=np.int64)
    tol_ = -1.0 if tol is None else float(tol)
    sign = -1.0 if maximize else 1.0

    def chunk(lo, hi):
        """Trajectories lo..hi-1: independent of the others, so chunks run in parallel threads."""
        n = hi - lo
        X = np.array(starts[lo:hi].T, order="C")  # a copy: the kernel writes X in place
        STc = np.ascontiguousarray(ST[:, :, lo:hi])
        if noise is not None:
            NOISE = np.ascontiguousarray(noise[:, lo:hi].transpose(0, 2, 1))
        else:
            NOISE = np.broadcast_to(np.zeros((), dtype=dtype), (max(steps, 1), D, n))
        out = dict(
            OUT_X=np.empty((R, D, n), dtype=dtype),
            OUT_L=np.empty((R, n), dtype=dtype),
            OUT_G=np.empty((R, n), dtype=dtype),
            OUT_S=np.empty((max(nf, 1), R if keep_state else 1, D, n), dtype=dtype),
            STATUS=np.full(n, RUNNING, dtype=np.int8),
            STOP=np.full(n, steps, dtype=np.int64),
        )
        kern(
            HF,
            SCHED,
            X,
            STc,
            NOISE,
            steps,
            tol_,
            float(divergence),
            rec,
            out["OUT_X"],
            out["OUT_L"],
            out["OUT_G"],
            out["OUT_S"],
            out["STATUS"],
            out["STOP"],
            sign,
        )
        return out

    # one thread per core for large batches (the kernel releases the GIL); results do not depend on it
    parts = min(os.cpu_count() or 1, S // _CHUNK_MIN) if steps > 0 else 1
    if parts > 1:
        from concurrent.futures import ThreadPoolExecutor

        bounds = np.linspace(0, S, parts + 1).astype(int)
        with ThreadPoolExecutor(parts) as pool:
            outs = list(pool.map(lambda i: chunk(bounds[i], bounds[i + 1]), range(parts)))
    else:
        outs = [chunk(0, S)]
    cat = lambda k, ax: outs[0][k] if len(outs) == 1 else np.concatenate([o[k] for o in outs], axis=ax)
    OUT_X, OUT_L, OUT_G, OUT_S = cat("OUT_X", 2), cat("OUT_L", 1), cat("OUT_G", 1), cat("OUT_S", 3)
    STATUS, STOP = cat("STATUS", 0), cat("STOP", 0)
    STATUS[STATUS == RUNNING] = MAX_STEPS
    state = {}
    if keep_state:
        for fi, fname in enumerate(fields):
            if not placeholder[fi]:
                state[fname] = OUT_S[fi].transpose(0, 2, 1)
    return dict(theta=OUT_X.transpose(0, 2, 1), loss=OUT_L, grad_norm=OUT_G, status=STATUS, stop_step=STOP, state=state)
