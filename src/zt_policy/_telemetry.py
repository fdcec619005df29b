"""OpenTelemetry for decisions, through `opentelemetry-api` only.

The application chooses the SDK and exporters (or none). Without an SDK every call here lands on
the API's no-op objects, so the cost is a few attribute lookups per decision; the attributes of a
span are only built when the span is recording. Instruments:

- `zt_policy.decisions` (counter): decisions by `zt_policy.outcome` (allow, deny, limited) and
  `zt_policy.shadow`.
- `zt_policy.decision.duration` (histogram, seconds): time to decide, limits and signals included.
- `zt_policy.limit.denials` (counter): requests denied by an exceeded limit, by `zt_policy.limit`.
- `zt_policy.cache.hit_ratio` (gauge): hits / lookups of the policy set's decision cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Status, StatusCode

_NAME = "zt_policy"
SPAN_NAME = "zt_policy.decision"
_PLACEHOLDERS = (ProxyTracerProvider, NoOpTracerProvider)


class Telemetry:
    def __init__(
        self,
        cache_info: Callable[[], Mapping[str, int] | None],
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        from . import __version__

        self._tracer = trace.get_tracer(_NAME, __version__, tracer_provider=tracer_provider)
        # Without an SDK a span is a no-op that still costs ~0.5 us to make; while the global
        # provider is the API's placeholder we skip it, looking again at most once a second
        # (an SDK installed later is picked up; once installed it stays).
        self._tracing = tracer_provider is not None
        self._next_look = 0.0
        meter = metrics.get_meter(_NAME, __version__, meter_provider=meter_provider)
        self._decisions = meter.create_counter(
            "zt_policy.decisions", unit="{decision}", description="Decisions by outcome")
        self._duration = _histogram(meter)
        self._limited = meter.create_counter(
            "zt_policy.limit.denials", unit="{request}",
            description="Requests denied because a rate limit was exceeded")
        self._cache_info = cache_info
        meter.create_observable_gauge(
            "zt_policy.cache.hit_ratio", callbacks=[self._observe_cache], unit="1",
            description="Share of decisions answered from the policy set's decision cache")
        # one attribute dict per (outcome, shadow), shared: no allocation per decision
        self._attrs = {(o, s): {"zt_policy.outcome": o, "zt_policy.shadow": s}
                       for o in ("allow", "deny", "limited") for s in (False, True)}

    def record(self, outcome: str, shadow: bool, seconds: float, limit: str | None) -> None:
        attrs = self._attrs[(outcome, shadow)]
        self._decisions.add(1, attrs)
        self._duration.record(seconds, attrs)
        if limit is not None:
            self._limited.add(1, {"zt_policy.limit": limit})

    def start_span(self, start_ns: int) -> trace.Span | None:
        """The decision's span, a child of the caller's current span (the adapter's request);
        None while no SDK is installed."""
        if not self._tracing:
            now = time.monotonic()
            if now < self._next_look:
                return None
            self._next_look = now + 1.0
            if isinstance(trace.get_tracer_provider(), _PLACEHOLDERS):
                return None
            self._tracing = True
        return self._tracer.start_span(SPAN_NAME, start_time=start_ns)

    @staticmethod
    def finish(span: trace.Span, attributes: Callable[[], dict[str, Any]], error: str | None) -> None:
        if span.is_recording():
            span.set_attributes(attributes())
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error))
        span.end()

    def _observe_cache(self, _options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        try:
            info = self._cache_info()
        except Exception:
            return []
        if not info:
            return []
        lookups = info.get("hits", 0) + info.get("misses", 0)
        return [metrics.Observation(info.get("hits", 0) / lookups if lookups else 0.0)]


def _histogram(meter: metrics.Meter) -> metrics.Histogram:
    """Decisions take microseconds: the SDK's default buckets (0, 5, 10, ... in the unit) would put
    them all in the first one, so advise sub-millisecond boundaries (API >= 1.23 takes advice)."""
    name, unit = "zt_policy.decision.duration", "s"
    description = "Time to decide one request, limits and signals included"
    try:
        return meter.create_histogram(name, unit, description,
                                      explicit_bucket_boundaries_advisory=_BOUNDARIES)
    except TypeError:  # an older API without advice
        return meter.create_histogram(name, unit, description)


_BOUNDARIES = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2,
               0.1, 1.0)


def trace_ids(span: trace.Span | None) -> tuple[str | None, str | None]:
    """Trace and span id (hex) of `span` (ended or not), else of the current span; None outside
    any trace. A no-op span carries its parent's context, so the adapter's ids still show."""
    ctx = (span if span is not None else trace.get_current_span()).get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
