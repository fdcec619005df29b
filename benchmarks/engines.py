"""Every engine under test behind one calling shape, plus the batch loops we time.

Each engine is timed on a *batch*: one pass over a list of (identity, device,
request) triples. A batch of a few hundred decisions is long enough (>100 us)
for the timer to be exact, mixes allowed, denied and forbidden cases, and puts
the same loop overhead on every engine, so per-decision figures and ratios are
comparable. zt-policy gets its own loop so that it is called the way an app
calls it (keywords, reading ``.allowed``) without an extra wrapper frame.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import workload
from floor import build_floor
from workload import Ctx, Workload

Triple = tuple[Ctx, Ctx, Ctx]
Decide = Callable[[Ctx, Ctx, Ctx], bool]
Batch = Callable[[list[Triple]], None]

FLOOR = "floor"
ZT_UNCACHED = "zt-policy uncached"
ZT_DEFAULT = "zt-policy default"
# engine name -> (import name to skip on, module with build(workload) -> decide)
PEERS = {
    "regorus": ("regorus", "_peer_rego"),
    "cedarpy": ("cedarpy", "_peer_cedar"),
    "pycasbin": ("casbin", "_peer_casbin"),
}
DECIDE_ENGINES = (FLOOR, ZT_UNCACHED, ZT_DEFAULT, *PEERS)


@cache
def get_workload(n: int) -> Workload:
    """The seeded workload of n policies, checked: floor == reference, all outcomes present."""
    wl = workload.generate(n)
    floor = build_floor(wl)
    assert [floor(*t) for t in workload.triples(wl.contexts)] == wl.expected
    assert all(workload.outcome_mix(wl).values()), workload.outcome_mix(wl)
    return wl


@cache
def zt_policyset(n: int, cached: bool) -> Any:
    """zt-policy compiled from the workload text: default cache, or ``cache_size=0``."""
    import zt_policy

    text = get_workload(n).text
    return zt_policy.compile(text) if cached else zt_policy.compile(text, cache_size=0)


def zt_batch(ps: Any) -> Batch:
    decide = ps.decide

    def run(triples: list[Triple]) -> None:
        for identity, device, request in triples:
            decide(identity=identity, device=device, request=request).allowed  # noqa: B018

    return run


def plain_batch(decide: Decide) -> Batch:
    def run(triples: list[Triple]) -> None:
        for identity, device, request in triples:
            decide(identity, device, request)

    return run


def peer_module(engine: str) -> Any:
    """The peer's encoding module; skips the test cleanly when the peer isn't installed."""
    import_name, module = PEERS[engine]
    pytest.importorskip(import_name, reason=f"{engine} not installed (pip install '.[peers]')")
    return importlib.import_module(module)


@cache
def decider(engine: str, n: int) -> Decide:
    """decide(identity, device, request) -> bool for any engine (used to check answers)."""
    wl = get_workload(n)
    if engine == FLOOR:
        return build_floor(wl)
    if engine in (ZT_UNCACHED, ZT_DEFAULT):
        ps = zt_policyset(n, engine == ZT_DEFAULT)
        return lambda i, d, r: bool(ps.decide(identity=i, device=d, request=r).allowed)
    decide: Decide = peer_module(engine).build(wl)
    return decide


def batch(engine: str, n: int) -> Batch:
    """The timed loop for an engine."""
    if engine in (ZT_UNCACHED, ZT_DEFAULT):
        return zt_batch(zt_policyset(n, engine == ZT_DEFAULT))
    return plain_batch(decider(engine, n))


def assert_same_decisions(engine: str, n: int, contexts: list[Ctx]) -> None:
    """Before timing: the engine must give the reference answer on every context."""
    wl = get_workload(n)
    decide = decider(engine, n)
    wrong = [
        (c, expected)
        for c in contexts
        if decide(c["identity"], c["device"], c["request"])
        != (expected := workload.reference_decide(wl.permits, c))
    ]
    assert not wrong, f"{engine} disagrees on {len(wrong)} contexts, e.g. {wrong[0]}"
