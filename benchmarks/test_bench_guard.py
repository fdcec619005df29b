"""What the guard costs per request: limits (memory, Redis), signals, decision log, telemetry.

Each figure is the median time per `check()` over batches of requests, printed at the end:

    python -m pytest benchmarks/test_bench_guard.py -q

`decide` is the bare policy decision for scale; `guard/...` adds one layer at a time. Redis runs
are against a real local redis-server (loopback, so they show the round trip, not the network).
Telemetry "no SDK" is the cost paid by every app that does not configure OpenTelemetry; it must
stay negligible next to the decision itself.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import zt_policy
from zt_policy.guard import AuditLog, Guard

BATCH = 200
FIGURES: dict[str, float] = {}
PLAIN = """
permit "inference" when request.action == "inference" and "ml" in identity.groups
forbid "unmanaged" when not device.managed
"""
LIMITED = PLAIN + """
limit "per-user-model" 1000000000 per 1h by identity.subject, request.model
  when request.action == "inference"
"""
SIGNALS = LIMITED + """
forbid "extraction-suspect" when signals.requests_1h > 1000000000 and signals.distinct_inputs_1h > 4000
"""
IDENTITY = {"subject": "alice", "groups": ["ml"]}
DEVICE = {"id": "d1", "managed": True, "posture": 90}
REQUESTS = [{"action": "inference", "model": f"m{i % 4}", "arguments": {"prompt": f"p{i % 50}"}}
            for i in range(BATCH)]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url, socket_timeout=1)
    for _ in range(300):
        try:
            client.ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    client.close()
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def measure(benchmark: Any) -> Callable[..., None]:
    def run(key: str, fn: Callable[[], None], calls: int = BATCH, rounds: int = 40) -> None:
        benchmark.group = "guard"
        benchmark.extra_info["key"] = key
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=2)
        if benchmark.enabled and benchmark.stats is not None:
            FIGURES[key] = benchmark.stats.stats.median / calls
            benchmark.extra_info["per_call_us"] = round(FIGURES[key] * 1e6, 3)

    return run


def _batch(check: Callable[..., Any]) -> Callable[[], None]:
    def run() -> None:
        for r in REQUESTS:
            check(identity=IDENTITY, device=DEVICE, request=r)

    return run


def test_decide_bare(measure: Callable[..., None]) -> None:
    ps = zt_policy.compile(PLAIN)
    measure("decide (no guard)", _batch(ps.decide))


def test_decide_with_limit(measure: Callable[..., None]) -> None:
    ps = zt_policy.compile(LIMITED)
    measure("decide with a limit (not counted)", _batch(ps.decide))


def test_guard_no_limit(measure: Callable[..., None]) -> None:
    guard = Guard(zt_policy.compile(PLAIN), telemetry=False)
    measure("guard/no limit, no log, no telemetry", _batch(guard.check))


def test_guard_limit_memory(measure: Callable[..., None]) -> None:
    guard = Guard(zt_policy.compile(LIMITED), telemetry=False)
    measure("guard/limit in memory", _batch(guard.check))


def test_guard_limit_redis(measure: Callable[..., None], redis_url: str) -> None:
    guard = Guard(zt_policy.compile(LIMITED), storage=redis_url, telemetry=False)
    measure("guard/limit in Redis", _batch(guard.check), rounds=15)


def test_guard_signals_memory(measure: Callable[..., None]) -> None:
    guard = Guard(zt_policy.compile(SIGNALS), telemetry=False)
    measure("guard/limit + signals in memory", _batch(guard.check))


def test_guard_signals_redis(measure: Callable[..., None], redis_url: str) -> None:
    guard = Guard(zt_policy.compile(SIGNALS), storage=redis_url, telemetry=False)
    measure("guard/limit + signals in Redis", _batch(guard.check), rounds=15)


def test_guard_telemetry_without_sdk(measure: Callable[..., None]) -> None:
    guard = Guard(zt_policy.compile(LIMITED))  # global providers: the API's no-op ones
    measure("guard/limit in memory + telemetry, no SDK", _batch(guard.check))


def test_guard_no_limit_telemetry_without_sdk(measure: Callable[..., None]) -> None:
    guard = Guard(zt_policy.compile(PLAIN))
    measure("guard/no limit + telemetry, no SDK", _batch(guard.check))


def test_guard_telemetry_with_sdk(measure: Callable[..., None]) -> None:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    guard = Guard(zt_policy.compile(LIMITED), tracer_provider=tp, meter_provider=mp)
    measure("guard/limit in memory + telemetry, SDK (in-memory export)", _batch(guard.check),
            rounds=15)


def test_guard_audit_log(measure: Callable[..., None], tmp_path: Path) -> None:
    log = AuditLog(logger=None, path=tmp_path / "decisions.jsonl", max_queue=1_000_000)
    guard = Guard(zt_policy.compile(LIMITED), audit=log, telemetry=False)
    measure("guard/limit in memory + decision log (file)", _batch(guard.check), rounds=15)
    assert log.flush(30)
    lines = (tmp_path / "decisions.jsonl").read_text().count("\n")
    assert lines == log.written and log.dropped == 0 and log.written > 0
    log.close()


@pytest.fixture(scope="module", autouse=True)
def print_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not FIGURES or reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line("zt-policy guard figures (median per request):")
        base = FIGURES.get("guard/limit in memory")
        for key, value in FIGURES.items():
            extra = ""
            if base and key.startswith("guard/limit in memory +"):
                extra = f"  (+{(value - base) * 1e6:.2f} us over the limit in memory)"
            bare = FIGURES.get("guard/no limit, no log, no telemetry")
            if bare and key == "guard/no limit + telemetry, no SDK":
                extra = f"  (+{(value - bare) * 1e6:.2f} us over the guard without telemetry)"
            reporter.write_line(f"  {key:<62} {value * 1e6:9.2f} us{extra}")
