"""The rule index plan (OPA style): which policies can be skipped by constant constraints.

A policy is indexed on the `attr == "v"` / `attr in ["v", ...]` conjuncts at the top of its `when`,
for attributes that are typed strings. Only conjuncts reached before anything that can fail are used,
so skipping a policy never hides an error it would have raised: the index never changes a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import _ast as A
from ._codegen import Slot, _never_absent, _static
from ._index import PolicyKeys

MAX_KEYS = 4
MAX_EXPANSION = 256


@dataclass
class IndexPlan:
    """What the index needs at run time, and for each policy it can fully confirm, the `when`
    left once the confirmed constraints are taken out (None: nothing left)."""

    key_slots: tuple[int, ...]
    known: tuple[frozenset[str], ...]
    keys: list[PolicyKeys | None]
    forbid: tuple[bool, ...]
    residual_whens: dict[int, A.Expr | None]
    safe: frozenset[int]  # policies whose residual condition can never fail


def plan(
    policies: list[A.Policy],
    lets: Mapping[str, A.Let],
    slot_of: Mapping[Slot, int],
) -> IndexPlan:
    per_policy: list[list[tuple[A.Attr, frozenset[str], A.Expr]]] = []
    conjuncts: list[list[A.Expr]] = []
    memo: dict[str, bool] = {}
    for p in policies:
        parts = _conjuncts(p.when, lets) if p.when is not None else []
        conjuncts.append(parts)
        per_policy.append(_constraints(parts, lets, memo))
    counts: dict[A.Attr | tuple[str, ...], int] = {}
    for cons in per_policy:
        for attr, _, _ in cons:
            counts[attr.path] = counts.get(attr.path, 0) + 1
    chosen = sorted(counts, key=lambda k: (-counts[k], k))[:MAX_KEYS]
    key_paths = [c for c in chosen if isinstance(c, tuple)]
    position = {path: j for j, path in enumerate(key_paths)}
    known: list[set[str]] = [set() for _ in key_paths]
    keys: list[PolicyKeys | None] = []
    residual: dict[int, A.Expr | None] = {}
    for n, cons in enumerate(per_policy):
        usable: list[tuple[int, frozenset[str]]] = []
        confirmed: list[A.Expr] = []
        size = 1
        for attr, values, node in cons:
            if attr.path not in position:
                break  # later constraints would be reached only through an unindexed attribute
            size *= len(values)
            if size > MAX_EXPANSION:
                break
            usable.append((position[attr.path], values))
            confirmed.append(node)
        for j, values in usable:
            known[j].update(values)
        keys.append(tuple(usable) if usable else None)
        if usable and len(conjuncts[n]) < MAX_CONJUNCTS:
            rest = [c for c in conjuncts[n] if not any(c is k for k in confirmed)]
            p = policies[n]
            residual[n] = (None if not rest else rest[0] if len(rest) == 1
                           else A.And(tuple(rest), p.when.span if p.when else p.span))
    slot_indexes = []
    for path in key_paths:
        slot = next(i for s, i in slot_of.items() if s.has_key is None and s.attr.path == path)
        slot_indexes.append(slot)
    forbid = tuple(p.effect == "forbid" for p in policies)
    safe = frozenset(
        n for n, w in residual.items()
        if not any(e is not None and (may_fail(e, lets, memo) or _static(e) != "bool")
                   for e in (w, policies[n].unless))
    )
    return IndexPlan(tuple(slot_indexes), tuple(frozenset(k) for k in known), keys, forbid,
                     residual, safe)


MAX_CONJUNCTS = 64


def _conjuncts(e: A.Expr, lets: Mapping[str, A.Let]) -> list[A.Expr]:
    """The top-level conjunction, lets expanded, in evaluation order (only its head is needed)."""
    out: list[A.Expr] = []
    stack = [e]
    while stack and len(out) < MAX_CONJUNCTS:
        n = stack.pop()
        if isinstance(n, A.LetRef):
            stack.append(lets[n.name].expr)
        elif isinstance(n, A.And):
            stack.extend(reversed(n.items))
        else:
            out.append(n)
    return out


def _constraints(
    conjuncts: list[A.Expr], lets: Mapping[str, A.Let], memo: dict[str, bool]
) -> list[tuple[A.Attr, frozenset[str], A.Expr]]:
    out: list[tuple[A.Attr, frozenset[str], A.Expr]] = []
    seen: set[tuple[str, ...]] = set()
    for c in conjuncts:
        con = _constraint(c)
        if con is not None:
            if con[0].path not in seen:
                seen.add(con[0].path)
                out.append((*con, c))
            continue
        if may_fail(c, lets, memo):
            break
    return out


def _constraint(e: A.Expr) -> tuple[A.Attr, frozenset[str]] | None:
    if not isinstance(e, A.Binary):
        return None
    left, right = e.left, e.right
    if e.op == "==" and isinstance(left, A.Literal):
        left, right = right, left
    if not (isinstance(left, A.Attr) and left.typed and len(left.path) == 2):
        return None
    if getattr(left.type, "kind", "") != "str":
        return None
    if e.op == "==" and isinstance(right, A.Literal) and isinstance(right.value, str):
        return left, frozenset((right.value,))
    if e.op == "in" and isinstance(right, A.ListLit) and right.items and all(
        isinstance(i, A.Literal) and isinstance(i.value, str) for i in right.items
    ):
        return left, frozenset(str(i.value) for i in right.items if isinstance(i, A.Literal))
    return None


def may_fail(e: A.Expr, lets: Mapping[str, A.Let], memo: dict[str, bool] | None = None) -> bool:
    """Whether evaluating `e` could raise an evaluation error on some validated context."""
    memo = {} if memo is None else memo
    if isinstance(e, A.Literal):
        return False
    if isinstance(e, A.ListLit):
        return any(may_fail(i, lets, memo) for i in e.items)
    if isinstance(e, A.Attr):
        return not _never_absent(e)
    if isinstance(e, A.LetRef):
        if e.name not in memo:
            memo[e.name] = may_fail(lets[e.name].expr, lets, memo)
        return memo[e.name]
    if isinstance(e, A.Not):
        return may_fail(e.operand, lets, memo) or _static(e.operand) != "bool"
    if isinstance(e, A.And | A.Or):
        return any(may_fail(i, lets, memo) or _static(i) != "bool" for i in e.items)
    if isinstance(e, A.Has):
        return len(e.target.path) > 1 if isinstance(e.target, A.Attr) else True
    if isinstance(e, A.Binary):
        if may_fail(e.left, lets, memo) or may_fail(e.right, lets, memo):
            return True
        lk, rk = _static(e.left), _static(e.right)
        if e.op in ("==", "!="):
            return False
        if e.op in ("<", "<=", ">", ">="):
            return not (lk == rk == "num")
        if e.op == "in":
            if rk == "list":  # a validated list: membership is equality, which never fails
                return False
            return not (isinstance(e.right, A.ListLit) and not any(
                isinstance(i, A.Literal) and i.kind == "cidr" for i in e.right.items))
        if e.op == "contains":
            return lk != "list"
        if e.op in ("contains_any", "contains_all"):
            return not all(k == "list" or isinstance(s, A.ListLit)
                           for k, s in ((lk, e.left), (rk, e.right)))
        if e.op == "like":
            return lk != "str"
    return True
