"""The stateful layer around a policy set: rate limits, usage signals, decision log, telemetry.

`PolicySet.decide()` is pure and cached, so it can only say *which* limits apply to a request; the
`Guard` counts them, on every request, so a cached decision never outlives a limit. It also
computes the per-identity `signals.*` (only when the policies read them), writes the decision log
and reports to OpenTelemetry:

    from zt_policy.guard import AuditLog, Guard
    guard = Guard(policies, storage="redis://127.0.0.1:6379", audit=AuditLog(path="decisions.jsonl"))
    verdict = guard.check(identity=..., device=..., request=...)
    if not verdict.allowed:
        ...  # verdict.status: 403, 429 (verdict.retry_after seconds) or 503 (storage down)

`limits` (and `redis` for Redis storage) are imported when a Guard is built, never by
`import zt_policy`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from opentelemetry import metrics, trace

from ._audit import AuditLog
from ._decision import Decision, LimitHit
from ._guard_limits import RateLimits, retry_seconds, scheme_of
from ._guard_verdict import UNAVAILABLE, Verdict, limited_decision
from ._policyset import PolicySet
from ._signals import MemorySignals, SignalStore, field, input_fingerprint, subject_key
from ._telemetry import Telemetry, trace_ids

__all__ = ["AuditLog", "Guard", "Verdict", "input_fingerprint"]

logger = logging.getLogger("zt_policy.guard")


class Guard:
    """Policies plus counting. Thread-safe; build one per app and share it.

    storage: where limits and signals are counted: "memory://" (one process) or a Redis URI
        ("redis://host:6379", "rediss://...", "redis+unix:///path") shared by every replica.
    storage_options: passed to the `limits` storage (Redis gets 0.25 s socket timeouts by default).
    on_storage_error: "deny" (default: fail closed, HTTP 503) or "allow" (count nothing, decide on).
        Either way the failure is logged on the "zt_policy.guard" logger.
    signals: "auto" computes `signals.*` only when the policies read them; True always (they are
        then logged); False never (the policies see zeros).
    audit: an `AuditLog` for the decision log, or None.
    telemetry: report spans and metrics through the OpenTelemetry API (negligible without an SDK);
        tracer_provider / meter_provider override the global ones.
    fingerprint: how a request's input is digested for `signals.distinct_inputs_1h`.
    """

    def __init__(
        self,
        policies: PolicySet,
        *,
        storage: str = "memory://",
        storage_options: dict[str, Any] | None = None,
        on_storage_error: Literal["deny", "allow"] = "deny",
        signals: bool | Literal["auto"] = "auto",
        audit: AuditLog | None = None,
        telemetry: bool = True,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        fingerprint: Callable[[Any], bytes | None] = input_fingerprint,
        max_identities: int = 10_000,
    ) -> None:
        if on_storage_error not in ("deny", "allow"):
            raise ValueError("on_storage_error must be 'deny' or 'allow'")
        if signals not in (True, False, "auto"):
            raise ValueError("signals must be True, False or 'auto'")
        self._limits = RateLimits(storage, storage_options)
        self._fail_closed = on_storage_error == "deny"
        self._signals_mode = signals
        self._store_args = (storage, storage_options, max_identities)
        self._store: SignalStore | None = None
        self.audit = audit
        self._fingerprint = fingerprint
        self._telemetry = Telemetry(self._cache_info, tracer_provider=tracer_provider,
                                    meter_provider=meter_provider) if telemetry else None
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self._error_lock = threading.Lock()
        self._last_error_log = 0.0
        self.storage_errors = 0  # failures of the limit/signal storage so far
        self.policies = policies

    @property
    def remote(self) -> bool:
        """True when counting goes over the network (Redis): async callers should then use
        `acheck()` (or a worker thread) rather than block their event loop on `check()`."""
        return self._limits.remote

    @property
    def policies(self) -> PolicySet:
        return self._policies

    @policies.setter
    def policies(self, policies: PolicySet) -> None:
        """Swap the policy set (hot reload); counts and signals carry over."""
        reads = any(r == "signals" or r.startswith("signals.") for r in policies.reads)
        if reads and self._signals_mode is False:
            logger.warning("zt-policy: the policies read signals.* but the guard has signals=False;"
                           " they will see zeros")
        self._pass_signals = reads and self._signals_mode is not False
        if (self._pass_signals or self._signals_mode is True) and self._store is None:
            self._store = _signal_store(*self._store_args)
        self._count_signals = self._pass_signals or self._signals_mode is True
        self._policies = policies

    def check(self, identity: Any = None, device: Any = None, request: Any = None, *,
              shadow: bool = False) -> Verdict:
        """Decide one request and count it. Never raises for bad input or a failing storage."""
        start_ns = time.time_ns()
        t0 = time.perf_counter()
        policies, store = self._policies, self._store if self._count_signals else None
        signals = who = None
        failed = False
        if store is not None:
            who = subject_key(identity, request)
            try:
                signals = store.observe(who, self._fingerprint(request), _text(request, "tool"),
                                        _text(request, "model"), time.time())
            except Exception as exc:
                failed = self._storage_failed("signals", exc)
        if failed and self._fail_closed:
            decision = UNAVAILABLE
        elif self._pass_signals and signals is not None:
            decision = policies.decide(identity, device, request, signals=signals)
        else:
            decision = policies.decide(identity, device, request)
        applied = decision.limits if decision.allowed else ()
        limited: LimitHit | None = None
        retry: int | None = None
        for hit in applied:
            try:
                wait = self._limits.hit(hit)
            except Exception as exc:
                failed = self._storage_failed("limits", exc)
                if self._fail_closed:
                    decision = UNAVAILABLE
                    break
                continue
            if wait is not None:
                limited, retry, decision = hit, retry_seconds(wait), limited_decision(hit)
                break
        unavailable = decision is UNAVAILABLE
        if store is not None and who is not None and not decision.allowed and not unavailable:
            try:
                store.denied(who, time.time())
            except Exception as exc:
                self._storage_failed("signals", exc)
        verdict = Verdict(decision, decision.allowed or shadow,
                          f"{self._id_prefix}-{next(self._ids):x}", limited,
                          1 if unavailable else retry, shadow, unavailable, applied, signals)
        seconds = time.perf_counter() - t0
        if self._telemetry is not None or self.audit is not None:
            try:
                self._report(verdict, identity, device, request, start_ns, seconds)
            except Exception:  # reporting never changes or fails the answer
                logger.exception("zt-policy: reporting decision %s failed", verdict.decision_id)
        return verdict

    async def acheck(self, identity: Any = None, device: Any = None, request: Any = None, *,
                     shadow: bool = False) -> Verdict:
        """`check()` for async code: with remote storage it runs in a worker thread, so a Redis
        round trip never blocks the event loop; in memory it runs inline."""
        if self.remote:
            return await asyncio.to_thread(self.check, identity, device, request, shadow=shadow)
        return self.check(identity, device, request, shadow=shadow)

    def _report(self, v: Verdict, identity: Any, device: Any, request: Any, start_ns: int,
                seconds: float) -> None:
        d = v.decision
        outcome = "allow" if d.allowed else ("limited" if v.limited is not None else "deny")
        span = None
        tel = self._telemetry
        if tel is not None:
            tel.record(outcome, v.shadow, seconds, v.limited.limit if v.limited else None)
            span = tel.start_span(start_ns)
            if span is not None:
                tel.finish(span, lambda: _span_attributes(v, outcome, request),
                           d.errors[0].message if d.errors else None)
        if self.audit is not None:
            trace_id, span_id = trace_ids(span)
            self.audit.submit({
                "time": start_ns / 1e9, "decision_id": v.decision_id, "trace_id": trace_id,
                "span_id": span_id, "shadow": v.shadow, "allowed": d.allowed,
                "enforced": v.allowed, "outcome": outcome,
                "subject": field(identity, "subject"), "device_id": field(device, "id"),
                "action": field(request, "action"), "tool": field(request, "tool"),
                "model": field(request, "model"), "resource": field(request, "resource"),
                "method": field(request, "method"), "path": field(request, "path"),
                "ip": field(request, "ip"), "policies": list(d.policies),
                "reasons": list(d.reasons), "errors": [e.to_dict() for e in d.errors],
                "limits": [h.limit for h in v.limits],
                "limited": v.limited.limit if v.limited else None, "retry_after": v.retry_after,
                "signals": v.signals, "latency_ms": round(seconds * 1000, 4),
                "arguments": field(request, "arguments"), "headers": field(request, "headers"),
            })

    def _storage_failed(self, what: str, exc: Exception) -> bool:
        """Count and log (at most every 10 s) a storage failure; True so callers can mark it."""
        with self._error_lock:
            self.storage_errors += 1
            now = time.monotonic()
            if self.storage_errors > 1 and now - self._last_error_log < 10.0:
                return True
            self._last_error_log = now
        logger.error("zt-policy: %s storage failed (%s: %s); %s (%d failures so far)", what,
                     type(exc).__name__, exc,
                     "denying" if self._fail_closed else "allowing without counting",
                     self.storage_errors)
        return True

    def _cache_info(self) -> dict[str, int] | None:
        return self._policies.cache_info()


def _text(request: Any, name: str) -> str | None:
    v = field(request, name)
    return v if isinstance(v, str) else None


def _span_attributes(v: Verdict, outcome: str, request: Any) -> dict[str, Any]:
    d: Decision = v.decision
    attrs: dict[str, Any] = {
        "zt_policy.decision_id": v.decision_id, "zt_policy.allowed": d.allowed,
        "zt_policy.outcome": outcome, "zt_policy.shadow": v.shadow,
        "zt_policy.policies": list(d.policies), "zt_policy.reasons": list(d.reasons),
    }
    for name in ("action", "tool", "model", "resource"):
        value = field(request, name)
        if isinstance(value, str):
            attrs[f"zt_policy.request.{name}"] = value
    if v.limits:
        attrs["zt_policy.limits"] = [h.limit for h in v.limits]
    if v.limited is not None:
        attrs["zt_policy.limited"] = v.limited.limit
        attrs["zt_policy.retry_after"] = v.retry_after or 0
    if d.errors:
        attrs["zt_policy.errors"] = [e.code for e in d.errors]
    return attrs


def _signal_store(uri: str, options: dict[str, Any] | None, max_identities: int) -> SignalStore:
    scheme = scheme_of(uri)
    if scheme == "memory":
        return MemorySignals(max_identities)
    if scheme not in ("redis", "rediss", "redis+unix"):
        raise ValueError(f"signals need memory:// or a redis:// storage, not {scheme}://")
    import redis

    from ._signals_redis import RedisSignals

    opts: dict[str, Any] = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}
    opts.update(options or {})
    url = "unix" + uri[len("redis+unix"):] if scheme == "redis+unix" else uri
    return RedisSignals(redis.Redis.from_url(url, **opts))

