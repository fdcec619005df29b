"""The decision log: fields, masking, sinks, and never blocking a request."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

import zt_policy
from zt_policy.guard import AuditLog, Guard

POLICY = """
permit "inference" when request.action == "inference"
limit "per-user" 2 per 1h by identity.subject reason "quota"
"""

REQUEST = {"action": "inference", "model": "m1", "resource": "models/m1", "ip": "10.1.2.3",
           "arguments": {"prompt": "secret prompt", "n": 1},
           "headers": {"authorization": "Bearer abc"}}


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_file_log_has_the_decision_fields_and_masks_by_default(tmp_path: Path) -> None:
    log = AuditLog(path=tmp_path / "d.jsonl", logger=None)
    guard = Guard(zt_policy.compile(POLICY), audit=log, telemetry=False)
    verdicts = [guard.check(identity={"subject": "alice"}, device={"id": "dev-1"},
                            request=REQUEST) for _ in range(3)]
    verdicts.append(guard.check(identity={"subject": "bob"}, request={"action": "delete"},
                                shadow=True))
    assert log.flush()
    recs = records(tmp_path / "d.jsonl")
    assert [r["decision_id"] for r in recs] == [v.decision_id for v in verdicts]
    first, limited, shadow = recs[0], recs[2], recs[3]
    assert first["allowed"] is True and first["enforced"] is True
    assert first["subject"] == "alice" and first["device_id"] == "dev-1"
    assert (first["action"], first["model"], first["resource"]) == ("inference", "m1", "models/m1")
    assert first["policies"] == ["inference"] and first["limits"] == ["per-user"]
    assert first["arguments"] == {"prompt": "***", "n": "***"}
    assert first["headers"] == {"authorization": "***"}
    assert isinstance(first["latency_ms"], float) and str(first["time"]).endswith("Z")
    assert first["trace_id"] is None  # no tracing configured
    assert limited["allowed"] is False and limited["limited"] == "per-user"
    assert limited["reasons"] == ["quota"] and limited["retry_after"] >= 1
    assert shadow["shadow"] is True and shadow["allowed"] is False and shadow["enforced"] is True
    # the caller's data is untouched
    assert REQUEST["arguments"] == {"prompt": "secret prompt", "n": 1}
    log.close()


def test_configured_masking_and_redaction(tmp_path: Path) -> None:
    log = AuditLog(path=tmp_path / "d.jsonl", logger=None, mask=("arguments.prompt", "ip"),
                   redact=("subject", "headers"))
    guard = Guard(zt_policy.compile(POLICY), audit=log, telemetry=False)
    guard.check(identity={"subject": "alice"}, request=REQUEST)
    log.close()
    (rec,) = records(tmp_path / "d.jsonl")
    assert rec["arguments"] == {"prompt": "***", "n": 1}
    assert rec["ip"] == "***"
    assert "subject" not in rec and "headers" not in rec
    assert REQUEST["arguments"]["prompt"] == "secret prompt"


def test_logging_sink_is_the_default(caplog: pytest.LogCaptureFixture) -> None:
    log = AuditLog()
    guard = Guard(zt_policy.compile(POLICY), audit=log, telemetry=False)
    with caplog.at_level(logging.INFO, logger="zt_policy.decisions"):
        v = guard.check(identity={"subject": "alice"}, request=REQUEST)
        assert log.flush()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zt_policy.decisions"]
    assert [r["decision_id"] for r in lines] == [v.decision_id]
    log.close()


def test_a_stalled_sink_drops_and_counts_instead_of_blocking() -> None:
    gate = threading.Event()
    seen: list[str] = []

    def slow_sink(line: str) -> None:
        gate.wait(10)
        seen.append(line)

    log = AuditLog(logger=None, sink=slow_sink, max_queue=5)
    guard = Guard(zt_policy.compile('permit "p" when request.action == "x"'), audit=log,
                  telemetry=False)
    verdicts = [guard.check(request={"action": "x"}) for _ in range(50)]  # returns: never blocks
    assert all(v.allowed for v in verdicts)
    assert log.dropped >= 50 - 5 - 1  # at most the queue plus the record being written survive
    gate.set()
    assert log.flush()
    assert log.written == len(seen) == 50 - log.dropped
    log.close()


def test_a_broken_sink_loses_records_not_the_writer() -> None:
    calls: list[str] = []

    def broken(line: str) -> None:
        calls.append(line)
        raise OSError("disk full")

    log = AuditLog(logger=None, sink=broken)
    guard = Guard(zt_policy.compile('permit "p" when request.action == "x"'), audit=log,
                  telemetry=False)
    for _ in range(3):
        guard.check(request={"action": "x"})
    assert log.flush()
    assert log.failed == 3 and len(calls) == 3
    log.close()
    guard.check(request={"action": "x"})  # after close: dropped, not raised
    assert log.dropped == 1
