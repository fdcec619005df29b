"""Partial evaluation: could any request that fills in the unknown attributes be allowed?

Unknown attributes are unknown, not missing (missing is an error). The answer is used to hide
what a caller can never use (MCP listings), never to grant: decide() still runs on every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._interpreter import Interpreter

if TYPE_CHECKING:
    from ._index import Index
    from ._policyset import PolicySet


def may_allow(ps: PolicySet, given: Mapping[str, Mapping[str, Any]],
              unknown: tuple[str, ...]) -> bool:
    """True when some permit could still match and no forbid surely matches."""
    try:
        x = ps._extract(*(given[n] for n in ps._args))
    except Exception:
        return False
    if not isinstance(x, tuple):
        return False
    touches, slots_unknown = _plan(ps, unknown)
    if slots_unknown:  # an index key is unknown: every policy is a candidate
        n = len(ps._policies)
        forbids = tuple(i for i in range(n) if ps._policies[i].effect == "forbid")
        permits = tuple(i for i in range(n) if ps._policies[i].effect == "permit")
    else:
        found = ps._index.lookup(x)
        forbids = expand(found[0], ps._index)
        permits = expand(found[1], ps._index)
    interp = Interpreter(ps._lets, ps._sources, unknown, ps._site_cache)

    def outcome(i: int) -> object:
        if touches[i]:
            return interp.matches(ps._policies[i], given)
        return bool(ps._conds[i](x))  # reads nothing unknown: the compiled condition is exact

    for i in forbids:
        try:
            if outcome(i) is True:
                return False
        except Exception:  # a forbid that fails on known attributes surely matches (or: hide)
            return False
    for i in permits:
        try:
            if outcome(i) is not False:
                return True
        except Exception:  # fails on known attributes: cannot match
            continue
    return False


def _plan(ps: PolicySet, unknown: tuple[str, ...]) -> tuple[list[bool], bool]:
    """Per policy, whether it reads an unknown attribute; and whether an index key is unknown.
    Computed once per set of unknown prefixes."""
    plan = ps._partial_plans.get(unknown)
    if plan is None:
        prefixes = tuple(tuple(u.split(".")) for u in unknown)
        touches = [any(t[: len(p)] == p for t in ts for p in prefixes) for ts in ps._touches]
        slots_unknown = any(ps._slot_paths[s][: len(p)] == p
                            for s in ps._index.key_slots for p in prefixes)
        plan = ps._partial_plans[unknown] = (touches, slots_unknown)
    return plan


def expand(entries: Sequence[tuple[int, Any]], index: Index) -> tuple[int, ...]:
    """The policy indices behind candidate entries, buckets included, in order."""
    out: list[int] = []
    for tag, fn in entries:
        out.extend((tag,) if tag >= 0 else index.bucket_of(fn))
    return tuple(out)
