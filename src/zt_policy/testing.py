"""Helpers for testing code that uses zt-policy (and zt-policy itself).

`reference_decide` answers with the plain tree-walking interpreter: no rule index, no cache, no
generated code. It is slow and obvious, which makes it the yardstick for the fast path.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import _ast as A
from . import _runtime as R
from ._decision import Decision, EvalError, LimitHit
from ._explain import to_error
from ._interpreter import Interpreter
from ._policyset import PolicySet
from ._reading import read

__all__ = ["assert_allowed", "assert_denied", "reference_decide"]


def reference_decide(
    policies: PolicySet,
    identity: Any = None,
    device: Any = None,
    request: Any = None,
    **roots: Any,
) -> Decision:
    given = policies._given(identity, device, request, roots)
    if isinstance(given, Decision):
        return given
    interp = Interpreter(policies._lets, policies._sources)
    bad: list[str] = []
    exprs = [e for p in policies._policies for e in (p.when, p.unless)]
    exprs += [e for lim, _, _ in policies._limits for e in (*lim.keys, lim.when)]
    for e in exprs:
        for attr in interp.attrs_in(e) if e is not None else ():
            try:
                read(attr, given)
            except TypeError as exc:
                if str(exc) not in bad:
                    bad.append(str(exc))
    if bad:
        return Decision(False, (), ("the request context is malformed",),
                        tuple(EvalError("ZT311", m) for m in bad))
    matched: list[int] = []
    errors: list[EvalError] = []
    for phase in ("forbid", "permit"):
        for i, p in enumerate(policies._policies):
            if p.effect != phase:
                continue
            try:
                if interp.matches(p, given) is True:
                    matched.append(i)
            except R.Fail as f:
                errors.append(to_error(f, p.id))
                if phase == "forbid":
                    matched.append(i)
        if matched and phase == "forbid":
            return policies._outcome(False, matched, tuple(errors))
    decision = policies._outcome(bool(matched), matched, tuple(errors))
    if not decision.allowed:
        return decision
    hits = []
    for lim, _, _ in policies._limits:
        try:
            applies = lim.when is None or interp.value(lim.when, given) is True
        except R.Fail:
            applies = True
        if applies:
            key = []
            for k in lim.keys:
                v = interp.raw(k, given) if isinstance(k, A.Attr) else None
                key.append(None if isinstance(v, R.Absent) else v)
            hits.append(LimitHit(lim.id, lim.amount, lim.window, tuple(key), lim.reason))
    return replace(decision, limits=tuple(hits))


def assert_allowed(policies: PolicySet, **context: Any) -> Decision:
    """Decide and fail with the explanation when the request is denied."""
    d = policies.decide(**context, explain=True)
    if not d.allowed:
        raise AssertionError(_why("denied", d))
    return d


def assert_denied(policies: PolicySet, **context: Any) -> Decision:
    """Decide and fail with the explanation when the request is allowed."""
    d = policies.decide(**context, explain=True)
    if d.allowed:
        raise AssertionError(_why("allowed", d))
    return d


def _why(verdict: str, d: Decision) -> str:
    lines = [f"request was {verdict}: {'; '.join(d.reasons)}"]
    lines += [f"  error: {e}" for e in d.errors]
    for t in d.explanation or ():
        lines.append(f"  {t.effect} {t.policy!r}: {t.outcome}"
                     + (f" at `{t.clause}` saw {t.values}" if t.clause else ""))
    return "\n".join(lines)
