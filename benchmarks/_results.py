"""In-run results shared between the benchmark tests and the conftest hooks.

Keys are ``kind/engine/n`` (e.g. ``decide/zt-policy uncached/1000``); values are
seconds per decision (``decide``, ``stream``), seconds per compile (``compile``),
bytes (``memory-peak``, ``memory-retained``) or plain ratios (``ratio-*``). The
same keys are written into pytest-benchmark's ``extra_info`` so that
``check_ratios.py`` can rebuild this dict from a ``--benchmark-json`` file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RESULTS: dict[str, float] = {}
MIN_ROUNDS, MAX_ROUNDS = 5, 2000


def key(kind: str, engine: str, n: int) -> str:
    return f"{kind}/{engine}/{n}"


class Measure:
    """The ``measure`` fixture: pytest-benchmark's pedantic mode with a time budget.

    The round count comes from timing one warm-up round against ``budget``, so a
    0.3 us engine and a 1 ms engine both take about ``budget`` seconds while still
    giving medians over many rounds.
    """

    def __init__(self, benchmark: Any, budget: float) -> None:
        self.benchmark = benchmark
        self.budget = budget

    @property
    def enabled(self) -> bool:
        return bool(self.benchmark.enabled)

    def __call__(self, result_key: str, fn: Callable[..., Any], *, decisions: int = 1,
                 setup: Callable[[], tuple[Any, ...]] | None = None, group: str | None = None,
                 budget: float | None = None, min_rounds: int = MIN_ROUNDS) -> None:
        bench = self.benchmark
        args = setup() if setup else ()
        start = time.perf_counter()
        fn(*args)  # warm-up, and an estimate of one round
        once = time.perf_counter() - start
        rounds = max(min_rounds, min(MAX_ROUNDS, int((budget or self.budget) / max(once, 1e-9))))
        bench.group = group or result_key.rsplit("/", 1)[0]
        bench.extra_info.update(key=result_key, decisions=decisions)
        if setup is None:
            bench.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
        else:
            bench.pedantic(fn, setup=lambda: (setup(), {}), rounds=rounds)
        if bench.enabled and bench.stats is not None:
            per = bench.stats.stats.median / decisions
            RESULTS[result_key] = per
            bench.extra_info["per_decision_us"] = round(per * 1e6, 4)

    def note(self, result_key: str, value: float) -> None:
        """Record a figure that is not a timing of this benchmark (a ratio, bytes)."""
        RESULTS[result_key] = value
        self.benchmark.extra_info[result_key] = value
