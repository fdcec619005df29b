"""How the checker names types and expressions in its messages, and its "did you mean"."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from . import _ast as A
from ._types import Type


def _suggest(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _a(t: Type) -> str:
    s = str(t)
    if t.kind == "list":
        return f"a {s}"
    return ("an " if s[0].lower() in "aeiou" else "a ") + s


def _text(e: A.Expr) -> str:
    if isinstance(e, A.Attr):
        return e.dotted
    if isinstance(e, A.Path):
        return e.dotted
    if isinstance(e, A.Literal):
        return repr(e.value) if not isinstance(e.value, str) else f'"{e.value}"'
    if isinstance(e, A.LetRef):
        return e.name
    return "this expression"


def _suggest_fields(t: Type) -> str:
    return "its attributes are: " + ", ".join(k for k, _ in t.fields)


def _bool_help(e: A.Expr, t: Type) -> str:
    if t.kind == "str":
        return f'compare it: `{_text(e)} == "..."`'
    if t.kind == "list":
        return f'test membership: `"..." in {_text(e)}`'
    if t.kind in ("int", "float"):
        return f"compare it: `{_text(e)} >= ...`"
    return "combine comparisons with `and`, `or`, `not`"
