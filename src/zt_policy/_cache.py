"""A thread-safe LRU of decisions, keyed on exactly the values the policy set reads.

Since the key holds every attribute value any policy can look at, a cached decision is always the
decision. Unhashable values (a list inside a dynamic map) simply bypass the cache.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import LRUCache

from ._decision import Decision


class DecisionCache:
    __slots__ = ("_data", "_lock", "bypassed", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: LRUCache[Any, Decision] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self.hits = self.misses = self.bypassed = 0

    def get(self, key: tuple[object, ...]) -> Decision | None:
        try:
            with self._lock:
                found = self._data.get(key)
        except TypeError:  # an unhashable value (a list in a dynamic map): decide without cache
            self.bypassed += 1
            return None
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: tuple[object, ...], decision: Decision) -> None:
        with self._lock:
            self._data[key] = decision

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def info(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "bypassed": self.bypassed,
                "size": len(self._data), "maxsize": self.maxsize}
