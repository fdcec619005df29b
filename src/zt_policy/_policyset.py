"""The run side: a compiled, immutable policy set and its `decide()`.

Nothing here imports the parser, the checker or the code generator; a `PolicySet` is built once
and then only answers questions, from any number of threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import _ast as A
from . import _runtime as R
from ._cache import DecisionCache
from ._decision import Decision, EvalError, PolicyTrace
from ._explain import explained
from ._index import Index
from ._interpreter import Interpreter
from ._judging import Judging
from ._partial import may_allow
from ._reading import root_mapping


class ContextError(TypeError):
    """A programming error in how `decide()` was called (an unknown root), not a bad value."""


class PolicySet(Judging):
    """Compiled policies. Build one with `zt_policy.compile()` or `zt_policy.load()`."""

    def __init__(
        self,
        *,
        policies: Sequence[A.Policy],
        lets: Mapping[str, A.Let],
        sources: Mapping[str, str],
        roots: tuple[str, ...],
        args: tuple[str, ...],
        extract: Callable[..., tuple[object, ...] | list[str]],
        front: Callable[..., tuple[Any, Any]] | None = None,
        conditions: Sequence[Callable[[tuple[object, ...]], tuple[int, ...]]],
        slot_names: Sequence[str],
        slot_paths: Sequence[tuple[str, ...]],
        slot_kinds: Sequence[str] = (),
        index: Index,
        cache_size: int,
        source: str,
        limits: Sequence[tuple[A.Limit, Callable[[tuple[object, ...]], bool], tuple[int, ...]]] = (),
    ) -> None:
        self._policies = tuple(policies)
        self._lets = lets
        self._sources = sources
        self._roots = roots
        self._extract = extract
        self._front: Callable[..., tuple[Any, Any]] = front or _no_front
        self._conds = tuple(conditions)
        self._index = index
        self._cache = DecisionCache(cache_size) if cache_size > 0 else None
        self._outcomes: dict[tuple[bool, tuple[int, ...]], Decision] = {}
        self._outcomes_one = [self._outcome(True, [i], ()) for i in range(len(self._policies))]
        self._forbid_one = [self._outcome(False, [i], ()) for i in range(len(self._policies))]
        self._args = args
        self._simple = args == ("identity", "device", "request")
        self.reads: frozenset[str] = frozenset(slot_names)
        self._slot_paths = tuple(slot_paths)
        self._sig_slots = tuple((i, k) for i, k in enumerate(slot_kinds) if k != "typed")
        self.generated_source = source
        self._touches = [self._attrs(p) for p in self._policies]
        self._partial_plans: dict[tuple[str, ...], tuple[list[bool], bool]] = {}
        self._site_cache: dict[int, tuple[Any, R.Site]] = {}
        self._limits = tuple(limits)
        self.limit_ids: tuple[str, ...] = tuple(lim.id for lim, _, _ in self._limits)
        # without limits, deciding is judging; with them, an allowed decision also carries the
        # limits that apply to it (bound once here so the common case pays no extra call)
        self._evaluate = self._lookup_and_judge if not self._limits else self._judge_and_limit
        self._fast = self._simple and front is not None
        if self._fast:
            # `decide` for this set as a closure over its parts: no attribute lookups on the
            # hot path. Same signature and behaviour as the method, which it falls back to.
            self.decide = self._fast_decide()  # type: ignore[method-assign]

    # -- introspection -----------------------------------------------------------------------
    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self._policies)

    def __len__(self) -> int:
        return len(self._policies)

    def __repr__(self) -> str:
        return f"<PolicySet {len(self)} policies, reads {len(self.reads)} attributes>"

    def cache_info(self) -> dict[str, int] | None:
        return self._cache.info() if self._cache is not None else None

    # -- deciding ----------------------------------------------------------------------------
    def decide(
        self,
        identity: Any = None,
        device: Any = None,
        request: Any = None,
        *,
        explain: bool = False,
        **roots: Any,
    ) -> Decision:
        """Decide one request. Never raises for a bad context value: it denies and says why.

        Roots are dicts or pydantic models (None is empty); extra schema roots are keywords.
        With ``explain=True`` the decision carries, per policy, the clause that settled it.
        """
        return self._decide(identity, device, request, explain=explain, **roots)

    def _decide(
        self,
        identity: Any = None,
        device: Any = None,
        request: Any = None,
        *,
        explain: bool = False,
        **roots: Any,
    ) -> Decision:
        """The general path: any kind of roots, extra roots, explanations."""
        if self._simple and not roots and not explain:
            given = self._given(identity, device, request, roots)
            if isinstance(given, Decision):
                return given
            identity, device, request = given["identity"], given["device"], given["request"]
            if self._fast:
                return self.decide(identity, device, request)  # now plain dicts: the fast path
            return self._decide_x(identity, device, request)
        given = self._given(identity, device, request, roots)
        if isinstance(given, Decision):
            if explain:  # the context was refused: no policy was evaluated
                return replace(given, explanation=tuple(
                    PolicyTrace(p.id, p.effect, "not evaluated", False) for p in self._policies))
            return given
        decision = self._decide_x(*(given[n] for n in self._args))
        if explain:
            return self._explained(decision, given)
        return decision

    def _fast_decide(self) -> Callable[..., Decision]:
        front, cache, general = self._front, self._cache, self._decide
        judge = self._judge if not self._limits else self._judge_limited
        lookup = self._index.lookup

        def decide(identity: Any = _EMPTY, device: Any = _EMPTY, request: Any = _EMPTY, *,
                   explain: bool = False, **roots: Any) -> Decision:
            # None and omitted roots are the empty dict (never mutated: it is only read)
            if identity is None:
                identity = _EMPTY
            if device is None:
                device = _EMPTY
            if request is None:
                request = _EMPTY
            if identity.__class__ is dict and device.__class__ is dict and (
                request.__class__ is dict and not roots and not explain
            ):
                try:
                    # without a cache, front returns (slots, candidates); with one, (slots, key)
                    x, found = front(identity, device, request)
                    if found is None:
                        return _malformed(x)
                    if cache is None:
                        return judge(x, found)
                    hit = cache.get(found)
                    if hit is not None:
                        return hit
                    decision = judge(x, lookup(x))
                    with contextlib.suppress(TypeError):
                        cache.put(found, decision)
                    return decision
                except Exception as exc:  # fail closed on anything unforeseen in caller data
                    return _internal(exc)
            return general(identity, device, request, explain=explain, **roots)

        decide.__doc__ = PolicySet.decide.__doc__
        return decide

    def _cache_key(self, x: tuple[object, ...]) -> tuple[object, ...]:
        """The slots plus the types of values whose type is not pinned down (the generated
        front function builds the same key inline)."""
        sig = [R.dyn_sig(x[i]) if kind == "dyn" else R.list_sig(x[i])
               for i, kind in self._sig_slots]
        return (x, tuple(sig)) if sig else x

    def _given(self, identity: Any, device: Any, request: Any,
               roots: Mapping[str, Any]) -> dict[str, Mapping[str, Any]] | Decision:
        unknown = [n for n in roots if n not in self._roots]
        if unknown:
            raise ContextError(f"unknown context root(s) {', '.join(map(repr, unknown))}; the "
                               f"schema has {', '.join(self._roots)}")
        raw = {"identity": identity, "device": device, "request": request, **roots}
        out: dict[str, Mapping[str, Any]] = {}
        problems = []
        for name in self._roots:
            m = root_mapping(name, raw.get(name))
            if isinstance(m, str):
                problems.append(m)
            else:
                out[name] = m
        return _bad_roots(problems) if problems else out

    def _decide_x(self, *roots: Mapping[str, Any]) -> Decision:
        try:
            x = self._extract(*roots)
        except Exception as exc:  # fail closed on anything unforeseen in caller data
            return _internal(exc)
        if isinstance(x, list):
            return _malformed(x)
        cache = self._cache
        if cache is None:
            try:
                return self._evaluate(x)
            except Exception as exc:
                return _internal(exc)
        hit = cache.get(key := self._cache_key(x))
        if hit is not None:
            return hit
        try:
            decision = self._evaluate(x)
        except Exception as exc:
            return _internal(exc)
        with contextlib.suppress(TypeError):
            cache.put(key, decision)
        return decision

    def _explained(self, decision: Decision, roots: Mapping[str, Mapping[str, Any]]) -> Decision:
        return explained(self, decision, roots)

    # -- partial evaluation ----------------------------------------------------------------
    def may_allow(
        self,
        identity: Any = None,
        device: Any = None,
        request: Any = None,
        *,
        unknown: Sequence[str] = ("request.arguments",),
        **roots: Any,
    ) -> bool:
        """Could some request that fills in the `unknown` attributes be allowed?

        Unknown attributes are unknown, not missing. True when some permit could still match and no
        forbid surely matches; used to hide what a caller can never use (MCP listings), never to grant.
        """
        given = self._given(identity, device, request, roots)
        if isinstance(given, Decision):
            return False
        return may_allow(self, given, tuple(unknown))

    def _attrs(self, p: A.Policy) -> frozenset[tuple[str, ...]]:
        interp = Interpreter(self._lets, self._sources)
        out: set[tuple[str, ...]] = set()
        for e in (p.when, p.unless):
            if e is not None:
                out.update(a.path for a in interp.attrs_in(e))
        return frozenset(out)


_EMPTY: dict[str, Any] = {}


def _no_front(*roots: Any) -> tuple[Any, Any]:
    raise AssertionError("the fast path is off when no front function was generated")


def _bad_roots(problems: list[str]) -> Decision:
    return Decision(False, (), ("the request context is malformed",),
                    tuple(EvalError("ZT310", m) for m in problems))


def _malformed(bad: list[str]) -> Decision:
    return Decision(False, (), ("the request context is malformed",),
                    tuple(EvalError("ZT311", m) for m in dict.fromkeys(bad)))


def _internal(exc: Exception) -> Decision:
    return Decision(False, (), ("internal error while deciding",),
                    (EvalError("ZT399", f"internal error: {type(exc).__name__}: {exc}"),))
