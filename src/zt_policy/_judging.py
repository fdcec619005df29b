"""Judging the candidates the index found: forbids first, then permits, errors failing closed;
and the decision objects, shared between identical outcomes so the common case allocates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from . import _ast as A
from . import _runtime as R
from ._decision import Decision, EvalError, LimitHit
from ._explain import to_error
from ._index import Candidates, Index

_DEFAULT_DENY = Decision(False, (), ("no policy permits this request",))


class Judging:
    """The judging half of `PolicySet` (kept apart to keep each module readable)."""

    _policies: tuple[A.Policy, ...]
    _index: Index
    _limits: tuple[tuple[A.Limit, Callable[[tuple[object, ...]], bool], tuple[int, ...]], ...]
    _outcomes: dict[tuple[bool, tuple[int, ...]], Decision]
    _outcomes_one: list[Decision]
    _forbid_one: list[Decision]

    def _lookup_and_judge(self, x: tuple[object, ...]) -> Decision:
        index = self._index
        key = index.key_fn(x)
        found = index.memo.get(key)
        return self._judge(x, found if found is not None else index.compute(key))

    def _judge_and_limit(self, x: tuple[object, ...]) -> Decision:
        return self._judge_limited(x, self._index.lookup(x))

    def _judge_limited(self, x: tuple[object, ...], candidates: Candidates) -> Decision:
        """Judge, then attach the limits that apply to an allowed decision (the caller counts)."""
        decision = self._judge(x, candidates)
        if not decision.allowed:
            return decision
        hits = []
        for lim, cond, key_slots in self._limits:
            try:
                applies = cond(x)
            except R.Fail:
                applies = True  # fail closed: a limit we cannot rule out is counted
            if applies:
                key = tuple(None if isinstance(x[s], R.Absent) else x[s] for s in key_slots)
                hits.append(LimitHit(lim.id, lim.amount, lim.window, key, lim.reason))
        if not hits:
            return decision
        return replace(decision, limits=tuple(hits))

    def _judge(self, x: tuple[object, ...], candidates: Candidates) -> Decision:
        """Run the candidates: every forbid; the permits only when no forbid matched. Each entry
        returns the policies it matched (one policy, or a generated bucket of several)."""
        forbids, permits = candidates
        matched: tuple[int, ...] = ()
        errors: list[EvalError] | None = None
        for i, fn in forbids:
            try:
                m = fn(x)
            except R.Fail as f:
                errors = errors or []
                errors.append(to_error(f, self._policies[_first(i)].id))
                m = (_first(i),)
            if m:
                matched = m if not matched else matched + m
        if matched:
            if errors is None and len(matched) == 1:
                return self._forbid_one[matched[0]]
            return self._memo_outcome(False, sorted(matched), errors)
        for i, fn in permits:
            try:
                m = fn(x)
            except R.Fail as f:
                errors = errors or []
                errors.append(to_error(f, self._policies[_first(i)].id))
                continue
            if m:
                matched = m if not matched else matched + m
        if errors is None:
            if not matched:
                return _DEFAULT_DENY
            if len(matched) == 1:
                return self._outcomes_one[matched[0]]
        return self._memo_outcome(bool(matched), sorted(matched), errors)

    def _memo_outcome(self, allowed: bool, matched: list[int],
                      errors: list[EvalError] | None) -> Decision:
        if errors is not None:
            return self._outcome(allowed, matched, tuple(errors))
        key = (allowed, tuple(matched))
        decision = self._outcomes.get(key)
        if decision is None:
            decision = self._outcomes[key] = self._outcome(allowed, matched, ())
        return decision

    def _outcome(self, allowed: bool, matched: Sequence[int], errors: tuple[EvalError, ...]) -> Decision:
        if not matched:
            return _DEFAULT_DENY if not errors else Decision(False, (), _DEFAULT_DENY.reasons, errors)
        ps = [self._policies[i] for i in matched]
        verb = "permits" if allowed else "forbids"
        failed = {e.policy: e for e in errors} if not allowed else {}
        reasons = tuple(
            # a forbid that matched only because it failed must not claim its own reason
            f'policy "{p.id}" could not be evaluated ({failed[p.id].code}), so the request is '
            "denied" if p.id in failed
            else p.reason or f'policy "{p.id}" {verb} this request'
            for p in ps
        )
        return Decision(allowed, tuple(p.id for p in ps), reasons, errors)


def _first(tag: int) -> int:
    """The policy of a candidate entry (a bucket's tag is its first policy, negated)."""
    return tag if tag >= 0 else -tag - 1
