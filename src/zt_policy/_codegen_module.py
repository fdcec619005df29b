"""Assembling the generated module: conditions, residuals, buckets, extractor; compiled once.

The source is registered in `linecache` (as attrs does) so tracebacks and debuggers show it.
Constants are bound as default arguments of each function, never pasted into the text.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _ast as A
from ._codegen import _HELPERS, _NAME, Slot, _counter, _Gen
from ._codegen_extract import extractor


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
    parts = extractor(gen, freeze)
    if index is not None:
        parts += ["", *extractor(gen, freeze, index.key_slots)]
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
