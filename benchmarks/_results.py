"""In-run results shared between the benchmark tests and the conftest hooks.

Keys are ``kind/engine/n`` (e.g. ``decide/zt-policy uncached/1000``); values are
seconds per decision (``decide``, ``stream``), seconds per compile (``compile``)
or bytes (``memory-peak``, ``memory-retained``). The same keys are written into
pytest-benchmark's ``extra_info`` so that ``check_ratios.py`` can rebuild this
dict from a ``--benchmark-json`` file.
"""

from __future__ import annotations

from collections.abc import Callable

RESULTS: dict[str, float] = {}

# The ``measure`` fixture of conftest.py: measure(key, fn, decisions=..., setup=..., ...)
Measure = Callable[..., None]


def key(kind: str, engine: str, n: int) -> str:
    return f"{kind}/{engine}/{n}"
