"""Write docs/rules.md from the rules themselves (their docstrings, hyperparameters,
conventions and sources), so the page cannot drift from the code.

    .venv/bin/python scripts/gen_rules_doc.py > docs/rules.md
"""

import inspect
import sys

sys.path.insert(0, "src")

from ravine.rules import RULES


def _keywords(cls):
    """The rule's keyword signature as users call it: names, ``*`` before the keyword-only ones."""
    out, star = [], False
    for p in inspect.signature(cls).parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        out.append(p.name if p.name != "convention" else "convention='torch'")
    return ", ".join(out)


def main():
    out = [
        "# The update rules",
        "",
        "Every optimizer in ravine is one class in `src/ravine/rules/`, with its equations in the",
        "docstring and in `update`, written in the lectures' symbols. This page is generated from",
        "them by `scripts/gen_rules_doc.py` (a test checks it is current).",
        "",
        "| name | class | file | conventions |",
        "|---|---|---|---|",
    ]
    for name, cls in RULES.items():
        f = inspect.getsourcefile(cls).split("src/")[-1]
        out.append(f"| `{name}` | `{cls.__name__}` | [{f.split('/')[-1]}](../src/{f}) | {', '.join(cls.conventions)} |")
    for name, cls in RULES.items():
        doc = inspect.cleandoc(cls.__doc__ or "")
        r = cls()
        hyper = ", ".join(f"`{k}={v!r}`" for k, v in r.hyperparameters().items())
        keywords = _keywords(cls)
        out += [
            "",
            f"## `{name}` — {cls.title}",
            "",
            f"*Source:* {cls.source}",
            "",
            f"*Keywords:* `{cls.__name__}({keywords})` (each defaults to the convention's value)",
            "",
            f"*Defaults (torch convention):* {hyper}",
            "",
            f"*State:* {', '.join(cls.State._fields) or '(none)'}; "
            f"*recorded each step:* {', '.join(cls.Record._fields)}",
            "",
            "```text",
            doc,
            "```",
        ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
