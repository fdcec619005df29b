"""The guard's surface: imports stay light, models and threads work, verdicts are complete."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

import zt_policy
from zt_policy.guard import AuditLog, Guard

POLICY = """
permit "inference" when request.action == "inference"
limit "per-user" 7 per 1h by identity.subject reason "quota"
"""


def test_importing_does_not_load_limits_or_redis() -> None:
    script = ("import sys, zt_policy, zt_policy.guard; "
              "print(sorted(m for m in ('limits', 'redis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    script = "import sys, zt_policy; print('zt_policy.guard' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "False"


def test_threads_in_one_process_share_the_memory_limit() -> None:
    guard = Guard(zt_policy.compile(POLICY))
    results: list[bool] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(25):
            ok = guard.check(identity={"subject": "a"}, request={"action": "inference"}).allowed
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and results.count(True) == 7


def test_pydantic_models_work_as_context() -> None:
    guard = Guard(zt_policy.compile(POLICY), signals=True)
    ident = zt_policy.Identity(subject="bob")
    req = zt_policy.Request(action="inference", arguments={"prompt": "hi"})
    verdicts = [guard.check(identity=ident, device=zt_policy.Device(), request=req)
                for _ in range(8)]
    assert [v.allowed for v in verdicts] == [True] * 7 + [False]
    assert verdicts[0].signals is not None and verdicts[0].signals["distinct_inputs_1h"] == 1


def test_bad_context_is_denied_not_raised() -> None:
    guard = Guard(zt_policy.compile(POLICY), signals=True)
    v = guard.check(identity="not a mapping", request={"action": "inference"})
    assert not v.allowed and v.status == 403 and v.decision.errors


def test_verdict_to_dict_and_ids() -> None:
    guard = Guard(zt_policy.compile(POLICY))
    a = guard.check(identity={"subject": "c"}, request={"action": "inference"})
    b = guard.check(identity={"subject": "c"}, request={"action": "inference"})
    assert a.decision_id != b.decision_id
    d = a.to_dict()
    assert d["allowed"] is True and d["status"] == 200 and d["limits"][0]["limit"] == "per-user"
    assert bool(a) and not a.denied


def test_policies_can_be_swapped() -> None:
    guard = Guard(zt_policy.compile('permit "p" when request.action == "inference"'))
    assert guard.check(request={"action": "inference"}).signals is None
    guard.policies = zt_policy.compile(
        'permit "p" when request.action == "inference" and signals.requests_1m < 3')
    assert [guard.check(request={"action": "inference"}).allowed for _ in range(4)] == [
        True, True, False, False]


def test_broken_reporting_and_fingerprints_never_fail_a_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenLog(AuditLog):
        def submit(self, record: dict[str, Any]) -> None:
            raise RuntimeError("sink exploded")

    log = BrokenLog(logger=None)
    guard = Guard(zt_policy.compile(POLICY), audit=log)
    v = guard.check(identity={"subject": "z"}, request={"action": "inference"})
    assert v.allowed
    assert any("reporting decision" in r.getMessage() for r in caplog.records)
    log.close()

    def fingerprint(request: Any) -> bytes:
        raise ValueError("bad fingerprint")

    closed = Guard(zt_policy.compile(POLICY), signals=True, fingerprint=fingerprint)
    v = closed.check(identity={"subject": "z"}, request={"action": "inference"})
    assert not v.allowed and v.status == 503  # fail closed: the signals could not be computed


def test_remote_says_whether_counting_goes_over_the_network(redis_url: str) -> None:
    assert not Guard(zt_policy.compile(POLICY)).remote
    assert Guard(zt_policy.compile(POLICY), storage=redis_url).remote
