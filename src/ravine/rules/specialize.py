"""Partial evaluation of a rule's functions for fixed flags (used by the adapters).

``fold(tree, literals)`` replaces ``h.<name>`` by the constant in ``literals`` and folds
the comparisons, ``not``/``and``/``or``, ``if`` and ``x if c else y`` that become
constant; the equations themselves are untouched, only dead branches go. The Numba
runner compiles the result; ``ravine.optim`` uses :func:`attributes_used` to pass the
compiled torch step only the hyperparameters and terms a variant really reads.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar, cast

__all__ = [
    "is_literal",
    "literals",
    "fold",
    "folded_tree",
    "specialized_function",
    "specialized_source",
    "attributes_used",
]

_Tree = TypeVar("_Tree", bound=ast.AST)


def fold(tree: _Tree, literals: Mapping[str, Any], nonzero: Collection[str] = frozenset()) -> _Tree:
    """Partially evaluate a rule function for fixed flags: ``h.<name>`` → constant,
    then fold comparisons, ``not``/``and``/``or`` and ``if``/``x if c else y`` on
    constants. The equations are untouched; only dead branches go."""

    class Fold(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.value, ast.Name) and node.value.id == "h" and node.attr in literals:
                return ast.copy_location(ast.Constant(literals[node.attr]), node)
            return node

        def visit_Compare(self, node: ast.Compare) -> ast.AST:
            self.generic_visit(node)
            if (
                len(node.ops) == 1
                and isinstance(node.ops[0], (ast.Eq, ast.NotEq))
                and isinstance(node.left, ast.Attribute)
                and isinstance(node.left.value, ast.Name)
                and node.left.value.id == "h"
                and node.left.attr in nonzero
                and isinstance(node.comparators[0], ast.Constant)
                and node.comparators[0].value == 0
            ):
                # a hyperparameter known not to be 0 (``h.x != 0`` → True)
                return ast.copy_location(ast.Constant(isinstance(node.ops[0], ast.NotEq)), node)
            parts = [node.left, *node.comparators]
            consts = [x for x in parts if isinstance(x, ast.Constant)]
            if len(consts) == len(parts) and len(node.ops) == 1:
                ops: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
                    ast.Eq: lambda a, b: a == b,
                    ast.NotEq: lambda a, b: a != b,
                    ast.Lt: lambda a, b: a < b,
                    ast.Gt: lambda a, b: a > b,
                    ast.LtE: lambda a, b: a <= b,
                    ast.GtE: lambda a, b: a >= b,
                }
                op = ops.get(type(node.ops[0]))
                if op is not None:
                    return ast.copy_location(ast.Constant(op(consts[0].value, consts[1].value)), node)
            return node

        def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Constant):
                return ast.copy_location(ast.Constant(not node.operand.value), node)
            return node

        def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
            self.generic_visit(node)
            consts = [v for v in node.values if isinstance(v, ast.Constant)]
            if len(consts) == len(node.values):
                vals = [v.value for v in consts]
                return ast.copy_location(ast.Constant(all(vals) if isinstance(node.op, ast.And) else any(vals)), node)
            return node

        def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.test, ast.Constant):
                return node.body if node.test.value else node.orelse
            return node

        def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt]:
            self.generic_visit(node)
            if isinstance(node.test, ast.Constant):
                body = node.body if node.test.value else node.orelse
                return body or [ast.Pass()]
            return node

    out: _Tree = ast.fix_missing_locations(Fold().visit(tree))
    return out


def folded_tree(
    fn: Callable[..., Any], literals: Mapping[str, Any], nonzero: Collection[str] = frozenset()
) -> ast.Module:
    """The AST of ``fn`` (a rule's static function) with ``literals`` folded in; comparisons
    of the hyperparameters in ``nonzero`` against 0 fold too."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    fdef = cast(ast.FunctionDef, tree.body[0])  # the source of one def
    fdef.decorator_list = []
    # annotations name the rule's NamedTuples; the folded code runs where they may not be bound
    fdef.returns = None
    for a in (*fdef.args.posonlyargs, *fdef.args.args, *fdef.args.kwonlyargs):
        a.annotation = None
    return fold(tree, literals, nonzero)


def specialized_function(
    fn: Callable[..., Any], literals: Mapping[str, Any], nonzero: Collection[str] = frozenset()
) -> tuple[Callable[..., Any], ast.Module]:
    """``(function, tree)``: ``fn`` with ``literals`` folded in, compiled as Python in ``fn``'s
    own globals and file name (so tracebacks and ``torch.compile`` point at the rule's source),
    and its folded AST (for :func:`attributes_used`). What ``ravine.optim``'s compiled steps and
    the batched benchmark run."""
    tree = folded_tree(fn, literals, nonzero=nonzero)
    ns = dict(fn.__globals__)
    exec(compile(tree, inspect.getsourcefile(fn) or "<rule>", "exec"), ns)  # the rule's own code
    return ns[cast(ast.FunctionDef, tree.body[0]).name], tree


def is_literal(value: Any) -> bool:
    """Whether a hyperparameter's value is compile-time: a flag or form (bool, string, int) or a
    number that is exactly 0 (it switches a term off: ``if h.weight_decay != 0``). Any other
    float stays a runtime input, so a sweep over η or β reuses one compiled variant."""
    return not isinstance(value, float) or value == 0.0


def literals(h: Any) -> tuple[tuple[str, Any], ...]:
    """The compile-time part of hyperparameters ``h`` (the fields :func:`is_literal` keeps),
    in field order. The key of every compiled variant: the compiled runner's kernels,
    ``ravine sweep`` (which variants a sweep compiles), the explorer's warm set and
    hyperparameter map, ``ravine.optim``'s steps, the batched benchmark's step."""
    return tuple((k, v) for k, v in h._asdict().items() if is_literal(v))


def specialized_source(fn: Callable[..., Any], literals: Mapping[str, Any], new_name: str) -> str:
    """The source of ``fn`` with ``literals`` folded in, renamed ``new_name`` (what the
    compiled runner's generated kernels contain)."""
    tree = folded_tree(fn, literals)
    cast(ast.FunctionDef, tree.body[0]).name = new_name
    return ast.unparse(tree)


def attributes_used(tree: ast.AST, name: str) -> set[str]:
    """The attributes read from the variable ``name`` in ``tree`` (e.g. {"lr", "beta1"} for h)."""
    return {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == name
    }
