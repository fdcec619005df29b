"""decide() per decision on distinct contexts: zt-policy against the floor and the peers.

``zt-policy uncached`` is ``compile(text, cache_size=0)``: every call evaluates.
``zt-policy default`` is ``compile(text)`` deciding the same contexts again and
again, so after the warm-up round this is the cost of a cache hit.
Every engine is first checked to give the reference answer on every context.
For the gated ratios, zt-policy uncached is also run alternately with the floor
and with each peer (``_interleave``), which a busy machine cannot skew.
"""

from __future__ import annotations

import engines
import pytest
from _interleave import interleaved_ratio
from _results import RESULTS, Measure, key
from check_ratios import MIN_PEER_SPEEDUP
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
    if n != max(SIZES) or not measure.enabled:
        return
    if engine == engines.ZT_UNCACHED:
        ratio = interleaved_ratio(batch, engines.batch(engines.FLOOR, n), lambda: (trip,))
        measure.note(key("ratio-floor", engine, n), ratio)
    elif engine in engines.PEERS and _contender(engine, n):
        zt = engines.batch(engines.ZT_UNCACHED, n)
        ratio = interleaved_ratio(batch, zt, lambda: (trip,), min_pairs=5)
        measure.note(key("ratio-peer", engine, n), ratio)


def _contender(engine: str, n: int) -> bool:
    """Could this peer be the fastest one within the target? (Skip A/B for the far-off ones.)"""
    peer, zt = RESULTS.get(key("decide", engine, n)), RESULTS.get(key("decide", engines.ZT_UNCACHED, n))
    return peer is None or zt is None or peer / zt < 3 * MIN_PEER_SPEEDUP
