"""OpenTelemetry spans and metrics, checked with the SDK's in-memory exporters."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import zt_policy
from zt_policy.guard import AuditLog, Guard

POLICY = """
permit "inference" when request.action == "inference"
limit "per-user" 2 per 1h by identity.subject when request.action == "inference" reason "quota"
"""


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def metrics(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        if data is None:  # nothing was ever recorded
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out[m.name] = list(m.data.data_points)
        return out


@pytest.fixture()
def otel() -> Otel:
    return Otel()


def test_a_span_per_decision_with_its_attributes(otel: Otel, tmp_path: Path) -> None:
    log = AuditLog(path=tmp_path / "d.jsonl", logger=None)
    guard = Guard(zt_policy.compile(POLICY), audit=log, tracer_provider=otel.tracer_provider,
                  meter_provider=otel.meter_provider)
    parent_tracer = otel.tracer_provider.get_tracer("app")
    with parent_tracer.start_as_current_span("POST /v1/infer") as request_span:
        verdicts = [guard.check(identity={"subject": "a"},
                                request={"action": "inference", "model": "m"}) for _ in range(3)]
    guard.check(request={"action": "delete"})
    spans = [s for s in otel.spans.get_finished_spans() if s.name == "zt_policy.decision"]
    assert len(spans) == 4
    first, limited, denied = spans[0], spans[2], spans[3]
    assert first.parent is not None
    assert first.parent.span_id == request_span.get_span_context().span_id
    assert first.attributes is not None and limited.attributes is not None
    assert first.attributes["zt_policy.decision_id"] == verdicts[0].decision_id
    assert first.attributes["zt_policy.outcome"] == "allow"
    assert first.attributes["zt_policy.request.model"] == "m"
    assert tuple(first.attributes["zt_policy.limits"]) == ("per-user",)
    assert limited.attributes["zt_policy.outcome"] == "limited"
    assert limited.attributes["zt_policy.limited"] == "per-user"
    assert int(limited.attributes["zt_policy.retry_after"]) >= 1
    assert denied.attributes is not None and denied.attributes["zt_policy.outcome"] == "deny"
    assert denied.parent is None
    # the log names the span's trace, to join logs and traces
    log.close()
    import json

    first_rec = json.loads((tmp_path / "d.jsonl").read_text().splitlines()[0])
    assert first_rec["trace_id"] == format(first.context.trace_id, "032x")
    assert first_rec["span_id"] == format(first.context.span_id, "016x")


def test_metrics_by_outcome_latency_limits_and_cache(otel: Otel) -> None:
    policies = zt_policy.compile(POLICY, cache_size=100)
    guard = Guard(policies, tracer_provider=otel.tracer_provider,
                  meter_provider=otel.meter_provider)
    for _ in range(5):
        guard.check(identity={"subject": "a"}, request={"action": "inference"})
    guard.check(request={"action": "delete"})
    guard.check(request={"action": "delete"}, shadow=True)
    m = otel.metrics()
    by_outcome = {(p.attributes["zt_policy.outcome"], p.attributes["zt_policy.shadow"]): p.value
                  for p in m["zt_policy.decisions"]}
    assert by_outcome == {("allow", False): 2, ("limited", False): 3, ("deny", False): 1,
                          ("deny", True): 1}
    assert sum(p.count for p in m["zt_policy.decision.duration"]) == 7
    assert all(p.sum >= 0 for p in m["zt_policy.decision.duration"])
    # microsecond buckets, not the SDK's millisecond-scale defaults
    assert m["zt_policy.decision.duration"][0].explicit_bounds[0] == pytest.approx(1e-6)
    (denials,) = m["zt_policy.limit.denials"]
    assert denials.value == 3 and denials.attributes["zt_policy.limit"] == "per-user"
    (ratio,) = m["zt_policy.cache.hit_ratio"]
    info = policies.cache_info()
    assert info is not None
    assert ratio.value == pytest.approx(info["hits"] / (info["hits"] + info["misses"]))
    assert 0 < ratio.value < 1


def test_telemetry_off_records_nothing(otel: Otel) -> None:
    guard = Guard(zt_policy.compile(POLICY), telemetry=False,
                  tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    guard.check(identity={"subject": "a"}, request={"action": "inference"})
    assert otel.spans.get_finished_spans() == ()
    assert "zt_policy.decisions" not in otel.metrics()


def test_without_an_sdk_nothing_breaks() -> None:
    guard = Guard(zt_policy.compile(POLICY))  # global no-op providers
    assert guard.check(identity={"subject": "a"}, request={"action": "inference"}).allowed


def test_an_sdk_installed_after_the_guard_is_picked_up() -> None:
    # global providers can be set once per process: do it in a process of its own
    script = textwrap.dedent("""
        import time
        import zt_policy
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from zt_policy.guard import Guard

        guard = Guard(zt_policy.compile('permit "p" when request.action == "x"'))
        guard.check(request={"action": "x"})  # no SDK yet: no span
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        time.sleep(1.1)  # the guard looks for an SDK at most once a second
        guard.check(request={"action": "x"})
        print(len(exporter.get_finished_spans()))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
