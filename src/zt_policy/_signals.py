"""Per-identity usage signals (`signals.*`) for policies against inference abuse and extraction.

Time is cut in buckets: 10-second buckets for the one-minute figures, 10-minute buckets for the
one-hour ones. A figure covers the current bucket and the six before it, so "the last hour" is the
last 60 to 70 minutes and "the last minute" the last 60 to 70 seconds. Redis and memory use the same
buckets, so a policy reads the same numbers on one replica or on many.

Distinct counts (inputs, tools, models) are estimates: HyperLogLog in Redis (PFADD/PFCOUNT), and in
memory a linear-counting bitmap per bucket (Whang et al., 1990): a fixed number of bits, one set per
hashed value, a union is a bitwise or, and the count is derived from the share of zero bits. It is
near exact for small counts, bounded in memory, and saturates (reports a ceiling) once every bit is
set. The Redis store lives in `_signals_redis`.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from cachetools import LRUCache

MINUTE_BUCKET = 10  # seconds
HOUR_BUCKET = 600
BUCKETS = 7  # the current bucket and the six before it
INPUT_BITS = 4096  # per 10-minute bucket: ~512 bytes, useful up to ~20 000 distinct inputs
SMALL_BITS = 1024  # tools and models: few distinct values

SIGNAL_NAMES = ("requests_1m", "requests_1h", "distinct_inputs_1h", "distinct_tools_1h",
                "distinct_models_1h", "denied_1h")


class SignalStore(Protocol):
    def observe(self, who: str, fingerprint: bytes | None, tool: str | None, model: str | None,
                now: float) -> dict[str, int]:
        """Record one request and return the signals as they stand with it counted."""

    def denied(self, who: str, now: float) -> None:
        """Record that a request of `who` was denied (read back as `denied_1h`)."""


def field(obj: Any, name: str) -> Any:
    """An attribute of a context root given as a mapping, a pydantic model or None."""
    if obj.__class__ is dict:  # the common case, without an ABC check
        return obj.get(name)
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def subject_key(identity: Any, request: Any) -> str:
    """Whom the signals count: the subject, else the client address, else all anonymous callers."""
    subject = field(identity, "subject")
    if isinstance(subject, str) and subject:
        return "sub:" + subject
    ip = field(request, "ip")
    return f"ip:{ip}" if isinstance(ip, str) and ip else "anonymous"


def input_fingerprint(request: Any) -> bytes | None:
    """A digest of what the request asks: its arguments (the prompt, the tool input) and resource.

    Canonical JSON (sorted keys) so equal inputs give equal fingerprints whatever their key order.
    None when the request carries no input at all.
    """
    arguments = field(request, "arguments")
    resource = field(request, "resource")
    if not arguments and not resource:
        return None
    try:
        text = json.dumps([resource, arguments], sort_keys=True, default=repr,
                          separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted
        text = repr((resource, arguments))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def estimate(bitmap: int, bits: int) -> int:
    """Linear counting: n = -m ln(zeros/m); the ceiling m ln m once the bitmap is full."""
    ones = bitmap.bit_count()
    if ones == 0:
        return 0
    zeros = bits - ones
    if zeros <= 0:
        return round(bits * math.log(bits))
    return round(-bits * math.log(zeros / bits))


class _Slot:
    """One 10-minute bucket of one identity."""

    __slots__ = ("denied", "index", "inputs", "models", "requests", "tools")

    def __init__(self, index: int) -> None:
        self.index = index
        self.requests = 0
        self.denied = 0
        self.inputs = 0
        self.tools = 0
        self.models = 0


class _Track:
    __slots__ = ("hour", "minute")

    def __init__(self) -> None:
        self.minute: deque[list[int]] = deque(maxlen=BUCKETS)  # [bucket index, requests]
        self.hour: deque[_Slot] = deque(maxlen=BUCKETS)

    def slot(self, index: int) -> _Slot:
        if not self.hour or self.hour[-1].index != index:
            self.hour.append(_Slot(index))
        return self.hour[-1]


def _bit(value: object, bits: int) -> int:
    return 1 << (hash(value) % bits)


class MemorySignals:
    """Signals for one process. Bounded: at most `max_identities` tracked (least recently seen
    identities are forgotten first), and a bounded size per identity (~10 KB at worst)."""

    def __init__(self, max_identities: int = 10_000) -> None:
        self._tracks: LRUCache[str, _Track] = LRUCache(maxsize=max_identities)
        self._lock = threading.Lock()

    def observe(self, who: str, fingerprint: bytes | None, tool: str | None, model: str | None,
                now: float) -> dict[str, int]:
        m_index, h_index = int(now // MINUTE_BUCKET), int(now // HOUR_BUCKET)
        with self._lock:
            track = self._tracks.get(who)
            if track is None:
                track = self._tracks[who] = _Track()
            minute = track.minute
            if minute and minute[-1][0] == m_index:
                minute[-1][1] += 1
            else:
                minute.append([m_index, 1])
            slot = track.slot(h_index)
            slot.requests += 1
            if fingerprint is not None:
                slot.inputs |= 1 << (int.from_bytes(fingerprint[:8], "big") % INPUT_BITS)
            if tool is not None:
                slot.tools |= _bit(tool, SMALL_BITS)
            if model is not None:
                slot.models |= _bit(model, SMALL_BITS)
            m_floor, h_floor = m_index - BUCKETS, h_index - BUCKETS
            requests_1m = sum(c for i, c in minute if i > m_floor)
            requests_1h = denied = inputs = tools = models = 0
            for s in track.hour:
                if s.index > h_floor:
                    requests_1h += s.requests
                    denied += s.denied
                    inputs |= s.inputs
                    tools |= s.tools
                    models |= s.models
        return {"requests_1m": requests_1m, "requests_1h": requests_1h,
                "distinct_inputs_1h": estimate(inputs, INPUT_BITS),
                "distinct_tools_1h": estimate(tools, SMALL_BITS),
                "distinct_models_1h": estimate(models, SMALL_BITS), "denied_1h": denied}

    def denied(self, who: str, now: float) -> None:
        with self._lock:
            track = self._tracks.get(who)
            if track is None:
                track = self._tracks[who] = _Track()
            track.slot(int(now // HOUR_BUCKET)).denied += 1
