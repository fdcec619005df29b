"""Signals in Redis, shared by every replica: counters and HyperLogLogs in 10-second and
10-minute buckets (see `_signals`), all read and written in one pipelined round trip.

Keys are `<prefix>:sig:{<digest of the identity>}:<kind>:<bucket>`; the braces are a Redis Cluster
hash tag, so one identity's keys live on one shard. Every key expires on its own shortly after it
leaves the window, so nothing needs cleaning up.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ._signals import BUCKETS, HOUR_BUCKET, MINUTE_BUCKET

_MINUTE_TTL = MINUTE_BUCKET * (BUCKETS + 1)
_HOUR_TTL = HOUR_BUCKET * (BUCKETS + 1)


class RedisSignals:
    """`client` is a `redis.Redis` (sync) client; it is never created at import time."""

    def __init__(self, client: Any, prefix: str = "ztp") -> None:
        self._client = client
        self._prefix = prefix

    def _base(self, who: str) -> str:
        digest = hashlib.blake2b(who.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        return f"{self._prefix}:sig:{{{digest}}}"

    def observe(self, who: str, fingerprint: bytes | None, tool: str | None, model: str | None,
                now: float) -> dict[str, int]:
        base = self._base(who)
        m, h = int(now // MINUTE_BUCKET), int(now // HOUR_BUCKET)
        pipe = self._client.pipeline(transaction=False)
        pipe.incr(f"{base}:m:{m}")
        pipe.expire(f"{base}:m:{m}", _MINUTE_TTL)
        pipe.incr(f"{base}:h:{h}")
        pipe.expire(f"{base}:h:{h}", _HOUR_TTL)
        pipe.mget([f"{base}:m:{m - i}" for i in range(1, BUCKETS)])
        pipe.mget([f"{base}:h:{h - i}" for i in range(1, BUCKETS)])
        pipe.mget([f"{base}:d:{h - i}" for i in range(BUCKETS)])
        distinct = (("in", fingerprint), ("tl", tool), ("md", model))
        for kind, member in distinct:
            if member is not None:
                pipe.pfadd(f"{base}:{kind}:{h}", member)
                pipe.expire(f"{base}:{kind}:{h}", _HOUR_TTL)
            pipe.pfcount(*[f"{base}:{kind}:{h - i}" for i in range(BUCKETS)])
        out = pipe.execute()
        counts = [int(out[0]) + _total(out[4]), int(out[2]) + _total(out[5]), _total(out[6])]
        pos, estimates = 7, []
        for _, member in distinct:
            pos += 2 if member is not None else 0
            estimates.append(int(out[pos]))
            pos += 1
        return {"requests_1m": counts[0], "requests_1h": counts[1],
                "distinct_inputs_1h": estimates[0], "distinct_tools_1h": estimates[1],
                "distinct_models_1h": estimates[2], "denied_1h": counts[2]}

    def denied(self, who: str, now: float) -> None:
        key = f"{self._base(who)}:d:{int(now // HOUR_BUCKET)}"
        pipe = self._client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, _HOUR_TTL)
        pipe.execute()


def _total(values: list[Any]) -> int:
    return sum(int(v) for v in values if v is not None)
