"""A repeating stream: most contexts repeat, a few are new; the cache should pay off here.

The stream is 2048 distinct dicts (so a cache must key on values); before each
round its "fresh" 5% get subjects never seen before, so they really miss, while
the policy set, and so its cache, lives across rounds as in a long-running
server. The gated ratio (default / uncached) is also measured with the two
alternating (``_interleave``).
"""

from __future__ import annotations

import itertools

import engines
import pytest
from _interleave import interleaved_ratio
from _results import Measure, key
from workload import SIZES, repeating_stream, triples

STREAM_ENGINES = (engines.FLOOR, engines.ZT_DEFAULT, engines.ZT_UNCACHED)
LENGTH = 2048


@pytest.mark.parametrize("engine", STREAM_ENGINES)
@pytest.mark.parametrize("n", SIZES)
def test_repeating_stream(measure: Measure, engine: str, n: int) -> None:
    wl = engines.get_workload(n)
    stream = repeating_stream(wl, LENGTH)
    engines.assert_same_decisions(engine, n, stream.contexts)
    batch = engines.batch(engine, n)
    trip = list(triples(stream.contexts))
    rounds = itertools.count()

    def setup() -> tuple[list[engines.Triple]]:
        stream.refresh(next(rounds))
        return (trip,)

    measure(key("stream", engine, n), batch, decisions=LENGTH, setup=setup,
            group=f"repeating stream, {n} policies")
    if engine == engines.ZT_DEFAULT and n == max(SIZES) and measure.enabled:
        ratio = interleaved_ratio(batch, engines.batch(engines.ZT_UNCACHED, n), setup, warm=False)
        measure.note(key("ratio-uncached", engine, n), ratio)
