"""Explanations: for each policy, the clause that settled it and the values it saw.

Walks the resolved tree with the interpreter, reaching through `let` conditions down to the
comparison that failed, so an operator can see `device.posture >= 70` failed on 42 rather than
"trusted_device was false".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import _ast as A
from . import _runtime as R
from ._decision import Decision, EvalError, PolicyTrace
from ._interpreter import Interpreter, span_text
from ._partial import expand

if TYPE_CHECKING:
    from ._policyset import PolicySet


def trace(
    interp: Interpreter, p: A.Policy, roots: Mapping[str, Mapping[str, Any]], candidate: bool
) -> PolicyTrace:
    try:
        matched = interp.matches(p, roots)
    except R.Fail as f:
        err = to_error(f, p.id)
        return PolicyTrace(p.id, p.effect, "error", candidate, f.site.text, str(f.site.span),
                           values=_values(interp, f.site, roots), error=err)
    if matched is True:
        return PolicyTrace(p.id, p.effect, "matched", candidate)
    if p.when is not None and interp.value(p.when, roots) is False:
        leaf, via = _settling(interp, p.when, roots, False)
    else:
        assert p.unless is not None
        leaf, via = _settling(interp, p.unless, roots, True)
        via = ("unless", *via)
    text = leaf.dotted if isinstance(leaf, A.Attr) else span_text(interp.sources, leaf.span)
    values = {a.dotted: _shown(interp, a, roots) for a in interp.attrs_in(leaf)}
    return PolicyTrace(p.id, p.effect, "not matched", candidate, text, str(leaf.span), via, values)


def _settling(
    interp: Interpreter, e: A.Expr, roots: Mapping[str, Mapping[str, Any]], want: bool
) -> tuple[A.Expr, tuple[str, ...]]:
    """The innermost sub-expression that gave `e` the value `want`."""
    via: list[str] = []
    while True:
        if isinstance(e, A.LetRef):
            via.append(e.name)
            e = interp.lets[e.name].expr
            continue
        if (isinstance(e, A.And) and want is False) or (isinstance(e, A.Or) and want is True):
            nxt = next((i for i in e.items if interp.value(i, roots) is want), None)
            if nxt is None:
                return e, tuple(via)
            e = nxt
            continue
        if isinstance(e, A.Not):
            e, want = e.operand, not want
            continue
        return e, tuple(via)


def _shown(interp: Interpreter, a: A.Attr, roots: Mapping[str, Mapping[str, Any]]) -> object:
    try:
        v = interp.raw(a, roots)
    except TypeError:
        return "<invalid>"
    if isinstance(v, tuple):
        return list(v)
    return repr(v) if isinstance(v, R.Absent) else v


def _values(
    interp: Interpreter, site: R.Site, roots: Mapping[str, Mapping[str, Any]]
) -> dict[str, object]:
    node = interp.node_of(site)
    if node is None:
        return {}
    return {a.dotted: _shown(interp, a, roots) for a in interp.attrs_in(node)}


def to_error(f: R.Fail, policy: str | None) -> EvalError:
    return EvalError(f.code, f.message, policy, str(f.site.span), f.help)


def explained(
    ps: PolicySet, decision: Decision, roots: Mapping[str, Mapping[str, Any]]
) -> Decision:
    """The decision with one trace per policy; candidates are those the index did not rule out."""
    interp = Interpreter(ps._lets, ps._sources)
    try:
        x = ps._extract(*(roots[n] for n in ps._args))
        bad = x if isinstance(x, list) else None
        forbids, permits = ps._index.lookup(x) if isinstance(x, tuple) else ((), ())
    except Exception:
        bad, forbids, permits = ["internal error"], (), ()
    if bad:  # nothing was evaluated: the context itself was refused
        skipped = tuple(PolicyTrace(p.id, p.effect, "not evaluated", False) for p in ps._policies)
        return replace(decision, explanation=skipped)
    cands = set(expand(forbids, ps._index)) | set(expand(permits, ps._index))
    traces: list[PolicyTrace] = []
    for i, p in enumerate(ps._policies):
        try:
            traces.append(trace(interp, p, roots, i in cands))
        except Exception as exc:  # an explanation never raises; it says what went wrong
            code = exc.code if isinstance(exc, R.Fail) else (
                "ZT311" if isinstance(exc, TypeError) else "ZT399")
            traces.append(PolicyTrace(p.id, p.effect, "error", i in cands,
                                      error=EvalError(code, str(exc), p.id)))
    return replace(decision, explanation=tuple(traces))
