"""Benchmark plumbing: a bounded-time ``measure`` fixture and the in-run target check.

``measure`` wraps pytest-benchmark's pedantic mode with a round count derived from
a time budget per benchmark (env ``ZT_BENCH_BUDGET``, seconds, default 0.5), so the
whole suite stays around a minute whatever the engine speed; pedantic timings are
still medians over many rounds.

At the end of the session the targets of ``check_ratios.py`` are evaluated on
the figures of *this* run, printed with the table, and a missed gated target
turns the exit status into a failure (only when the figures it needs were
measured, e.g. not under ``--benchmark-disable`` or a ``-k`` subset).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import check_ratios
import pytest
from _results import RESULTS, Measure

BUDGET = float(os.environ.get("ZT_BENCH_BUDGET", "0.5"))
MIN_ROUNDS, MAX_ROUNDS = 5, 2000


@pytest.fixture
def measure(benchmark: Any) -> Measure:
    """measure(key, fn, decisions=1, setup=None, group=None): time fn, record per-decision."""

    def run(result_key: str, fn: Callable[..., Any], *, decisions: int = 1,
            setup: Callable[[], Any] | None = None, group: str | None = None,
            budget: float = BUDGET, min_rounds: int = MIN_ROUNDS) -> None:
        args = setup() if setup else ()
        start = time.perf_counter()
        fn(*args)  # warm-up, and an estimate of one round
        once = time.perf_counter() - start
        rounds = max(min_rounds, min(MAX_ROUNDS, int(budget / max(once, 1e-9))))
        benchmark.group = group or result_key.rsplit("/", 1)[0]
        benchmark.extra_info.update(key=result_key, decisions=decisions)
        if setup is None:
            benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
        else:
            benchmark.pedantic(fn, setup=lambda: (setup(), {}), rounds=rounds)
        if benchmark.enabled and benchmark.stats is not None:
            per = benchmark.stats.stats.median / decisions
            RESULTS[result_key] = per
            benchmark.extra_info["per_decision_us"] = round(per * 1e6, 4)

    return run


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
