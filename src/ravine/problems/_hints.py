"""What to write instead: one line of advice for a formula the parser refused.

Read only after :mod:`ravine.problems.formula` has rejected a text: nothing here decides what is
accepted (that is the parser's whitelist over the syntax tree). It recognises what people type
out of habit or from a textbook - ``10y``, ``2(x+1)``, ``sin x``, ``x²``, ``|x|``, ``×``, ``−``,
``z = ...``, ``x^^2`` - and says what to write instead. Each finding is ``(index, snippet,
advice)``: where in the text, the user's words to quote, and the advice, which the parser turns
into ``formula: '10y' at column 9: write 10*y (multiplication needs *)``.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Collection
from typing import NamedTuple

#: characters that look like an operator, and the operator to write
LOOKALIKES = {
    "\u00d7": ("*", "multiplication"),  # ×
    "\u00b7": ("*", "multiplication"),  # ·
    "\u22c5": ("*", "multiplication"),  # ⋅
    "\u2219": ("*", "multiplication"),  # ∙
    "\u2217": ("*", "multiplication"),  # ∗
    "\u2212": ("-", "minus"),  # − (the minus sign)
    "\u2013": ("-", "minus"),  # – (en dash)
    "\u2014": ("-", "minus"),  # — (em dash)
    "\u00f7": ("/", "division"),  # ÷
}
_SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b"  # ⁰¹²³⁴⁵⁶⁷⁸⁹⁻
_UNSUPER = str.maketrans(_SUPERSCRIPTS, "0123456789-")
_TOKEN = re.compile(
    r"(?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)"
    rf"|(?P<name>(?:(?![{_SUPERSCRIPTS}])[^\W\d])(?:(?![{_SUPERSCRIPTS}])\w)*)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)
_OPERATORS = "+-*/^"
_BINARY_THEN_SIGNS = re.compile(r"(\*\*|\^|[-+*/])[-+]*")
_PRODUCT = "multiplication needs *"


class Finding(NamedTuple):
    """Where (an index into the text), the user's words to quote, and what to write instead."""

    at: int
    snippet: str
    advice: str


class _Tok(NamedTuple):
    kind: str  # number, name, other
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind != "space":
            out.append(_Tok(kind, m.group(), m.start(), m.end()))
    return out


def _short(text: str, limit: int = 24) -> str:
    """A snippet for advice: ``sin(x)`` stays, a long group becomes ``f(...)``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if "(" in text:
        return text[: text.index("(")] + "(...)"
    return text[: limit - 3] + "..."


def _match(toks: list[_Tok], i: int, step: int) -> int | None:
    """The index of the parenthesis matching ``toks[i]`` (searching forward or backward)."""
    depth = 0
    opening, closing = ("(", ")") if step > 0 else (")", "(")
    j = i
    while 0 <= j < len(toks):
        if toks[j].text == opening:
            depth += 1
        elif toks[j].text == closing:
            depth -= 1
            if depth == 0:
                return j
        j += step
    return None


def _operand_before(text: str, toks: list[_Tok], i: int) -> int:
    """Start index of the operand that ends with ``toks[i]`` (a name, number or ``)``)."""
    if toks[i].text != ")":
        return toks[i].start
    j = _match(toks, i, -1)
    if j is None:
        return toks[i].start
    if j > 0 and toks[j - 1].kind == "name":
        return toks[j - 1].start  # f(...)
    return toks[j].start


def _operand_after(text: str, toks: list[_Tok], k: int) -> int:
    """End index of the operand that starts with ``toks[k]`` (a name, number, ``(`` or call)."""
    if toks[k].kind == "name" and k + 1 < len(toks) and toks[k + 1].text == "(":
        k += 1
    if toks[k].text != "(":
        return toks[k].end
    j = _match(toks, k, 1)
    return len(text) if j is None else toks[j].end


def product(left: str, right: str) -> str:
    """The advice for two operands side by side: ``write 10*y (multiplication needs *)``."""
    return f"write {_short(left)}*{_short(right)} ({_PRODUCT})"


def unknown_call(name: str, functions: Collection[str], variables: Collection[str] | None) -> str | None:
    """Advice for ``name(...)`` where ``name`` is no function: did you mean, or a product."""
    close = difflib.get_close_matches(name.lower(), sorted(functions), n=1, cutoff=0.75)
    if close:
        return f"'{name}' is not a function; did you mean {close[0]}?"
    if len(name) == 1 or (variables is not None and name in variables):
        return ""  # a variable times a group: the caller writes the product
    return None


def _operators(text: str, toks: list[_Tok], i: int) -> tuple[Finding | None, int]:
    """A run of operator characters starting at ``toks[i]``: a finding if it cannot be read."""
    j = i
    while j < len(toks) and toks[j].kind == "other" and toks[j].text in _OPERATORS:
        j += 1
    run = "".join(t.text for t in toks[i:j])
    before = i > 0 and (toks[i - 1].kind != "other" or toks[i - 1].text == ")")
    after = j < len(toks) and (toks[j].kind != "other" or toks[j].text in "(|\u221a")
    snippet = text[toks[i].start : toks[j - 1].end]
    if not after and j >= len(toks):
        return Finding(toks[i].start, snippet, f"the formula ends with '{_short(run)}': write what it applies to"), j
    if before and not _BINARY_THEN_SIGNS.fullmatch(run):
        if "^" in run or "**" in run:
            return Finding(toks[i].start, snippet, "write a power with one ^ or ** (x^2 or x**2)"), j
        return Finding(toks[i].start, snippet, "two operators in a row: keep one"), j
    if not before and i == 0 and run[0] in "*/^":
        return Finding(toks[i].start, snippet, f"the formula starts with '{run[0]}': write what comes before it"), j
    return None, j


def _other(text: str, toks: list[_Tok], i: int) -> Finding | None:
    """A finding for a character that is no part of the grammar (``×``, ``²``, ``|``, ``=``...)."""
    t = toks[i]
    ch = t.text
    if ch in LOOKALIKES:
        op, meaning = LOOKALIKES[ch]
        return Finding(t.start, ch, f"write {op} for {meaning} (U+{ord(ch):04X} is not an operator)")
    if ch in _SUPERSCRIPTS:
        end = t.start
        while end < len(text) and text[end] in _SUPERSCRIPTS:
            end += 1
        power = text[t.start : end].translate(_UNSUPER)
        base = _short(text[_operand_before(text, toks, i - 1) : t.start]) if i > 0 else "x"
        return Finding(t.start, text[t.start : end], f"write {base}^{power} or {base}**{power}")
    if ch == "\u221a" and i + 1 < len(toks):  # √
        arg = text[toks[i + 1].start : _operand_after(text, toks, i + 1)]
        arg = arg[1:-1] if arg.startswith("(") and arg.endswith(")") else arg
        return Finding(t.start, "\u221a", f"write sqrt({_short(arg)})")
    if ch == "|":
        close = next((k for k in range(i + 1, len(toks)) if toks[k].text == "|"), None)
        if close is not None:
            inner = text[t.end : toks[close].start].strip()
            return Finding(t.start, text[t.start : toks[close].end], f"write abs({_short(inner)})")
    if ch == "=" and text[t.end : t.end + 1] != "=" and text[t.start - 1 : t.start] not in ("=", "<", ">", "!"):
        lhs, rhs = text[: t.start].strip(), text[t.end :].strip()
        if rhs and re.fullmatch(r"[^\W\d]\w*(\s*\([^()]*\))?", lhs):
            return Finding(t.start, "=", f"a formula is an expression: write {_short(rhs, 40)} without '{lhs} ='")
        return Finding(t.start, "=", "a formula is an expression, not an equation: write it without '='")
    if ch == ";":
        return Finding(t.start, ";", "a formula is one expression: remove the ';'")
    return None


def syntax(text: str, functions: Collection[str]) -> Finding | None:
    """The first thing in ``text`` (which Python's parser refused) that a finding explains."""
    if "'" in text or '"' in text:
        return None  # strings are refused as they are; no advice about their contents
    toks = _tokens(text)
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "other":
            if t.text in _OPERATORS:
                found, i = _operators(text, toks, i)
                if found:
                    return found
                continue
            found = _other(text, toks, i)
            if found:
                return found
            if t.text != ")":
                i += 1
                continue
        if i + 1 < len(toks):
            found = _adjacent(text, toks, i, functions)
            if found:
                return found
        i += 1
    return None


def _adjacent(text: str, toks: list[_Tok], i: int, functions: Collection[str]) -> Finding | None:
    """Two operands side by side (``10y``, ``x y``, ``sin x``, ``(x)(y)``): what to write."""
    a, b = toks[i], toks[i + 1]
    if not (a.kind != "other" or a.text == ")") or not (b.kind != "other" or b.text == "("):
        return None
    if any(t.kind == "name" and keyword.iskeyword(t.text) for t in (a, b)):
        return None
    if a.kind == "name" and a.text in functions:
        if b.text == "(":
            return None  # a call
        arg = text[b.start : _operand_after(text, toks, i + 1)]
        return Finding(a.start, text[a.start : b.start + len(arg)], f"write {a.text}({_short(arg)})")
    if a.kind == "name" and b.text == "(":
        advice = unknown_call(a.text, functions, None)
        if advice:
            return Finding(a.start, a.text, advice)
        if advice is None:
            return None  # an unknown function: the parser's own message names it
    start, end = _operand_before(text, toks, i), _operand_after(text, toks, i + 1)
    return Finding(b.start, text[start:end], product(text[start : a.end], text[b.start : end]))


def character(name: str) -> Finding | None:
    """A name holding an operator look-alike (``x·y`` is one Python name): write the operator."""
    for k, ch in enumerate(name):
        if ch in LOOKALIKES:
            op, meaning = LOOKALIKES[ch]
            fixed = "".join(LOOKALIKES[c][0] if c in LOOKALIKES else c for c in name)
            return Finding(k, name, f"write {_short(fixed)} ({op} for {meaning})")
    return None
