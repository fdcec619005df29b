"""Counting `limit` statements with the `limits` library (sliding-window counter).

`limits` is imported here, lazily, only when a `Guard` is built: `import zt_policy` must stay free of
it and of Redis. The sliding-window counter is what `limits` recommends for accuracy at a constant
cost per key (two counters), in memory or in Redis, where each hit is one atomic Lua script, so any
number of replicas sharing one Redis enforce one limit exactly once between them.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from ._decision import LimitHit

REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+unix", "redis+cluster", "redis+sentinel"})
# A Redis that stops answering must cost a request a bounded wait, never a hang.
_REDIS_DEFAULTS: Mapping[str, float] = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}


def scheme_of(uri: str) -> str:
    return urlsplit(uri).scheme.lower()


class RateLimits:
    """One storage and one sliding-window limiter; an item per distinct (amount, window)."""

    def __init__(self, uri: str, options: Mapping[str, Any] | None = None) -> None:
        try:
            from limits import RateLimitItemPerSecond
            from limits.storage import storage_from_string
            from limits.strategies import SlidingWindowCounterRateLimiter
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError("zt_policy.guard needs the `limits` package: "
                              "pip install 'zt-policy[limits]'") from exc
        opts: dict[str, Any] = dict(_REDIS_DEFAULTS) if scheme_of(uri) in REDIS_SCHEMES else {}
        opts.update(options or {})
        self.uri = uri
        self.remote = scheme_of(uri) != "memory"
        self.storage = storage_from_string(uri, wrap_exceptions=True, **opts)
        self._limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._item_type = RateLimitItemPerSecond
        self._items: dict[tuple[int, int], Any] = {}
        self._ids: dict[tuple[str, tuple[Any, ...]], tuple[str, str]] = {}

    def hit(self, hit: LimitHit) -> float | None:
        """Count one request; None when within the limit, else seconds until one fits again.

        Raises whatever the storage raises (`limits.errors.StorageError`); the guard decides
        whether that fails closed or open.
        """
        item = self._item(hit)
        ids = self._identifiers(hit)
        if self._limiter.hit(item, *ids):
            return None
        stats = self._limiter.get_window_stats(item, *ids)
        return max(0.0, float(stats.reset_time) - time.time())

    def clear(self, hit: LimitHit) -> None:
        self._limiter.clear(self._item(hit), *self._identifiers(hit))

    def _identifiers(self, hit: LimitHit) -> tuple[str, str]:
        """Memoised: hashing the key costs more than the in-memory counting itself."""
        try:
            return self._ids[(hit.limit, hit.key)]
        except KeyError:
            pass
        except TypeError:  # an unhashable key value
            return _identifiers(hit)
        if len(self._ids) >= 65_536:
            self._ids.clear()
        ids = self._ids[(hit.limit, hit.key)] = _identifiers(hit)
        return ids

    def _item(self, hit: LimitHit) -> Any:
        spec = (hit.amount, max(1, math.ceil(hit.window)))
        item = self._items.get(spec)
        if item is None:
            item = self._items[spec] = self._item_type(spec[0], spec[1], namespace="ztp")
        return item


def _identifiers(hit: LimitHit) -> tuple[str, str]:
    """The limit id (readable in Redis) and a digest of its key values.

    The digest keeps keys short and unambiguous whatever the `by` values contain (`limits` joins
    identifiers with "/", so raw values could collide).
    """
    raw = json.dumps(list(hit.key), default=repr, separators=(",", ":"), ensure_ascii=False)
    return quote(hit.limit, safe=""), hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def retry_seconds(wait: float) -> int:
    """Whole seconds for `Retry-After` (at least 1, so a client never retries at once)."""
    return max(1, math.ceil(wait))
