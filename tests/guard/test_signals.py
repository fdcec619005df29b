"""Per-identity signals: what they count, that they cost nothing unless read, and the extraction
scenario they exist for."""

from __future__ import annotations

import random

import pytest
import redis

import zt_policy
from zt_policy._signals import INPUT_BITS, MemorySignals, estimate, input_fingerprint
from zt_policy._signals_redis import RedisSignals
from zt_policy.guard import Guard

EXTRACTION = """
permit "inference" when request.action == "inference"
forbid "extraction-suspect" when signals.requests_1h > 50 and signals.distinct_inputs_1h > 40
  reason "too many distinct inputs: suspected model extraction"
"""

T0 = 1_800_000_000.0  # a fixed instant on a 10-minute boundary, so bucket edges are known


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> MemorySignals | RedisSignals:
    if request.param == "memory":
        return MemorySignals()
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    request.addfinalizer(client.close)
    return RedisSignals(client)


def fp(text: str) -> bytes | None:
    return input_fingerprint({"arguments": {"prompt": text}})


def test_counts_and_windows(store: MemorySignals | RedisSignals) -> None:
    for i in range(5):
        s = store.observe("sub:alice", fp(f"p{i % 3}"), "search" if i % 2 else "read", "m1",
                          T0 + i)
    assert s == {"requests_1m": 5, "requests_1h": 5, "distinct_inputs_1h": 3,
                 "distinct_tools_1h": 2, "distinct_models_1h": 1, "denied_1h": 0}
    store.denied("sub:alice", T0 + 5)
    store.denied("sub:alice", T0 + 6)
    # 2 minutes later: out of the minute window, still in the hour
    s = store.observe("sub:alice", None, None, "m2", T0 + 120)
    assert s["requests_1m"] == 1 and s["requests_1h"] == 6
    assert s["denied_1h"] == 2 and s["distinct_models_1h"] == 2 and s["distinct_inputs_1h"] == 3
    # another identity is counted apart
    assert store.observe("sub:bob", None, None, None, T0 + 121)["requests_1h"] == 1
    # 71 minutes later every bucket of the first burst has left the window
    s = store.observe("sub:alice", None, None, None, T0 + 71 * 60)
    assert s == {"requests_1m": 1, "requests_1h": 1, "distinct_inputs_1h": 0,
                 "distinct_tools_1h": 0, "distinct_models_1h": 0, "denied_1h": 0}


def test_fingerprints_ignore_key_order_and_see_content() -> None:
    a = input_fingerprint({"arguments": {"x": 1, "y": [1, 2]}})
    assert a == input_fingerprint({"arguments": {"y": [1, 2], "x": 1}})
    assert a != input_fingerprint({"arguments": {"x": 2, "y": [1, 2]}})
    assert input_fingerprint({"arguments": {}}) is None
    assert input_fingerprint(None) is None
    assert input_fingerprint(zt_policy.Request(arguments={"q": "hi"})) is not None
    assert input_fingerprint({"arguments": {1: "a", "b": 2}}) is not None  # unsortable keys


@pytest.mark.parametrize("n", [1, 10, 100, 1000, 5000])
def test_linear_counting_estimate_is_close(n: int) -> None:
    rng = random.Random(n)
    bitmap = 0
    for _ in range(n):
        bitmap |= 1 << rng.randrange(INPUT_BITS)
    assert abs(estimate(bitmap, INPUT_BITS) - n) <= max(2, n * 0.05)


def test_signals_only_when_read() -> None:
    plain = Guard(zt_policy.compile('permit "p" when request.action == "inference"'))
    v = plain.check(identity={"subject": "a"}, request={"action": "inference"})
    assert v.allowed and v.signals is None
    assert plain._store is None  # no store was even built
    forced = Guard(zt_policy.compile('permit "p" when request.action == "inference"'),
                   signals=True)
    assert forced.check(identity={"subject": "a"},
                        request={"action": "inference"}).signals is not None
    reading = Guard(zt_policy.compile(EXTRACTION))
    v = reading.check(identity={"subject": "a"}, request={"action": "inference"})
    assert v.signals is not None and v.signals["requests_1h"] == 1


def test_signals_off_means_zeros(caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard(zt_policy.compile(EXTRACTION), signals=False)
    assert any("signals=False" in r.getMessage() for r in caplog.records)
    assert all(guard.check(identity={"subject": "a"},
                           request={"action": "inference", "arguments": {"p": i}}).allowed
               for i in range(80))


def test_denied_requests_are_counted(storage: str) -> None:
    policies = zt_policy.compile("""
permit "inference" when request.action == "inference"
forbid "persistent-denials" when signals.denied_1h >= 3 reason "too many denied requests"
""")
    guard = Guard(policies, storage=storage)
    who = {"subject": "mallory"}
    for _ in range(3):
        assert not guard.check(identity=who, request={"action": "admin"}).allowed
    v = guard.check(identity=who, request={"action": "inference"})
    assert not v.allowed and v.decision.policies == ("persistent-denials",)
    assert guard.check(identity={"subject": "other"}, request={"action": "inference"}).allowed


def test_extraction_sweep_trips_while_repeated_use_does_not(storage: str) -> None:
    guard = Guard(zt_policy.compile(EXTRACTION), storage=storage)
    sweeper, normal = [], []
    for i in range(120):
        # same rate; the sweeper asks something new every time, the user repeats a few prompts
        sweep = {"action": "inference", "model": "m", "arguments": {"prompt": f"probe {i}"}}
        usual = {"action": "inference", "model": "m", "arguments": {"prompt": f"task {i % 6}"}}
        sweeper.append(guard.check(identity={"subject": "scraper"}, request=sweep))
        normal.append(guard.check(identity={"subject": "analyst"}, request=usual))
    assert all(v.allowed for v in normal)
    first_denied = next(i for i, v in enumerate(sweeper) if not v.allowed)
    assert 50 <= first_denied <= 55  # the 51st request onwards (distinct-count estimates may lag)
    assert all(not v.allowed for v in sweeper[first_denied:])
    assert sweeper[-1].decision.policies == ("extraction-suspect",)
    assert sweeper[-1].status == 403
    assert normal[-1].signals is not None and normal[-1].signals["distinct_inputs_1h"] == 6


def test_anonymous_callers_are_counted_by_address() -> None:
    guard = Guard(zt_policy.compile(EXTRACTION))
    a = guard.check(request={"action": "inference", "ip": "10.0.0.1"})
    guard.check(request={"action": "inference", "ip": "10.0.0.1"})
    b = guard.check(request={"action": "inference", "ip": "10.0.0.2"})
    assert a.signals is not None and b.signals is not None
    assert a.signals["requests_1h"] == 1 and b.signals["requests_1h"] == 1


def test_redis_signal_failure_fails_closed(own_redis: object) -> None:
    from .conftest import RedisServer

    assert isinstance(own_redis, RedisServer)
    guard = Guard(zt_policy.compile(EXTRACTION), storage=own_redis.url)
    assert guard.check(identity={"subject": "a"}, request={"action": "inference"}).allowed
    own_redis.stop()
    v = guard.check(identity={"subject": "a"}, request={"action": "inference"})
    assert not v.allowed and v.status == 503
    open_guard = Guard(zt_policy.compile(EXTRACTION), storage=own_redis.url,
                       on_storage_error="allow")
    v = open_guard.check(identity={"subject": "a"}, request={"action": "inference"})
    assert v.allowed and v.signals is None
