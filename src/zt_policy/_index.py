"""The rule index at decision time: constant-time candidate lookup, flat in the policy count.

Policies are grouped by the order of their indexed attributes. For a context, the first indexed
attribute that is missing cuts each group's key short (a missing attribute makes the constraint an
error, which must be evaluated and reported), so the lookup is one dict access per group.
Results are memoised per key; the key space is bounded by the values the policies mention.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._runtime import MISSING

PolicyKeys = tuple[tuple[int, frozenset[str]], ...]  # (key position, accepted values), in order
OTHER = object()  # a present value no policy mentions
MEMO_SIZE = 8192


class _Group:
    __slots__ = ("ids", "sig", "tables")

    def __init__(self, sig: tuple[int, ...]) -> None:
        self.sig = sig
        self.ids: list[int] = []
        self.tables: list[dict[tuple[str, ...], list[int]]] = [{} for _ in range(len(sig) + 1)]


class Index:
    __slots__ = ("_always", "_forbid", "_groups", "_known", "_memo", "key_slots", "n")

    def __init__(
        self,
        key_slots: tuple[int, ...],
        known: tuple[frozenset[str], ...],
        keys: Sequence[PolicyKeys | None],
        forbid: tuple[bool, ...],
    ) -> None:
        self.key_slots = key_slots
        self._known = known
        self._forbid = forbid
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
        self._memo: dict[tuple[object, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def key(self, x: Sequence[object]) -> tuple[object, ...]:
        out: list[object] = []
        for slot, known in zip(self.key_slots, self._known, strict=False):
            v = x[slot]
            if v.__class__ is str and v in known:
                out.append(v)
            else:
                out.append(MISSING if v is MISSING else OTHER)
        return tuple(out)

    def lookup(self, x: Sequence[object]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(candidate forbids, candidate permits), each in source order."""
        key = self.key(x)
        found = self._memo.get(key)
        if found is None:
            found = self._compute(key)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found

    def _compute(self, key: tuple[object, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        ids = set(self._always)
        for g in self._groups:
            j = 0
            for pos in g.sig:
                if key[pos] is MISSING:
                    break
                j += 1
            if j == 0:
                ids.update(g.ids)
            else:
                ids.update(g.tables[j].get(tuple(key[pos] for pos in g.sig[:j]), ()))  # type: ignore[misc]
        ordered = sorted(ids)
        forbid = self._forbid
        return (tuple(i for i in ordered if forbid[i]), tuple(i for i in ordered if not forbid[i]))
