"""A/B ratios measured round by round, so that a noisy neighbour cannot fake a regression.

Medians of two benchmarks taken a minute apart can drift apart when something
else runs on the machine for a while (a shared CI runner, a parallel job). The
gated targets are ratios, so they are also measured here the robust way: the two
engines alternate round after round (the order flips every round) and the result
is the median of the per-round ratios; a slow spell hits both sides of a pair.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

Batch = Callable[..., Any]


def interleaved_ratio(a: Batch, b: Batch, make_args: Callable[[], tuple[Any, ...]],
                      budget: float = 0.6, min_pairs: int = 15, max_pairs: int = 400,
                      warm: bool = True) -> float:
    """Median over alternating rounds of time(a) / time(b); both get the same fresh args.

    With ``warm``, each side runs once untimed right before its timed run, so that
    neither pays for the CPU caches the other one just evicted (a native engine
    moving megabytes through JSON makes the next Python loop start cold), as in a
    separate benchmark. Not for decision caches: a warm-up on the same args would
    turn every later miss into a hit.
    """

    def timed(fn: Batch, args: tuple[Any, ...]) -> float:
        if warm:
            fn(*args)
        start = time.perf_counter()
        fn(*args)
        return time.perf_counter() - start

    warm = make_args()
    a(*warm), b(*warm)
    ratios: list[float] = []
    deadline = time.perf_counter() + budget
    while len(ratios) < max_pairs and (len(ratios) < min_pairs or time.perf_counter() < deadline):
        args = make_args()
        if len(ratios) % 2:
            tb = timed(b, args)
            ta = timed(a, args)
        else:
            ta = timed(a, args)
            tb = timed(b, args)
        ratios.append(ta / tb)
    return statistics.median(ratios)
