"""Python traced once into one graph of ATen operations and compiled by inductor, called
without Dynamo (what the batched benchmark's compiled step and evaluations run).

``make_fx`` traces a function for arguments of one structure — vmap's batching rules and
autograd's backward are resolved while tracing — and inductor's ``compile_fx`` compiles the
graph (:func:`compile_graph`). :class:`Traced` is the result: it takes arguments of the same
structure, tensor shapes and dtypes and non-tensor values (:func:`signature` says which; the
caller keys its cache by it) and flattens them itself (:func:`flat`: a few microseconds
where ``tree_flatten`` takes ~100 per call). Nothing here knows about rules or models.
"""

from __future__ import annotations

__all__ = ["Traced", "compile_graph", "signature", "flat", "is_tensor"]


def compile_graph(gm, example):
    """Inductor's compiler for a traced ATen graph (what ``torch.compile`` runs after Dynamo):
    the result takes the graph's tensors positionally, without Dynamo's guards — the caller
    keys every compiled step by the shapes, dtypes and constants it was traced for."""
    from torch._guards import TracingContext, tracing
    from torch._inductor.compile_fx import compile_fx
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    # inside a tracing context with a shape environment, as Dynamo calls it: without one,
    # inductor's graph cache is bypassed and every process compiles from scratch
    with tracing(TracingContext(FakeTensorMode(shape_env=ShapeEnv()))):
        return compile_fx(gm, example)


_SLOT = object()  # an output position a tensor of the compiled graph fills


class Traced:
    """``fn`` traced once (``make_fx``) for arguments of one structure, and compiled: called with
    arguments of the same structure, tensor shapes and dtypes, and non-tensor values."""

    def __init__(self, fn, args):
        from torch.fx.experimental.proxy_tensor import make_fx
        from torch.utils._pytree import tree_flatten

        leaves, self.spec = tree_flatten(args)
        self.is_t = [is_tensor(x) for x in leaves]
        consts = [None if t else x for x, t in zip(leaves, self.is_t)]
        out_meta: dict = {}

        def flat_fn(*ts):
            from torch.utils._pytree import tree_flatten, tree_unflatten

            it = iter(ts)
            out = fn(*tree_unflatten([next(it) if t else c for t, c in zip(self.is_t, consts)], self.spec))
            ol, out_meta["spec"] = tree_flatten(out)
            out_meta["consts"] = [_SLOT if is_tensor(o) else o for o in ol]
            return [o for o in ol if is_tensor(o)]

        if [id(x) for x in flat(args, [])] != [id(x) for x in leaves]:  # the fast flattening below
            raise TypeError("tracing: arguments of a structure flat() does not flatten as pytree does")
        ts = [x for x, t in zip(leaves, self.is_t) if t]
        gm = make_fx(flat_fn)(*ts)
        self.fn = compile_graph(gm, ts)
        self.out_spec, self.out_consts = out_meta["spec"], out_meta["consts"]
        # fn returned a flat tuple or list of leaves: returned as a list, without unflattening
        self.flat_out = self.out_spec.type in (tuple, list) and all(c.num_leaves == 1 for c in self.out_spec.children())

    def __call__(self, *args):
        from torch.utils._pytree import tree_unflatten

        outs = iter(self.fn(*[x for x, t in zip(flat(args, []), self.is_t) if t]))
        out = [next(outs) if c is _SLOT else c for c in self.out_consts]
        return out if self.flat_out else tree_unflatten(out, self.out_spec)


def flat(x, out: list) -> list:
    """The leaves of nested tuples (named too), lists and dicts, in pytree's order (a few
    microseconds where ``tree_flatten`` takes ~100 per step)."""
    if isinstance(x, dict):
        for v in x.values():
            flat(v, out)
    elif isinstance(x, (tuple, list)):
        for v in x:
            flat(v, out)
    else:
        out.append(x)
    return out


def is_tensor(x) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


def signature(args) -> tuple:
    """What a traced step is specialized for: the structure, each tensor's shape and dtype, and
    every non-tensor value."""
    from torch.utils._pytree import tree_flatten

    leaves, spec = tree_flatten(args)
    return (str(spec),) + tuple((tuple(x.shape), x.dtype) if is_tensor(x) else (type(x).__name__, x) for x in leaves)
