"""The rule index at decision time: constant-time candidate lookup, flat in the policy count.

Policies are grouped by the order of their indexed attributes. For a context, the first indexed
attribute that is missing cuts each group's key short (a missing attribute makes the constraint an
error, which must be evaluated and reported), so the lookup is one dict access per group.
Results are memoised per key; the key space is bounded by the values the policies mention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from ._runtime import MISSING

PolicyKeys = tuple[tuple[int, frozenset[str]], ...]  # (key position, accepted values), in order
Cond = Callable[[tuple[object, ...]], tuple[int, ...]]  # -> the matching policies among its own
Entry = tuple[int, Cond]  # a candidate policy (or -(first + 1) for a bucket) and what to run
Candidates = tuple[tuple[Entry, ...], tuple[Entry, ...]]  # forbids, permits
OTHER = None  # in a key: a present value that no policy mentions
MEMO_SIZE = 8192


class _Group:
    __slots__ = ("ids", "sig", "tables")

    def __init__(self, sig: tuple[int, ...]) -> None:
        self.sig = sig
        self.ids: list[int] = []
        self.tables: list[dict[tuple[str, ...], list[int]]] = [{} for _ in range(len(sig) + 1)]


class Index:
    __slots__ = (
        "_always",
        "_conds",
        "_forbid",
        "_fused",
        "_get",
        "_groups",
        "_known",
        "_norm",
        "_residuals",
        "key_fn",
        "key_slots",
        "memo",
        "n",
    )

    def __init__(
        self,
        key_slots: tuple[int, ...],
        known: tuple[frozenset[str], ...],
        keys: Sequence[PolicyKeys | None],
        forbid: tuple[bool, ...],
        conds: Sequence[Cond],
        residuals: Sequence[Cond | None] = (),
    ) -> None:
        self.key_slots = key_slots
        self._known = known
        self._forbid = forbid
        self._conds = conds
        self._residuals = residuals or [None] * len(conds)
        self._fused: dict[tuple[int, ...], Cond] = {}
        self.n = len(keys)
        self._always = [i for i, k in enumerate(keys) if k is None]
        groups: dict[tuple[int, ...], _Group] = {}
        for i, k in enumerate(keys):
            if k is None:
                continue
            sig = tuple(pos for pos, _ in k)
            g = groups.setdefault(sig, _Group(sig))
            g.ids.append(i)
            combos: list[tuple[str, ...]] = [()]
            for depth, (_, values) in enumerate(k, start=1):
                combos = [(*c, v) for c in combos for v in sorted(values)]
                for c in combos:
                    g.tables[depth].setdefault(c, []).append(i)
        self._groups = list(groups.values())
        self.memo: dict[tuple[object, ...], Candidates] = {}
        self._norm: tuple[dict[object, object], ...] = tuple(
            {**{v: v for v in k}, MISSING: MISSING} for k in known)
        self._get: Any = itemgetter(*key_slots) if key_slots else None
        self.key_fn: Any = self.key  # the build side installs a generated, faster one

    @property
    def normalizers(self) -> tuple[dict[object, object], ...]:
        return self._norm

    def set_conditions(
        self,
        conds: Sequence[Cond],
        residuals: Sequence[Cond | None],
        fused: Mapping[tuple[int, ...], Cond] | None = None,
    ) -> None:
        """Install the compiled conditions (generated after the index, which they refer to)."""
        self._conds = conds
        self._residuals = residuals or [None] * len(conds)
        self._fused = dict(fused or {})
        self.memo.clear()

    def bucket_of(self, fn: Cond) -> tuple[int, ...]:
        """The policies a fused bucket function stands for (explanations only: not hot)."""
        return next(ids for ids, f in self._fused.items() if f is fn)

    def buckets(self, safe: frozenset[int], largest: int = 6) -> list[tuple[int, ...]]:
        """Sets of policies that one key always confirms together, of one effect, none of which
        can fail: each can run as one generated function instead of one call per policy."""
        out: set[tuple[int, ...]] = set()
        for g in self._groups:
            for ids in g.tables[len(g.sig)].values():
                for effect in (True, False):
                    part = tuple(sorted(i for i in ids if self._forbid[i] is effect))
                    if 2 <= len(part) <= largest and all(i in safe for i in part):
                        out.add(part)
        return sorted(out)

    def key(self, x: Sequence[object]) -> tuple[object, ...]:
        """The memo key: each indexed value itself when a policy names it, else MISSING or None.

        Typed string slots hold a str, a schema default or MISSING, so all are hashable; the
        work is done by C-level itemgetter/map/dict.get.
        """
        if not self._norm:
            return ()
        vals = self._get(x)
        if len(self._norm) == 1:
            vals = (vals,)
        return tuple(map(dict.get, self._norm, vals))

    def lookup(self, x: Sequence[object]) -> Candidates:
        """(candidate forbids, candidate permits), each in source order."""
        key = self.key_fn(x)
        found = self.memo.get(key)
        return found if found is not None else self.compute(key)

    def compute(self, key: tuple[object, ...]) -> Candidates:
        """Candidates for a key: a policy whose indexed constraints all matched runs its residual
        condition (the constraints are known true); one cut short by a missing attribute runs
        in full, so that the missing attribute is reported as the error it is."""
        full: set[int] = set(self._always)
        confirmed: set[int] = set()
        for g in self._groups:
            j = 0
            for pos in g.sig:
                if key[pos] is MISSING:
                    break
                j += 1
            if j == 0:
                full.update(g.ids)
                continue
            found = g.tables[j].get(tuple(key[pos] for pos in g.sig[:j]), ())  # type: ignore[misc]
            (confirmed if j == len(g.sig) else full).update(found)
        entries: list[Entry] = []
        fused_done: set[int] = set()
        for g in self._groups:  # whole buckets confirmed together run as one function
            if len(g.sig) and all(key[pos] is not MISSING for pos in g.sig):
                ids = g.tables[len(g.sig)].get(tuple(key[pos] for pos in g.sig), ())  # type: ignore[misc]
                for effect in (True, False):
                    part = tuple(sorted(i for i in ids if self._forbid[i] is effect))
                    fn = self._fused.get(part)
                    if fn is not None:
                        entries.append((-part[0] - 1, fn))  # negative: a fused bucket
                        fused_done.update(part)
        for i in sorted((full | confirmed) - fused_done):
            residual = self._residuals[i] if i in confirmed else None
            entries.append((i, residual if residual is not None else self._conds[i]))
        entries.sort(key=_policy_of)
        forbid = self._forbid
        found_entries = (tuple(e for e in entries if forbid[_policy_of(e)]),
                         tuple(e for e in entries if not forbid[_policy_of(e)]))
        if len(self.memo) >= MEMO_SIZE:
            self.memo.clear()
        self.memo[key] = found_entries
        return found_entries

    def worst_candidates(self) -> list[int]:
        """A largest candidate set any context can produce (an upper bound, for cost estimates)."""
        out = list(self._always)
        for g in self._groups:
            deepest = g.tables[len(g.sig)]
            largest: list[int] = g.ids
            if deepest:
                largest = max(deepest.values(), key=len)
            out.extend(largest)
        return out


def _policy_of(entry: Entry) -> int:
    """The (first) policy of an entry: a policy index, or -(first index + 1) for a bucket."""
    return entry[0] if entry[0] >= 0 else -entry[0] - 1
