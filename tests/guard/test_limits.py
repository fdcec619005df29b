"""Limits are counted by the guard on every request: bursts, sharing across replicas, failures."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import pytest

import zt_policy
from zt_policy.guard import Guard

from .conftest import RedisServer

POLICY = """
permit "inference" when request.action == "inference"
permit "search" when request.action == "tools/call" and request.tool == "search"
limit "inference-per-user" 7 per 1h by identity.subject, request.model
  when request.action == "inference" reason "inference quota exceeded"
"""


def infer(guard: Guard, subject: str = "alice", model: str = "m1") -> zt_policy.guard.Verdict:
    return guard.check(identity={"subject": subject}, request={"action": "inference", "model": model})


@pytest.fixture()
def policies() -> zt_policy.PolicySet:
    return zt_policy.compile(POLICY, cache_size=1000)


def test_burst_allows_exactly_the_limit(storage: str, policies: zt_policy.PolicySet) -> None:
    guard = Guard(policies, storage=storage)
    verdicts = [infer(guard) for _ in range(25)]
    assert [v.allowed for v in verdicts] == [True] * 7 + [False] * 18
    denied = verdicts[-1]
    assert denied.status == 429
    assert denied.limited is not None and denied.limited.limit == "inference-per-user"
    assert denied.reasons == ("inference quota exceeded",)
    assert denied.decision.policies == ("inference-per-user",)
    assert denied.retry_after is not None and 1 <= denied.retry_after <= 3600
    # the policy decision was served from the cache, and still every request was counted
    info = policies.cache_info()
    assert info is not None and info["hits"] >= 20


def test_limits_are_per_key(storage: str, policies: zt_policy.PolicySet) -> None:
    guard = Guard(policies, storage=storage)
    assert sum(infer(guard, "alice").allowed for _ in range(10)) == 7
    assert sum(infer(guard, "bob").allowed for _ in range(10)) == 7
    assert sum(infer(guard, "alice", model="m2").allowed for _ in range(10)) == 7
    # a request the limit does not apply to is neither counted nor limited
    search = {"action": "tools/call", "tool": "search"}
    assert all(guard.check(identity={"subject": "alice"}, request=search).allowed
               for _ in range(20))


def test_denied_requests_are_not_counted(storage: str, policies: zt_policy.PolicySet) -> None:
    guard = Guard(policies, storage=storage)
    for _ in range(10):
        v = guard.check(identity={"subject": "carol"}, request={"action": "delete", "model": "m1"})
        assert not v.allowed and v.status == 403 and v.limits == ()
    assert sum(infer(guard, "carol").allowed for _ in range(10)) == 7


def test_two_guards_share_one_limit_in_redis(redis_url: str) -> None:
    policies = zt_policy.compile(POLICY)
    replicas = [Guard(policies, storage=redis_url), Guard(policies, storage=redis_url)]
    results: list[bool] = []
    lock = threading.Lock()

    def client(guard: Guard) -> None:
        for _ in range(20):
            ok = infer(guard, "dave").allowed
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=client, args=(g,)) for g in replicas for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80
    assert results.count(True) == 7
    # either replica now refuses, having seen the other's requests
    assert not infer(replicas[0], "dave").allowed and not infer(replicas[1], "dave").allowed


def test_memory_guards_do_not_share(policies: zt_policy.PolicySet) -> None:
    a, b = Guard(policies), Guard(policies)
    assert sum(infer(a).allowed for _ in range(10)) == 7
    assert sum(infer(b).allowed for _ in range(10)) == 7


def test_shadow_mode_reports_but_does_not_enforce(policies: zt_policy.PolicySet) -> None:
    guard = Guard(policies)
    verdicts = [guard.check(identity={"subject": "erin"},
                            request={"action": "inference", "model": "m"}, shadow=True)
                for _ in range(9)]
    assert all(v.allowed and v.status == 200 and v.shadow for v in verdicts)
    assert [v.decision.allowed for v in verdicts] == [True] * 7 + [False] * 2
    assert verdicts[-1].limited is not None
    denied = guard.check(request={"action": "nothing"}, shadow=True)
    assert denied.allowed and not denied.decision.allowed


def test_async_check(storage: str, policies: zt_policy.PolicySet) -> None:
    guard = Guard(policies, storage=storage)

    async def run() -> list[bool]:
        out = []
        for _ in range(9):
            v = await guard.acheck(identity={"subject": "fay"},
                                   request={"action": "inference", "model": "m"})
            out.append(v.allowed)
        return out

    assert asyncio.run(run()) == [True] * 7 + [False] * 2


def test_redis_going_away_fails_closed(own_redis: RedisServer,
                                       caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard(zt_policy.compile(POLICY), storage=own_redis.url)
    assert infer(guard).allowed
    own_redis.stop()
    with caplog.at_level(logging.ERROR, logger="zt_policy.guard"):
        verdicts = [infer(guard) for _ in range(3)]
    assert all(not v.allowed and v.unavailable and v.status == 503 for v in verdicts)
    assert verdicts[0].decision.errors[0].code == "ZT350"
    assert verdicts[0].retry_after == 1
    assert guard.storage_errors == 3
    assert any("storage failed" in r.getMessage() and "denying" in r.getMessage()
               for r in caplog.records)
    # requests the limit does not apply to never touch the storage
    search = {"action": "tools/call", "tool": "search"}
    assert guard.check(identity={"subject": "alice"}, request=search).allowed
    # and counting resumes once Redis is back
    own_redis.start()
    assert infer(guard).allowed


def test_redis_going_away_fails_open_when_configured(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    guard = Guard(zt_policy.compile(POLICY), storage=own_redis.url, on_storage_error="allow")
    own_redis.stop()
    with caplog.at_level(logging.ERROR, logger="zt_policy.guard"):
        verdicts = [infer(guard) for _ in range(10)]
    assert all(v.allowed and not v.unavailable for v in verdicts)
    assert guard.storage_errors == 10
    assert any("allowing without counting" in r.getMessage() for r in caplog.records)


def test_bad_configuration_is_refused(policies: zt_policy.PolicySet) -> None:
    with pytest.raises(ValueError):
        Guard(policies, on_storage_error="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Guard(policies, signals="sometimes")  # type: ignore[arg-type]


def test_a_redis_that_never_answers_fails_closed_instead_of_hanging() -> None:
    # a listening socket that accepts connections and never replies: reads time out
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        guard = Guard(zt_policy.compile(POLICY), storage=f"redis://127.0.0.1:{port}")
        v = infer(guard)
        assert not v.allowed and v.status == 503 and v.decision.errors[0].code == "ZT350"
