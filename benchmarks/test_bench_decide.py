"""decide() per decision on distinct contexts: zt-policy against the floor and the peers.

``zt-policy uncached`` is ``compile(text, cache_size=0)``: every call evaluates.
``zt-policy default`` is ``compile(text)`` deciding the same contexts again and
again, so after the warm-up round this is the cost of a cache hit.
Every engine is first checked to give the reference answer on every context.
For the gated ratio, zt-policy uncached and the floor are also run alternately
(``_interleave``), which a busy machine cannot skew.
"""

from __future__ import annotations

import engines
import pytest
from _interleave import interleaved_ratio
from _results import Measure, key
from workload import SIZES, triples


@pytest.mark.parametrize("engine", engines.DECIDE_ENGINES)
@pytest.mark.parametrize("n", SIZES)
def test_decide(measure: Measure, engine: str, n: int) -> None:
    wl = engines.get_workload(n)
    engines.assert_same_decisions(engine, n, wl.contexts)
    batch = engines.batch(engine, n)
    trip = list(triples(wl.contexts))
    measure(key("decide", engine, n), lambda: batch(trip), decisions=len(trip),
            group=f"decide, {n} policies")
    if engine == engines.ZT_UNCACHED and n == max(SIZES) and measure.enabled:
        ratio = interleaved_ratio(batch, engines.batch(engines.FLOOR, n), lambda: (trip,))
        measure.note(key("ratio-floor", engine, n), ratio)
