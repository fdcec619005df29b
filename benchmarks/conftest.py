"""Benchmark plumbing: a bounded-time ``measure`` fixture and the in-run target check.

``measure`` (``_results.Measure``) wraps pytest-benchmark's pedantic mode with a
round count derived from a time budget per benchmark (env ``ZT_BENCH_BUDGET``,
seconds, default 0.5), so the whole suite stays around a minute or two whatever
the engine speed; timings are still medians over many rounds.

At the end of the session the targets of ``check_ratios.py`` are evaluated on
the figures of *this* run, printed with the table, and a missed gated target
turns the exit status into a failure (only when the figures it needs were
measured, e.g. not under ``--benchmark-disable`` or a ``-k`` subset).
"""

from __future__ import annotations

import os
from typing import Any

import check_ratios
import pytest
from _results import RESULTS, Measure

BUDGET = float(os.environ.get("ZT_BENCH_BUDGET", "0.5"))


@pytest.fixture
def measure(benchmark: Any) -> Measure:
    """measure(key, fn, decisions=..., setup=...) times fn; measure.note(key, value) records."""
    return Measure(benchmark, BUDGET)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RESULTS:
        return
    verdicts = check_ratios.evaluate(RESULTS)
    session.config.stash[_VERDICTS] = verdicts
    if check_ratios.failed(verdicts) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    verdicts = config.stash.get(_VERDICTS, None)
    if verdicts is None:
        return
    terminalreporter.section("zt-policy benchmark figures (this run)")
    terminalreporter.write_line(check_ratios.render(RESULTS, verdicts))
    for v in check_ratios.failed(verdicts):
        terminalreporter.write_line(
            f"FAILED performance target: {v.name}: {v.value:.2f} (goal {v.target})", red=True)


_VERDICTS = pytest.StashKey[list[check_ratios.Verdict]]()
