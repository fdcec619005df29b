"""Checked policies -> Python source for one extractor and one condition function per policy.

The source is registered in `linecache` (as attrs does) so tracebacks and debuggers show it.
Constants (literal sets, networks, patterns, error sites) are passed in as default arguments and
never pasted into the text, so no policy string can ever become code.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _ast as A
from . import _runtime as R
from ._codegen_size import expanded_size
from ._interpreter import defaulted, span_text
from ._reading import check_type, read
from ._types import Type
from ._values import LikePattern

_counter = itertools.count()
_NAME = re.compile(r"\b_[A-Za-z0-9_]+\b")


@dataclass(frozen=True)
class Slot:
    """One value the extractor reads per decision: an attribute, or whether a key is present."""

    attr: A.Attr
    has_key: str | None = None
    defaulted: bool = False

    @property
    def name(self) -> str:
        return self.attr.dotted + (f" has {self.has_key}" if self.has_key is not None else "")


@dataclass
class _Gen:
    lets: Mapping[str, A.Let]
    sources: Mapping[str, str]
    roots: tuple[str, ...]
    slots: dict[Slot, int] = field(default_factory=dict)
    consts: dict[str, object] = field(default_factory=dict)
    const_ids: dict[Any, str] = field(default_factory=dict)
    sites: dict[Any, str] = field(default_factory=dict)
    slot_keys: dict[tuple[object, ...], int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    let_names: dict[tuple[str, str], str] = field(default_factory=dict)
    let_bodies: list[tuple[str, str, str]] = field(default_factory=list)

    def const(self, value: object, key: Any = None) -> str:
        key = key if key is not None else ("v", type(value).__name__, repr(value))
        name = self.const_ids.get(key)
        if name is None:
            name = self.const_ids[key] = f"_k{len(self.consts)}"
            self.consts[name] = value
        return name

    def site(self, e: Any) -> str:
        name = self.sites.get(e)
        if name is None:
            text = e.dotted if isinstance(e, A.Attr) else span_text(self.sources, e.span)
            name = self.sites[e] = self.const(R.Site(text, e.span), ("site", e))
        return name

    def let_funcs(self) -> set[str]:
        return set(self.let_names.values())

    def inline(self, name: str) -> bool:
        """Small lets are pasted in place (no call); big ones become functions, so that lets built
        from other lets grow the code linearly, never exponentially."""
        return expanded_size(self.lets[name].expr, self.lets, self.sizes) <= INLINE_LET_NODES

    def let_function(self, name: str, mode: str) -> str:
        fname = f"_let_{mode}_{len(self.let_names)}"
        found = self.let_names.setdefault((name, mode), fname)
        if found == fname:
            expr = self.lets[name].expr
            body = self.cond(expr) if mode == "cond" else self.value(expr)
            self.let_bodies.append((found, f"# let {name}", body))
            self.consts[found] = None  # filled in after exec; listed so callers bind it
        return found

    def slot(self, s: Slot) -> int:
        key = (s.attr.path, s.has_key, s.defaulted)
        found = self.slot_keys.get(key)
        if found is None:
            found = self.slot_keys[key] = len(self.slots)
            self.slots[s] = found
        return found

    # -- expressions -------------------------------------------------------------------------
    def value(self, e: A.Expr) -> str:
        if isinstance(e, A.Literal):
            return self.const(e.value)
        if isinstance(e, A.ListLit):
            if all(isinstance(i, A.Literal) for i in e.items):
                return self.const(tuple(i.value for i in e.items))  # type: ignore[union-attr]
            return "(" + "".join(self.value(i) + ", " for i in e.items) + ")"
        if isinstance(e, A.Attr):
            i = self.slot(Slot(e))
            if _never_absent(e):
                return f"x[{i}]"
            return f"(_v if (_v := x[{i}]).__class__ is not _Absent else _miss({self.site(e)}, _v))"
        if isinstance(e, A.LetRef):
            if self.inline(e.name):
                return self.value(self.lets[e.name].expr)
            return f"{self.let_function(e.name, 'value')}(x)"
        return self.cond(e)

    def cond(self, e: A.Expr) -> str:
        """Code that yields a real bool or raises `Fail`."""
        if isinstance(e, A.LetRef):
            if self.inline(e.name):
                return self.cond(self.lets[e.name].expr)
            return f"{self.let_function(e.name, 'cond')}(x)"
        if isinstance(e, A.And | A.Or):
            glue = " and " if isinstance(e, A.And) else " or "
            return "(" + glue.join(self.cond(i) for i in e.items) + ")"
        if isinstance(e, A.Not):
            return f"(not {self.cond(e.operand)})"
        if isinstance(e, A.Has):
            assert isinstance(e.target, A.Attr)
            i = self.slot(Slot(e.target, e.key, defaulted(e)))
            return f"_has(x[{i}], {self.site(e.target)})"
        if isinstance(e, A.Binary):
            return self.binary(e)
        code = self.value(e)
        if _static(e) == "bool":
            return code
        return f"_truth({code}, {self.site(e)})"

    def binary(self, e: A.Binary) -> str:
        op, site = e.op, self.site(e)
        lk, rk = _static(e.left), _static(e.right)
        a, b = self.value(e.left), self.value(e.right)
        if op in ("==", "!="):
            neg = "not " if op == "!=" else ""
            same = lk == rk and lk in ("str", "num", "bool")
            if same and lk == "bool":
                return f"({neg}({a} is {b}))"
            if same:
                return f"({a} {op} {b})"
            return f"({neg}_eq({a}, {b}))"
        if op in ("<", "<=", ">", ">="):
            if lk == rk == "num":
                return f"({a} {op} {b})"
            return f"_order({a}, {b}, {op!r}, {site})"
        if op == "in":
            r = e.right
            if lk == "str" and isinstance(r, A.ListLit) and r.items and all(
                isinstance(i, A.Literal) and isinstance(i.value, str) for i in r.items
            ):
                lits = frozenset(i.value for i in r.items)  # type: ignore[union-attr]
                return f"({a} in {self.const(lits, ('set', lits))})"
            if lk == "str" and rk == "list":
                return f"({a} in {b})"
            return f"_member({a}, {b}, {site})"
        if op == "contains":
            if lk == "list" and rk == "str":
                return f"({b} in {a})"
            return f"_contains({a}, {b}, {site})"
        if op in ("contains_any", "contains_all"):
            return f"_{op}({a}, {b}, {site})"
        if op == "like":
            assert isinstance(e.right, A.Literal) and isinstance(e.right.value, str)
            pat = self.const(LikePattern(e.right.value), ("like", e.right.value))
            if lk == "str":
                return f"{pat}.match({a})"
            return f"_like({a}, {pat}, {site})"
        raise AssertionError(op)  # pragma: no cover

    # -- the extractor ---------------------------------------------------------------------
INLINE_LET_NODES = 24


def _check(t: Type, v: object, path: str, bad: list[str] | None) -> tuple[object, list[str] | None]:
    try:
        return check_type(t, v), bad
    except TypeError as exc:
        return R.MISSING, [*(bad or ()), str(exc).replace("{path}", path)]


def _never_absent(e: A.Attr) -> bool:
    """Top-level typed attributes with a schema default always hold a value of their type after
    extraction (deeper ones sit under a record that may itself be absent)."""
    return e.typed and e.default is not None and len(e.path) == 2


def _static(e: A.Expr) -> str:
    """The kind a value is guaranteed to have at run time, or "" when only run-time checks can tell."""
    if isinstance(e, A.Literal):
        v = e.value
        if v is True or v is False:
            return "bool"
        if isinstance(v, int | float):
            return "num"
        return "str" if isinstance(v, str) else ""
    if isinstance(e, A.Attr) and e.typed:
        k = getattr(e.type, "kind", "")
        return {"str": "str", "int": "num", "float": "num", "bool": "bool", "list": "list"}.get(k, "")
    if isinstance(e, A.Not | A.And | A.Or | A.Has | A.Binary):
        return "bool"
    return ""


_HELPERS: dict[str, object] = {
    "_Absent": R.Absent,
    "_MISSING": R.MISSING,
    "_miss": R.missing,
    "_truth": R.truth,
    "_eq": R.eq,
    "_order": R.order,
    "_member": R.member,
    "_contains": R.contains,
    "_contains_any": R.contains_any,
    "_contains_all": R.contains_all,
    "_like": R.like,
    "_has": R.has_result,
    "_presence": R.presence,
    "_read": read,
    "_check": _check,
    "_dyn_sig": R.dyn_sig,
    "_list_sig": R.list_sig,
}
