"""The decision cache, keyed on exactly the values the policy set reads.

Since the key holds every attribute value any policy can look at, a cached decision is always the
decision. Unhashable values (a list inside a dynamic map) simply bypass the cache.

Two tiers, so that a hit costs one dict lookup: a `cachetools.LRUCache` under a lock owns what is
kept and what is evicted, and a small lock-free "hot" dict serves the entries that were hit
recently. The hot dict is cleared when full, so it never outgrows `hot_size`; anything cleared from
it is still in the LRU, and anything evicted from the LRU leaves the hot dict at its next clear.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import LRUCache

from ._decision import Decision


class DecisionCache:
    __slots__ = ("_data", "_hot", "_hot_size", "_lock", "bypassed", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: LRUCache[Any, Decision] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self._hot: dict[Any, Decision] = {}
        self._hot_size = max(1, min(maxsize, 1024))
        self.hits = self.misses = self.bypassed = 0  # approximate under heavy thread contention

    def get(self, key: tuple[object, ...]) -> Decision | None:
        try:
            found = self._hot.get(key)
        except TypeError:  # an unhashable value (a list in a dynamic map): decide without cache
            self.bypassed += 1
            return None
        if found is not None:
            self.hits += 1
            return found
        with self._lock:
            found = self._data.get(key)  # a hit here also refreshes its place in the LRU
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._promote(key, found)
        return found

    def put(self, key: tuple[object, ...], decision: Decision) -> None:
        with self._lock:
            self._data[key] = decision
        self._promote(key, decision)

    def _promote(self, key: tuple[object, ...], decision: Decision) -> None:
        hot = self._hot
        if len(hot) >= self._hot_size:
            hot.clear()
        hot[key] = decision

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._hot.clear()

    def info(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "bypassed": self.bypassed,
                "size": len(self._data), "maxsize": self.maxsize}
