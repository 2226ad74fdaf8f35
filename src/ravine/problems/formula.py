"""A safe parser for user-typed formulas such as ``(1-x)^2 + 100*(y-x^2)^2``.

The text is NEVER evaluated, executed or compiled, and never handed to ``sympy.sympify`` or
``parse_expr``.  It is parsed with ``ast.parse(text, mode="eval")`` (which only builds a syntax
tree) and the tree is walked against a whitelist; the sympy expression is then built node by
node from the whitelisted tree.

Grammar (a subset of Python expression syntax)::

    expr     := number | name | constant | expr OP expr | -expr | +expr | (expr) | call
    OP       := +  -  *  /  **  ^          (^ means power, as students type it)
    constant := pi | e
    call     := FUNCTION(expr[, expr ...])  with positional arguments and the right arity
    FUNCTION := sin cos tan exp log ln sqrt abs tanh sinh cosh atan arctan sigmoid

Anything else (attribute access, subscripts, lambdas, comprehensions, strings, f-strings,
keyword or starred arguments, comparisons, boolean operators, ``:=``, names starting with an
underscore, unknown names or functions) raises :class:`FormulaError`, a ``ValueError`` whose
message is a single line naming the parameter, what was found and what is allowed.

Limits, checked before anything expensive is built:

* at most 2000 characters (checked before parsing),
* an expression tree at most 40 levels deep with at most 400 nodes,
* numeric literals with ``|v| <= 1e12``,
* exponents free of variables are folded numerically (in floats, with overflow guards) and
  must satisfy ``|exponent| <= 100`` - so ``9**9**9`` and ``2**(10**10)`` are rejected without
  being computed; constant bases with a variable exponent (``2**x``) are fine,
* every constant subexpression must be a finite real float64 (``exp(1000)``, ``1/0``,
  ``sqrt(-1)`` and ``log(0)`` are rejected),
* at most 8 variables, named by identifiers that do not start with an underscore.

Literals are converted to exact sympy rationals (``0.05`` becomes ``1/20``), so that
derivatives are exact.  All variables are real sympy symbols.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from . import _hints

if TYPE_CHECKING:  # pragma: no cover
    import sympy

__all__ = [
    "FormulaError",
    "parse_formula",
    "check",
    "FUNCTIONS",
    "CONSTANTS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_LITERAL",
    "MAX_EXPONENT",
    "MAX_VARIABLES",
    "MAX_TREE_DEPTH",
    "MAX_TREE_NODES",
]

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_NODES = 400
MAX_LITERAL = 1e12
MAX_EXPONENT = 100
MAX_VARIABLES = 8
#: the sympy tree of the built expression (``sigmoid`` is four levels: 1/(1 + exp(-a)))
MAX_TREE_DEPTH = 60
MAX_TREE_NODES = 2000
#: a constant subexpression stays exact up to this many sympy nodes (see ``_Builder.exact``)
MAX_EXACT_NODES = 24
#: rational exponents p/q stay exact up to q = MAX_ROOT (x**(1/3)); others are floats
MAX_ROOT = 12


class FormulaError(ValueError):
    """A formula (or its variable list) was rejected; the message is one line."""


# --------------------------------------------------------------------------- whitelist


def _sigmoid_float(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    z = math.exp(v)
    return z / (1.0 + z)


def _sympy_function(name: str) -> Callable[..., Any]:
    """The sympy builder for a whitelisted function name (imports sympy lazily)."""
    import sympy

    if name == "sigmoid":
        return lambda a: 1 / (1 + sympy.exp(-a))
    builder: Callable[..., Any] = {
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "exp": sympy.exp,
        "log": sympy.log,
        "ln": sympy.log,
        "sqrt": sympy.sqrt,
        "abs": sympy.Abs,
        "tanh": sympy.tanh,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "atan": sympy.atan,
        "arctan": sympy.atan,
    }[name]
    return builder


#: Whitelisted functions: name -> (arity, float implementation used for constant folding).
FUNCTIONS: dict[str, tuple[int, Callable[[float], float]]] = {
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tan": (1, math.tan),
    "exp": (1, math.exp),
    "log": (1, math.log),
    "ln": (1, math.log),
    "sqrt": (1, math.sqrt),
    "abs": (1, abs),
    "tanh": (1, math.tanh),
    "sinh": (1, math.sinh),
    "cosh": (1, math.cosh),
    "atan": (1, math.atan),
    "arctan": (1, math.atan),
    "sigmoid": (1, _sigmoid_float),
}

#: Whitelisted named constants (``π`` is read as ``pi``).
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "\u03c0": math.pi}

#: Names people type for a constant that the grammar does not have (refused with a message
#: rather than read as a variable).
NOT_CONSTANTS: dict[str, str] = {
    "inf": "infinity is not a number here",
    "infinity": "infinity is not a number here",
    "oo": "infinity is not a number here",
    "nan": "NaN is not a number here",
    "tau": "write 2*pi",
    "E": "the constant is written e",
    "PI": "the constant is written pi",
    "Pi": "the constant is written pi",
}

#: Greek letters allowed in names: those that do not look like a Latin letter (no ο ρ ν υ ι κ χ
#: γ ω, which pass for o p v u i k x y w)
GREEK = "αβδεζηθλμξπσςτφψΓΔΘΛΞΠΣΦΨΩ"
_ASCII_NAME = re.compile(rf"[A-Za-z{GREEK}][A-Za-z0-9_{GREEK}]*")


def _describe_char(name: str) -> str:
    """The first non-ASCII character of a name, as U+XXXX and its Unicode name."""
    for ch in name:
        if ord(ch) > 127 and ch not in GREEK:
            return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"
    return ""  # pragma: no cover


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_OTHER_BINOPS = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}

_ALLOWED = (
    "allowed are numbers, the variables, + - * / ** ^ and parentheses, the constants pi and e, "
    "and the functions " + ", ".join(sorted(FUNCTIONS)) + " (positional arguments only)"
)

# Kinds of violation that matter most are reported first (before e.g. a tuple literal).
_RANK_SECURITY = 0
_RANK_SYNTAX = 1


def _err(param: str, message: str) -> FormulaError:
    return FormulaError(f"{param}: {message}")


def _one_line(text: str, limit: int = 40) -> str:
    """Quote a snippet of user text safely on one line."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3] + "..."
    if "'" in cleaned and '"' not in cleaned:
        return '"' + cleaned + '"'
    return "'" + cleaned.replace("'", "\\'") + "'"


# --------------------------------------------------------------------------- source positions


class _Source:
    """The user's text and the text handed to ``ast.parse`` (with ``^`` turned into ``**``).

    Maps AST positions (line, UTF-8 byte column) back to character positions in the user's
    original text, for error messages.
    """

    def __init__(self, original: str) -> None:
        self.original = original
        pieces = []
        self._orig_index: list[int] = []  # parsed-text char index -> original char index
        for i, ch in enumerate(original):
            if ch == "^":
                pieces.append("**")
                self._orig_index.extend((i, i))
            else:
                pieces.append(ch)
                self._orig_index.append(i)
        self._orig_index.append(len(original))
        self.parsed = "".join(pieces)
        self._line_starts = [0]
        for m in re.finditer("\n", self.parsed):
            self._line_starts.append(m.end())
        self.multiline = "\n" in original.strip()

    def char_index(self, lineno: int, col_offset: int) -> int:
        """Original-text character index of an AST (lineno, byte col_offset) position."""
        start = self._line_starts[min(max(lineno, 1), len(self._line_starts)) - 1]
        line = self.parsed[start:]
        prefix = line.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore")
        idx = min(start + len(prefix), len(self._orig_index) - 1)
        return self._orig_index[idx]

    def start(self, node: ast.AST) -> int:
        return self.char_index(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def end(self, node: ast.AST) -> int:
        return self.char_index(getattr(node, "end_lineno", 1) or 1, getattr(node, "end_col_offset", 0) or 0)

    def segment(self, node: ast.AST) -> str:
        return self.original[self.start(node) : self.end(node)]

    def where(self, index: int) -> str:
        line = self.original.count("\n", 0, index) + 1
        column = index - (self.original.rfind("\n", 0, index) + 1) + 1
        if self.multiline:
            return f"at line {line}, column {column}"
        return f"at column {column}"


class _Violation(NamedTuple):
    rank: int
    at: int  # the offset in the text
    description: str
    hint: str = ""
    #: what to write instead (``_hints``): when set, the message is ``'<shown>' at column N:
    #: <advice>``, the column that of ``advice_at``, without the list of what is allowed
    advice: str = ""
    shown: str = ""
    advice_at: int = 0


# --------------------------------------------------------------------------- checks


_NOT_EXPRESSIONS = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def _check_size(tree: ast.Expression) -> None:
    """Reject trees deeper than MAX_DEPTH or with more than MAX_NODES expression nodes."""
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise _err(
                "formula",
                f"expression is nested more than {MAX_DEPTH} levels deep; "
                f"the limit is depth <= {MAX_DEPTH} and at most {MAX_NODES} nodes",
            )
        if nodes > MAX_NODES:
            raise _err(
                "formula",
                f"expression has more than {MAX_NODES} nodes; "
                f"the limit is at most {MAX_NODES} nodes and depth <= {MAX_DEPTH}",
            )
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _NOT_EXPRESSIONS):
                continue
            stack.append((child, depth + 1))


def _describe_constant(value: Any, seg: str) -> str | None:
    """Description of a disallowed literal, or None when the literal is allowed."""
    if isinstance(value, bool):
        return f"boolean {value}"
    if value is None:
        return "None"
    if value is Ellipsis:
        return "ellipsis '...'"
    if isinstance(value, str):
        return f"string literal {_one_line(seg)}"
    if isinstance(value, bytes):
        return f"bytes literal {_one_line(seg)}"
    if isinstance(value, complex):
        return f"complex number {_one_line(seg)}"
    if isinstance(value, (int, float)):
        if not (abs(value) <= MAX_LITERAL):
            return f"number {_one_line(seg)} larger than the limit |v| <= 1e12"
        return None
    return f"literal {_one_line(seg)}"


_NODE_NAMES: dict[type, str] = {
    ast.Lambda: "lambda expression",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string field",
    ast.NamedExpr: "assignment expression ':='",
    ast.Starred: "starred expression",
    ast.Await: "await expression",
    ast.Yield: "yield expression",
    ast.YieldFrom: "yield expression",
    ast.Subscript: "subscript",
    ast.Slice: "slice",
}
_SYNTAX_NAMES: dict[type, str] = {
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
}


class _Checker:
    """Walks the tree once, collecting every violation of the whitelist and every name."""

    def __init__(self, src: _Source, reserved: set[str], variables: Sequence[str] | None) -> None:
        self.src = src
        self.reserved = reserved  # parameter names (numbers substituted by the catalog)
        self.variables = None if variables is None else set(variables)
        self.names: list[str] = []
        self.violations: list[_Violation] = []

    def add(
        self, rank: int, index: int, description: str, hint: str = "", advice: _hints.Finding | None = None
    ) -> None:
        if advice is None:
            self.violations.append(_Violation(rank, index, description, hint))
        else:
            self.violations.append(_Violation(rank, index, description, hint, advice.advice, advice.snippet, advice.at))

    def visit(self, node: ast.AST) -> None:
        src = self.src
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                symbol = _OTHER_BINOPS.get(type(node.op), type(node.op).__name__)
                gap = src.original[src.end(node.left) : src.start(node.right)]
                offset = gap.find(symbol)
                index = src.end(node.left) + max(offset, 0)
                self.add(_RANK_SYNTAX, index, f"operator '{symbol}'")
            self.visit(node.left)
            self.visit(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                symbol = "not" if isinstance(node.op, ast.Not) else "~"
                self.add(_RANK_SYNTAX, src.start(node), f"operator '{symbol}'")
            self.visit(node.operand)
        elif isinstance(node, ast.Constant):
            problem = _describe_constant(node.value, src.segment(node))
            if problem is not None:
                self.add(_RANK_SYNTAX, src.start(node), problem)
        elif isinstance(node, ast.Name):
            self.visit_name(node)
        elif isinstance(node, ast.Call):
            self.visit_call(node)
        elif isinstance(node, ast.Attribute):
            self.add(_RANK_SECURITY, src.end(node.value), f"attribute access '.{node.attr}'")
            self.visit(node.value)
        elif isinstance(node, ast.Subscript):
            self.add(_RANK_SECURITY, src.end(node.value), "subscript '[...]'")
            self.visit(node.value)
        elif type(node) in _NODE_NAMES:
            self.add(_RANK_SECURITY, src.start(node), _NODE_NAMES[type(node)])
        elif type(node) in _SYNTAX_NAMES:
            what = _SYNTAX_NAMES[type(node)]
            self.add(_RANK_SYNTAX, src.start(node), f"{what} {_one_line(src.segment(node))}")
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.visit(child)
        else:
            self.add(_RANK_SYNTAX, src.start(node), f"Python syntax '{type(node).__name__}'")

    def visit_name(self, node: ast.Name) -> None:
        name = node.id
        index = self.src.start(node)
        if name.startswith("_"):
            self.add(_RANK_SECURITY, index, f"name '{name}' (names may not start with '_')")
        elif name in FUNCTIONS:
            self.add(_RANK_SYNTAX, index, f"function '{name}' used without '(...)'")
        elif name in CONSTANTS or name in self.reserved:
            pass
        elif not _ASCII_NAME.fullmatch(name):
            found = _hints.character(name)  # x·y is one Python name: write x*y
            self.add(
                _RANK_SECURITY,
                index,
                f"name {_one_line(name)} with the character {_describe_char(name)}",
                "names are ASCII letters, digits, '_' and the Greek letters "
                + GREEK
                + " (a look-alike of a Latin letter would be a second variable)",
                found and found._replace(at=index + found.at),
            )
        elif name in NOT_CONSTANTS and (self.variables is None or name not in self.variables):
            self.add(_RANK_SYNTAX, index, f"name '{name}' ({NOT_CONSTANTS[name]})", "the constants are pi and e")
        elif self.variables is not None and name not in self.variables:
            known = ", ".join(sorted(self.variables)) or "(none)"
            self.add(_RANK_SYNTAX, index, f"unknown name '{name}'", f"the variables are {known}")
        else:
            self.names.append(name)

    def visit_call(self, node: ast.Call) -> None:
        src = self.src
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if name.startswith("_"):
                self.add(
                    _RANK_SECURITY,
                    src.start(func),
                    f"call of '{name}' (names may not start with '_')",
                )
            elif name not in FUNCTIONS:
                self.add(
                    _RANK_SECURITY, src.start(func), f"call of unknown function '{name}'", "", self.call_advice(node)
                )
            else:
                arity = FUNCTIONS[name][0]
                n_args = len(node.args)
                if n_args != arity and not node.keywords:
                    plural = "argument" if arity == 1 else "arguments"
                    self.add(
                        _RANK_SYNTAX,
                        src.start(func),
                        f"call {_one_line(src.segment(node))} with {n_args} arguments "
                        f"('{name}' takes {arity} {plural})",
                    )
        else:
            # The callee is itself an expression (lambda, attribute, call...): the callee is
            # reported first when it is a violation of its own, as it starts earlier.
            self.add(
                _RANK_SECURITY,
                src.end(func),
                "call of an expression (only named functions may be called)",
                "",
                self.call_advice(node),
            )
            self.visit(func)
        for kw in node.keywords:
            label = f"'{kw.arg}=...'" if kw.arg else "'**...'"
            self.add(_RANK_SECURITY, src.start(kw), f"keyword argument {label}")
            self.visit(kw.value)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.add(_RANK_SECURITY, src.start(arg), "starred argument '*...'")
                self.visit(arg.value)
            else:
                self.visit(arg)

    def call_advice(self, node: ast.Call) -> _hints.Finding | None:
        """What to write for ``2(x+1)``, ``(x+1)(y-1)``, ``x(y)`` or ``Sin(x)``: a product or a name.

        Only for a call of one plain argument whose callee is a number, a name, a parenthesized
        group or a call; anything else keeps the parser's own description.
        """
        src, func = self.src, node.func
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            return None
        opening = src.original.find("(", src.end(func))
        if opening < 0:  # pragma: no cover - a call has its parenthesis
            return None
        callee = src.original[src.start(node) : opening].rstrip()
        group = src.original[opening : src.end(node)]
        if isinstance(func, ast.Name):
            advice = _hints.unknown_call(func.id, FUNCTIONS, self.variables)
            if advice is None:
                return None
            if advice:
                return _hints.Finding(src.start(func), func.id, advice)
        elif not (isinstance(func, (ast.Constant, ast.Call)) or callee.endswith(")")):
            return None
        return _hints.Finding(opening, callee + group, _hints.product(callee, group))


# --------------------------------------------------------------------------- variables


_XYZ = ("x", "y", "z")


def _natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def sort_variables(names: Iterable[str]) -> tuple[str, ...]:
    """Sort variable names: ``x, y, z`` first, then the rest alphabetically (x2 before x10)."""

    def key(name: str) -> tuple[int, tuple[Any, ...]]:
        if name in _XYZ:
            return (0, (_XYZ.index(name),))
        return (1, _natural_key(name))

    return tuple(sorted(set(names), key=key))


def _check_name(name: Any, param: str, reserved: Iterable[str] = ()) -> str:
    if not isinstance(name, str):
        raise _err(param, f"variable names must be strings, got {type(name).__name__}")
    normal = unicodedata.normalize("NFKC", name.strip())
    shown = _one_line(name)
    if not normal.isidentifier() or keyword.iskeyword(normal):
        raise _err(param, f"{shown} is not a valid name; use identifiers such as x, y, w1")
    if normal.startswith("_"):
        raise _err(param, f"{shown} may not start with '_'")
    if not _ASCII_NAME.fullmatch(normal):
        raise _err(
            param,
            f"{shown} has the character {_describe_char(normal)}; names are ASCII letters, digits, '_' "
            f"and the Greek letters {GREEK}",
        )
    if len(normal) > 32:
        raise _err(param, f"{shown} is longer than 32 characters")
    if normal in FUNCTIONS or normal in CONSTANTS:
        raise _err(param, f"{shown} is a function or constant name and cannot be a variable")
    if normal in set(reserved):
        raise _err(param, f"{shown} is a parameter name and cannot be a variable")
    return normal


def normalize_variables(variables: str | Sequence[str] | None, reserved: Iterable[str] = ()) -> tuple[str, ...] | None:
    """Validate an explicit variable list (a sequence of names or ``"x, y"``)."""
    if variables is None:
        return None
    if isinstance(variables, str):
        items: list[Any] = [v for v in re.split(r"[\s,]+", variables) if v]
    else:
        try:
            items = list(variables)
        except TypeError:
            raise _err("variables", f"expected a sequence of names, got {type(variables).__name__}") from None
    if not items:
        raise _err("variables", "needs at least one variable name")
    if len(items) > MAX_VARIABLES:
        raise _err(
            "variables",
            f"{len(items)} names given; at most {MAX_VARIABLES} variables are allowed",
        )
    names = tuple(_check_name(v, "variables", reserved) for v in items)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _err("variables", f"duplicate names {', '.join(duplicates)}")
    return names


# --------------------------------------------------------------------------- numbers


def _to_sympy_number(value: float | int) -> Any:
    """An exact sympy number: ints stay integers, floats become the rational of their repr."""
    import sympy

    if isinstance(value, int):
        return sympy.Integer(value)
    return sympy.Rational(repr(float(value)))


def _check_parameters(parameters: Mapping[str, Any] | None) -> dict[str, float | int]:
    """Validate parameter values: finite real numbers with ``|v| <= 1e12``."""
    out: dict[str, float | int] = {}
    for key, value in (parameters or {}).items():
        if isinstance(value, bool):
            raise _err("parameters", f"{key} must be a real number, got {value!r}")
        if not isinstance(value, int):
            try:
                value = float(value)  # floats, numpy scalars and the like
            except (TypeError, ValueError):
                raise _err("parameters", f"{key} must be a real number, got {value!r}") from None
        if not (math.isfinite(value) and abs(value) <= MAX_LITERAL):
            raise _err("parameters", f"{key} must be finite with |{key}| <= 1e12, got {value!r}")
        out[str(key)] = value
    return out


# --------------------------------------------------------------------------- building


class _Folder:
    """Folds constant subexpressions in float64 and checks them, without sympy (cheap, first)."""

    def __init__(self, src: _Source, parameters: Mapping[str, Any]):
        self.src = src
        self.parameters = parameters

    def fail(self, node: ast.AST, message: str) -> FormulaError:
        where = self.src.where(self.src.start(node))
        return _err("formula", f"{message} {where}; {_ALLOWED}")

    def constant(self, node: ast.AST, compute: Callable[[], Any]) -> float:
        """Fold a constant subexpression in float64; it must be a finite real number."""
        try:
            value = compute()
        except (OverflowError, ZeroDivisionError, ValueError):
            value = None
        if isinstance(value, complex) or value is None or not math.isfinite(value):
            raise self.fail(
                node,
                f"constant subexpression {_one_line(self.src.segment(node))} "
                "is not a finite real number (overflow, division by zero or outside the domain)",
            )
        return float(value)

    def check_exponent(self, node: ast.AST, rv: float | None) -> None:
        if rv is not None and not abs(rv) <= MAX_EXPONENT:
            raise self.fail(
                node,
                f"exponent {rv:.6g} in {_one_line(self.src.segment(node))} is too large "
                f"(the limit is |exponent| <= {MAX_EXPONENT})",
            )

    def fold(self, node: ast.AST) -> float | None:
        """The float value of a checked subtree, or None when it depends on a variable."""
        if isinstance(node, ast.Constant):
            return float(cast("int | float", node.value))  # the checker admits numbers only
        if isinstance(node, ast.Name):
            if node.id in self.parameters:
                return float(self.parameters[node.id])
            return CONSTANTS.get(node.id)
        if isinstance(node, ast.UnaryOp):
            v = self.fold(node.operand)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.Call):
            v = self.fold(node.args[0])
            fn = FUNCTIONS[node.func.id][1]  # type: ignore[attr-defined]  # checked before
            return None if v is None else self.constant(node, lambda: fn(v))
        if isinstance(node, ast.BinOp):
            lv, rv = self.fold(node.left), self.fold(node.right)
            op = type(node.op)
            if op is ast.Pow:
                self.check_exponent(node, rv)
            if op is ast.Div and rv is not None and rv == 0.0:
                raise self.fail(node, f"division by zero in {_one_line(self.src.segment(node))}")
            if lv is None or rv is None:
                return None
            ops = {
                ast.Add: lambda: lv + rv,
                ast.Sub: lambda: lv - rv,
                ast.Mult: lambda: lv * rv,
                ast.Div: lambda: lv / rv,
                ast.Pow: lambda: lv**rv,
            }
            return self.constant(node, ops[op])
        return None  # pragma: no cover - checked before


class _Builder(_Folder):
    """Builds the sympy expression from a checked tree, folding constants in floats first."""

    def __init__(self, src: _Source, symbols: Mapping[str, Any], parameters: Mapping[str, Any]):
        import sympy

        super().__init__(src, parameters)
        self.sympy = sympy
        self.symbols = symbols

    def exact(self, expr: Any, value: float | None) -> Any:
        """A constant subexpression stays exact only while it is small; else it is its float.

        Exact: a rational with numerator and denominator ``<= 1e12``, or a number whose sympy
        tree has at most :data:`MAX_EXACT_NODES` nodes, every integer in it ``<= 1e12`` and every
        rational exponent ``p/q`` with ``q <= MAX_ROOT``. Anything else (``10**100``,
        ``(1/3)**100``, a long sum of roots) becomes ``sympy.Float(value)``: exact arithmetic
        never grows past these bounds, and NumPy never sees a Python integer it cannot take.
        """
        if value is None:
            return expr
        if _small_exact(expr):
            return expr
        return self.sympy.Float(value)

    def build(self, node: ast.AST) -> tuple[Any, float | None]:
        """Return ``(sympy expression, float value or None when it depends on variables)``."""
        sympy = self.sympy
        if isinstance(node, ast.Constant):
            number = cast("int | float", node.value)  # the checker admits numbers only
            return _to_sympy_number(number), float(number)
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.parameters:
                value = self.parameters[name]
                return _to_sympy_number(value), float(value)
            if name in ("pi", "\u03c0"):
                return sympy.pi, math.pi
            if name == "e":
                return sympy.E, math.e
            return self.symbols[name], None
        if isinstance(node, ast.UnaryOp):
            operand, value = self.build(node.operand)
            if isinstance(node.op, ast.USub):
                return -operand, (None if value is None else -value)
            return operand, value
        if isinstance(node, ast.BinOp):
            expr, value = self.build_binop(node)
            return self.exact(expr, value), value
        if isinstance(node, ast.Call):
            name = node.func.id  # type: ignore[attr-defined]  # checked before
            arg, value = self.build(node.args[0])
            folded = None
            if value is not None:
                fn = FUNCTIONS[name][1]
                folded = self.constant(node, lambda: fn(value))
            return self.exact(_sympy_function(name)(arg), folded), folded
        raise self.fail(node, f"unexpected syntax '{type(node).__name__}'")  # pragma: no cover

    def build_binop(self, node: ast.BinOp) -> tuple[Any, float | None]:
        left, lv = self.build(node.left)
        right, rv = self.build(node.right)
        op = type(node.op)
        if op is ast.Pow:
            self.check_exponent(node, rv)
            value = None
            if lv is not None and rv is not None:
                value = self.constant(node, lambda: lv**rv)
                if not (right.is_Integer or (right.is_Rational and right.q <= MAX_ROOT)):
                    # a constant to a non-integer power: its float, never the exact power
                    # (54**0.7777777 is 54**(7777777/10**7): an integer power with 10**7 digits)
                    return self.sympy.Float(value), value
            if rv is not None and not (right.is_Integer or (right.is_Rational and right.q <= MAX_ROOT)):
                right = self.sympy.Float(rv)  # x**0.7777777: a float exponent
            return left**right, value
        if op is ast.Div and rv is not None and rv == 0.0:
            raise self.fail(node, f"division by zero in {_one_line(self.src.segment(node))}")
        value = None
        if lv is not None and rv is not None:
            ops = {
                ast.Add: lambda: lv + rv,
                ast.Sub: lambda: lv - rv,
                ast.Mult: lambda: lv * rv,
                ast.Div: lambda: lv / rv,
            }
            value = self.constant(node, ops[op])
        if op is ast.Add:
            return left + right, value
        if op is ast.Sub:
            return left - right, value
        if op is ast.Mult:
            return left * right, value
        return left / right, value


def _small_exact(expr: Any) -> bool:
    """Whether a constant sympy expression is small enough to stay exact (see ``exact``)."""
    if expr.is_Rational:
        return bool(abs(expr.p) <= MAX_LITERAL and expr.q <= MAX_LITERAL)
    nodes = 0
    stack = [expr]
    while stack:
        e = stack.pop()
        nodes += 1
        if nodes > MAX_EXACT_NODES:
            return False
        if e.is_Rational and not (abs(e.p) <= MAX_LITERAL and e.q <= MAX_LITERAL):
            return False
        if e.is_Float:
            continue
        if e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer and e.exp.q > MAX_ROOT:
            return False
        stack.extend(e.args)
    return True


def _tree_size(expr: Any, limit: int) -> tuple[int, int]:
    """``(nodes, depth)`` of a sympy tree, counting stops once ``nodes > limit``."""
    nodes = depth = 0
    stack = [(expr, 1)]
    while stack and nodes <= limit:
        e, d = stack.pop()
        nodes += 1
        depth = max(depth, d)
        stack.extend((a, d + 1) for a in e.args)
    return nodes, depth


class ParsedFormula(NamedTuple):
    """Result of :func:`parse`: the expression, the variable names and their sympy symbols."""

    expr: Any
    variables: tuple[str, ...]
    symbols: tuple[Any, ...]


def check(text: Any, variables: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """Every check that needs no sympy (text, syntax tree, whitelist, names): the variables.

    Cheap and in-process; :func:`ravine.problems.from_formula` runs it before any symbolic work.
    """
    return _checked(text, variables, None)[2]


def _syntax_error(src: _Source, exc: SyntaxError) -> FormulaError:
    """One line for a text Python cannot parse: what to write instead when it is recognised."""
    found = _hints.syntax(src.original, FUNCTIONS)
    if found is not None:
        return _err("formula", f"{_one_line(found.snippet)} {src.where(found.at)}: {found.advice}")
    index = src.char_index(exc.lineno or 1, max((exc.offset or 1) - 1, 0))
    reason = (exc.msg or "invalid syntax").split("\n")[0]
    if "was never closed" in reason:
        return _err("formula", f"'(' {src.where(index)} is never closed: add a ')'")
    if reason.startswith("unmatched ')'"):
        return _err("formula", f"')' {src.where(index)} closes nothing: remove it or add a '('")
    return _err("formula", f"syntax error ({reason}) {src.where(index)}; {_ALLOWED}")


def _checked(
    text: Any, variables: Any, parameters: Mapping[str, Any] | None
) -> tuple[_Source, ast.Expression, tuple[str, ...], dict[str, float | int], bool]:
    # 1. cheap checks on the raw text, before parsing anything
    if not isinstance(text, str):
        raise _err("formula", f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise _err(
            "formula",
            f"text is {len(text)} characters long; the limit is {MAX_LENGTH} characters",
        )
    if not text.strip():
        raise _err("formula", f"is empty; write an expression such as 'x^2 + y^2'; {_ALLOWED}")
    params = _check_parameters(parameters)
    names = normalize_variables(variables, reserved=params)

    # 2. syntax tree only (ast.parse never executes anything)
    src = _Source(text)
    try:
        tree = ast.parse(src.parsed, mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(src, exc) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        reason = str(exc).split("\n")[0]
        raise _err("formula", f"cannot be parsed ({reason}); {_ALLOWED}") from None

    # 3. size limits, then the whitelist
    _check_size(tree)
    checker = _Checker(src, set(params), names)
    checker.visit(tree.body)
    if checker.violations:
        worst = min(checker.violations)
        if worst.advice:
            raise _err("formula", f"{_one_line(worst.shown)} {src.where(worst.advice_at)}: {worst.advice}")
        hint = f"{worst.hint}; " if worst.hint else ""
        raise _err(
            "formula",
            f"{worst.description} {src.where(worst.at)} is not allowed; {hint}{_ALLOWED}",
        )

    # 4. variables
    inferred = names is None
    if names is None:
        names = sort_variables(checker.names)
        if len(names) > MAX_VARIABLES:
            raise _err(
                "formula",
                f"uses {len(names)} variables ({', '.join(names)}); at most {MAX_VARIABLES} are allowed",
            )

    # 5. constants folded in float64: exponents, overflow, division by zero (no sympy yet)
    _Folder(src, params).fold(tree.body)
    return src, tree, names, params, inferred


def parse(
    text: Any,
    variables: str | Sequence[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> ParsedFormula:
    """Parse ``text`` safely; return the expression together with its variables.

    ``parameters`` maps extra names to numbers substituted exactly (used by the catalog for
    e.g. Rosenbrock's ``a`` and ``b``); those names are not variables.
    """
    src, tree, names, params, inferred = _checked(text, variables, parameters)

    # 5. build the sympy expression with constant-folding guards
    import sympy

    symbols = tuple(sympy.Symbol(n, real=True) for n in names)
    builder = _Builder(src, dict(zip(names, symbols)), params)
    expr, _ = builder.build(tree.body)  # always a sympy object: literals become sympy numbers
    if inferred and not names:
        raise _err("formula", "has no variables; pass variables=... for a constant function")
    nodes, depth = _tree_size(expr, MAX_TREE_NODES)
    if depth > MAX_TREE_DEPTH or nodes > MAX_TREE_NODES:
        deep = depth > MAX_TREE_DEPTH
        what = f"deeper than {MAX_TREE_DEPTH} levels" if deep else f"of more than {MAX_TREE_NODES} nodes"
        raise _err(
            "formula",
            f"expands to a sympy tree {what}; the limit is depth <= {MAX_TREE_DEPTH} and at most "
            f"{MAX_TREE_NODES} nodes (each sigmoid is 4 levels)",
        )
    bad = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I)
    if any(expr.has(b) for b in bad):
        raise _err(
            "formula",
            "evaluates to an infinite, undefined or complex expression "
            f"(e.g. a division by zero such as 1/(x-x)); {_ALLOWED}",
        )
    return ParsedFormula(expr, names, symbols)


def parse_formula(text: str, variables: str | Sequence[str] | None = None) -> sympy.Expr:
    """Parse a formula safely into a sympy expression (see the module docstring for the grammar).

    ``variables`` is a sequence of names (or a string ``"x, y"``); when ``None`` the free names
    are used, sorted with ``x, y, z`` first and then alphabetically.  The symbols of the
    result are real sympy symbols.  Raises :class:`FormulaError`.

    >>> parse_formula("x^2 - y^2")
    x**2 - y**2
    """
    return parse(text, variables).expr
