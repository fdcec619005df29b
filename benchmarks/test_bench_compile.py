"""Build time from source text, and zt-policy's memory for 1000 policies (tracemalloc).

Peers are timed on their own prepare step (cedarpy PolicySet handle, casbin
FastEnforcer load, regorus RVM compile + data) for context; their memory lives
in Rust and is invisible to tracemalloc, so only zt-policy's is reported.
"""

from __future__ import annotations

import gc
import tracemalloc

import engines
import pytest
from _results import Measure, key
from workload import SIZES


def _zt_memory(text: str) -> tuple[int, int]:
    """(peak, retained) bytes allocated by compile(text), parser already loaded."""
    import zt_policy

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        ps = zt_policy.compile(text)
        current, peak = tracemalloc.get_traced_memory()
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    del ps, current
    return peak - base, retained


@pytest.mark.parametrize("n", SIZES)
def test_compile_zt_policy(measure: Measure, n: int) -> None:
    import zt_policy

    text = engines.get_workload(n).text
    zt_policy.compile(engines.get_workload(10).text)  # load the parser outside the timing
    measure(key("compile", "zt-policy", n), lambda: zt_policy.compile(text, cache_size=0),
            group="compile", budget=2.0, min_rounds=3)
    if n == max(SIZES):
        peak, retained = _zt_memory(text)
        measure.note(key("memory-peak", "zt-policy", n), float(peak))
        measure.note(key("memory-retained", "zt-policy", n), float(retained))


@pytest.mark.parametrize("engine", list(engines.PEERS))
@pytest.mark.parametrize("n", SIZES)
def test_compile_peer(measure: Measure, engine: str, n: int) -> None:
    module = engines.peer_module(engine)
    encoded = module.encode(engines.get_workload(n))
    measure(key("compile", engine, n), lambda: module.prepare(encoded),
            group="compile", budget=0.3, min_rounds=3)
