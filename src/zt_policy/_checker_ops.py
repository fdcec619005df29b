"""Type rules of the comparison and membership operators (part of the checker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _ast as A
from ._checker_text import _a, _suggest_fields, _text
from ._types import BOOL, DYN, FLOAT, INT, STR, Type, is_numeric

if TYPE_CHECKING:
    from ._checker import Checker


def check_binary(chk: Checker, e: A.Binary) -> tuple[A.Expr, Type]:
    left, lt = chk.expr(e.left)
    right, rt = chk.expr(e.right)
    out = A.Binary(e.op, left, right, e.span)
    op = e.op
    for side, t in ((left, lt), (right, rt)):
        if t.kind == "record":
            chk.error("ZT202", f"`{_text(side)}` is a record; compare one of its attributes",
                       side.span, _suggest_fields(t))
            return out, BOOL
    if op in ("==", "!="):
        if not _comparable(lt, rt):
            chk.error("ZT209", f"comparing {_a(lt)} with {_a(rt)} is always "
                       f"{'false' if op == '==' else 'true'}", e.span,
                       "compare values of the same type")
    elif op in ("<", "<=", ">", ">="):
        for side, t in ((left, lt), (right, rt)):
            if not is_numeric(t):
                chk.error("ZT202", f"`{op}` compares numbers, but `{_text(side)}` is {_a(t)}",
                           side.span, "ordering works on numbers and durations")
    elif op == "in":
        _check_in(chk, e, left, lt, rt)
    elif op == "contains":
        if lt.kind == "list":
            if not _comparable(lt.elem or DYN, rt):
                chk.error("ZT209", f"a {lt} never contains {_a(rt)}", e.span,
                           "compare values of the same type")
        elif lt.kind == "str":
            if rt.kind not in ("str", "dyn"):
                chk.error("ZT202", f"`contains` on a string needs a string, not {_a(rt)}", e.span)
        elif lt.kind != "dyn":
            chk.error("ZT202", f"`contains` needs a list or a string on its left, not {_a(lt)}",
                       e.span)
    elif op in ("contains_any", "contains_all"):
        for side, t in ((left, lt), (right, rt)):
            if t.kind not in ("list", "dyn"):
                chk.error("ZT202", f"`{op}` needs lists on both sides, but `{_text(side)}` is "
                           f"{_a(t)}", side.span, f"write `{op} [\"a\", \"b\"]`")
    elif op == "like":
        if not (isinstance(right, A.Literal) and isinstance(right.value, str)):
            chk.error("ZT210", "the pattern of `like` must be a string literal", right.span,
                       'write `like "prefix-*"`; `*` matches any run of characters')
        if lt.kind not in ("str", "ip", "dyn"):
            chk.error("ZT202", f"`like` matches strings, but `{_text(left)}` is {_a(lt)}",
                       left.span)
    return out, BOOL

def _check_in(chk: Checker, e: A.Binary, left: A.Expr, lt: Type, rt: Type) -> None:
    if rt.kind == "list":
        elem = rt.elem or DYN
        if elem.kind == "cidr":
            if lt.kind not in ("ip", "str", "dyn"):
                chk.error("ZT202", f"`in` a list of networks needs an ip address, not {_a(lt)}",
                           e.span)
        elif not _comparable(lt, elem):
            chk.error("ZT209", f"{_a(lt)} is never in a {rt}", e.span,
                       "compare values of the same type")
    elif rt.kind == "cidr":
        if lt.kind not in ("ip", "str", "dyn"):
            chk.error("ZT202", f"`in cidr(...)` needs an ip address, but `{_text(left)}` is "
                       f"{_a(lt)}", e.span)
    elif rt.kind == "str":
        chk.error("ZT202", "`in` tests list membership; for a substring use `contains`",
                   e.span, f"write `{_text(e.right)} contains {_text(left)}`")
    elif rt.kind != "dyn":
        chk.error("ZT202", f"`in` needs a list or a cidr on its right, not {_a(rt)}", e.span)


def literal_type(v: object) -> Type:
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return FLOAT
    if isinstance(v, str):
        return STR
    return DYN


def _comparable(a: Type, b: Type) -> bool:
    if "dyn" in (a.kind, b.kind):
        return True
    num = {"int", "float"}
    if a.kind in num and b.kind in num:
        return True
    ipish = {"ip", "str"}
    if a.kind in ipish and b.kind in ipish:
        return True
    if a.kind == "list" and b.kind == "list":
        return _comparable(a.elem or DYN, b.elem or DYN)
    return a.kind == b.kind
