"""Checked policies -> Python source for one extractor and one condition function per policy.

The source is registered in `linecache` (as attrs does) so tracebacks and debuggers show it.
Constants (literal sets, networks, patterns, error sites) are passed in as default arguments and
never pasted into the text, so no policy string can ever become code.
"""

from __future__ import annotations

import itertools
import linecache
import re
from collections.abc import Callable, Mapping, Sequence
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
class Generated:
    extract: Callable[..., tuple[object, ...] | list[str]]  # the slots, or what was malformed
    conditions: list[Callable[[tuple[object, ...]], tuple[int, ...]]]
    slots: list[Slot]
    source: str
    filename: str
    args: tuple[str, ...] = ()  # the roots the extractor takes, in order
    limits: list[tuple[Callable[[tuple[object, ...]], bool], tuple[int, ...]]] = field(
        default_factory=list)  # per limit: its condition and the slots of its keys
    residuals: list[Callable[[tuple[object, ...]], tuple[int, ...]] | None] = field(
        default_factory=list)
    front: Any = None  # extract + index lookup in one call, when generated with an index
    fused: dict[tuple[int, ...], Any] = field(default_factory=dict)  # bucket -> one function


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
    def extractor(self, freeze: bool = True, key_slots: tuple[int, ...] | None = None) -> list[str]:
        """`extract(roots) -> slots | problems`; with ``key_slots``, `front(roots)` instead, which
        also looks the rule index up: `(slots, candidates)`, or `(problems, None)`."""
        params = ", ".join(f"r_{r}" for r in self.roots)
        front = key_slots is not None
        out = [f"def {'front' if front else 'extract'}({params}):"]
        if not front:
            out.append("    bad = None")
        names = []
        for s, i in sorted(self.slots.items(), key=lambda kv: kv[1]):
            names.append(f"s{i}")
            # front gives up on the first malformed value and lets `extract` collect them all
            bail = f"return extract({params}), None" if front else None
            out.extend("    " + line for line in self.read_slot(s, f"s{i}", freeze, bail))
        slots = f"({''.join(n + ', ' for n in names)})"
        if key_slots is None:
            out += ["    if bad is not None:", "        return bad", f"    return {slots}"]
            return out
        if freeze:  # with a cache: `(slots, cache key)`; the index is looked up only on a miss
            sig = []
            for s, i in sorted(self.slots.items(), key=lambda kv: kv[1]):
                kind = slot_kind(s)
                if kind == "dyn":
                    sig.append(f"_dyn_sig(s{i})")
                elif kind == "list":
                    sig.append(f"_list_sig(s{i})")
            ck = f"(x, ({''.join(x + ', ' for x in sig)}))" if sig else "x"
            out += [f"    x = {slots}", f"    return x, {ck}"]
            return out
        key = "".join(f"_n{j}.get(s{slot}), " for j, slot in enumerate(key_slots))
        out += [f"    k = ({key})", "    c = _memo_get(k)",
                f"    return {slots}, (c if c is not None else _compute(k))"]
        return out

    def read_slot(self, s: Slot, var: str, freeze: bool, bail: str | None = None) -> list[str]:
        """Code reading one slot. A malformed value is added to `bad`, or with ``bail``,
        handled by that statement instead."""
        attr = s.attr
        on_error = [f"    {bail}"] if bail else [
            f"    {var}, bad = _MISSING, [*(bad or ()), str(exc)]"]
        if s.has_key is not None:
            target = self.const(attr, ("attr", attr))
            return [
                "try:",
                f"    {var} = _presence(_read({target}, {self.roots_dict()}), "
                f"{s.has_key!r}, {s.defaulted})",
                "except TypeError as exc:",
                *on_error,
            ]
        if len(attr.path) == 2 and attr.typed:
            t = attr.type
            assert isinstance(t, Type)
            default = self.const(attr.default if attr.default is not None else R.MISSING)
            fast = _FAST.get(t.kind, "False")
            ttype = self.const(t, ("type", t))
            return [
                f"v = r_{attr.path[0]}.get({attr.path[1]!r})",
                f"if {fast}:",  # the common case first: a value of the right type
                f"    {var} = {'tuple(v)' if t.kind == 'list' and freeze else 'v'}",
                "elif v is None:",
                f"    {var} = {default}",
                "else:",
                *([f"    {var}, b = _check({ttype}, v, {attr.dotted!r}, None)",
                   "    if b is not None:", f"        {bail}"] if bail else
                  [f"    {var}, bad = _check({ttype}, v, {attr.dotted!r}, bad)"]),
            ]
        target = self.const(attr, ("attr", attr))
        return [
            "try:",
            f"    {var} = _read({target}, {self.roots_dict()})",
            "except TypeError as exc:",
            *on_error,
        ]

    def roots_dict(self) -> str:
        return "{" + ", ".join(f"{r!r}: r_{r}" for r in self.roots) + "}"


INLINE_LET_NODES = 24


def slot_kind(s: Slot) -> str:
    """How far a slot's value is pinned down: "typed" (a validated scalar), "list" (a validated
    list of unvalidated elements) or "dyn" (anything). Cache keys must tell `True` from `1`
    wherever the type is not pinned down, since Python's equality does not."""
    if s.has_key is not None:
        return "typed"  # True, False or an interned Absent
    kind = getattr(s.attr.type, "kind", "dyn")
    if not s.attr.typed or kind in ("dyn", "map", "record"):
        return "dyn"
    return "list" if kind == "list" else "typed"


_FAST = {
    "str": "v.__class__ is str",
    "ip": "v.__class__ is str",
    "bool": "v is True or v is False",
    "int": "v.__class__ is int",
    "float": "v.__class__ is float or v.__class__ is int",
    "list": "v.__class__ is list or v.__class__ is tuple",
    "map": "v.__class__ is dict",
    "record": "v.__class__ is dict",
    "dyn": "v is not None",
}


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


@dataclass
class Prepared:
    """Conditions turned into code, not yet compiled: the slots are known, so the index can be
    planned before the rest (residual conditions, the extractor) is generated."""

    gen: _Gen
    policies: list[A.Policy]
    exprs: list[str]
    limits: list[A.Limit]
    limit_exprs: list[str]
    limit_keys: list[tuple[int, ...]]

    @property
    def slots(self) -> list[Slot]:
        return [s for s, _ in sorted(self.gen.slots.items(), key=lambda kv: kv[1])]


def prepare(
    policies: list[A.Policy],
    lets: Mapping[str, A.Let],
    sources: Mapping[str, str],
    roots: tuple[str, ...],
    limits: list[A.Limit] | None = None,
) -> Prepared:
    gen = _Gen(lets, sources, roots)
    exprs = [_policy_code(gen, p.when, p.unless) for p in policies]
    limit_keys: list[tuple[int, ...]] = []
    limit_exprs: list[str] = []
    for lim in limits or ():
        limit_exprs.append(gen.cond(lim.when) if lim.when is not None else "True")
        limit_keys.append(tuple(gen.slot(Slot(k)) for k in lim.keys if isinstance(k, A.Attr)))
    return Prepared(gen, policies, exprs, list(limits or ()), limit_exprs, limit_keys)


def _policy_code(gen: _Gen, when: A.Expr | None, unless: A.Expr | None) -> str:
    parts = []
    if when is not None:
        parts.append(gen.cond(when))
    if unless is not None:
        parts.append(f"not {gen.cond(unless)}")
    return " and ".join(parts) or "True"


def finish(
    prep: Prepared,
    residual_whens: Mapping[int, A.Expr | None],
    *,
    freeze: bool,
    index: Any = None,
    buckets: Sequence[tuple[int, ...]] = (),
) -> Generated:
    """Generate the residual conditions and the extractor, then compile everything at once.

    ``residual_whens``: for a policy the index can fully confirm, its `when` without the
    conjuncts the index has already checked. ``freeze``: store lists as tuples, so that the slot
    tuple can be a cache key (only needed when there is a decision cache).
    """
    gen = prep.gen
    residual_exprs = {i: _policy_code(gen, w, prep.policies[i].unless)
                      for i, w in residual_whens.items()}
    known = {**gen.consts, **_HELPERS}

    def fn(name: str, comment: str, expr: str) -> str:
        used = sorted({m for m in _NAME.findall(expr) if m in known or m in gen.consts})
        params = "".join(f", {u}={u}" for u in used)
        return f"def {name}(x{params}):\n    # {comment}\n    return {expr}\n"

    def matches(n: int, expr: str) -> str:
        """A policy's function returns the policies it matched: `(n,)` or `()`."""
        return f"({gen.const((n,), ('matched', n))} if {expr} else ())"

    # let functions may call each other; each is defined after the ones it calls
    bodies = [fn(name, comment.lstrip("# "), expr) for name, comment, expr in gen.let_bodies]
    for n, (p, expr) in enumerate(zip(prep.policies, prep.exprs, strict=True)):
        bodies.append(fn(f"p{n}", f"{p.effect} {p.id!r}", matches(n, expr)))
        if n in residual_exprs:
            bodies.append(fn(f"q{n}", f"{p.effect} {p.id!r}, index-confirmed",
                             matches(n, residual_exprs[n])))
    for k, ids in enumerate(buckets):
        # every policy of the bucket is evaluated (all matches are reported); none can fail
        bits = " | ".join(f"({1 << b} if {residual_exprs[i]} else 0)" for b, i in enumerate(ids))
        table = tuple(tuple(i for b, i in enumerate(ids) if mask >> b & 1)
                      for mask in range(1 << len(ids)))
        bodies.append(fn(f"b{k}", f"bucket {ids}", f"{gen.const(table, ('bucket', ids))}[{bits}]"))
    for n, (lim, expr) in enumerate(zip(prep.limits, prep.limit_exprs, strict=True)):
        bodies.append(fn(f"l{n}", f"limit {lim.id!r}", expr))
    std = ("identity", "device", "request")
    used_roots = {s.attr.path[0] for s in gen.slots}
    gen.roots = std + tuple(r for r in gen.roots if r not in std and r in used_roots)
    parts = gen.extractor(freeze)
    if index is not None:
        parts += ["", *gen.extractor(freeze, index.key_slots)]
        for j, norm in enumerate(index.normalizers):
            gen.consts[f"_n{j}"] = norm
        gen.consts["_memo_get"] = index.memo.get
        gen.consts["_compute"] = index.compute
    parts = _bind_defaults(parts, {**gen.consts, **_HELPERS})
    source = "\n".join(parts) + "\n\n" + "\n".join(bodies)
    filename = f"<zt-policy generated {next(_counter)}>"
    namespace: dict[str, Any] = {k: v for k, v in {**gen.consts, **_HELPERS}.items()
                                 if k not in gen.let_funcs()}  # the extractor added constants
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
    conds = [namespace[f"p{n}"] for n in range(len(prep.policies))]
    fused = {ids: namespace[f"b{k}"] for k, ids in enumerate(buckets)}
    residuals = [namespace.get(f"q{n}") for n in range(len(prep.policies))]
    limit_conds = [namespace[f"l{n}"] for n in range(len(prep.limit_exprs))]
    return Generated(namespace["extract"], conds, prep.slots, source, filename, gen.roots,
                     list(zip(limit_conds, prep.limit_keys, strict=True)), residuals,
                     namespace.get("front"), fused)


def _bind_defaults(lines: list[str], known: Mapping[str, object]) -> list[str]:
    """Give each generated `def` its constants as default arguments: local loads are faster
    than global ones on the decision path."""
    out: list[str] = []
    start = 0
    for n in range(len(lines) + 1):
        if n == len(lines) or (n > start and lines[n].startswith("def ")):
            block = lines[start:n]
            if block and block[0].startswith("def "):
                used = sorted({m for line in block[1:] for m in _NAME.findall(line) if m in known})
                head = block[0][: -len("):")]
                block[0] = head + "".join(f", {u}={u}" for u in used) + "):"
            out.extend(block)
            start = n
    return out


def generate(
    policies: list[A.Policy],
    lets: Mapping[str, A.Let],
    sources: Mapping[str, str],
    roots: tuple[str, ...],
    limits: list[A.Limit] | None = None,
) -> Generated:
    """All in one go, without an index (for tools and tests)."""
    return finish(prepare(policies, lets, sources, roots, limits), {}, freeze=True)


def key_function(slots: tuple[int, ...], normalizers: tuple[dict[object, object], ...]) -> Any:
    """The rule index's key builder, unrolled: one dict lookup per indexed attribute."""
    names = [f"_n{j}" for j in range(len(slots))]
    params = "".join(f", {n}={n}" for n in names)
    items = "".join(f"{n}.get(x[{slot}]), " for n, slot in zip(names, slots, strict=True))
    source = f"def key(x{params}):\n    return ({items})\n"
    filename = f"<zt-policy index key {next(_counter)}>"
    namespace: dict[str, Any] = dict(zip(names, normalizers, strict=True))
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace["key"]
