"""zt-policy: zero-trust access control for AI model-serving apps and MCP servers.

Write policies in a small language, build them once, decide every request in microseconds:

    import zt_policy
    policies = zt_policy.load("policies/")
    decision = policies.decide(identity={...}, device={...}, request={...})

Importing this package loads neither the parser (Lark) nor any web framework; the build side is
loaded on the first `compile()`/`load()`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._decision import Decision, EvalError, LimitHit, PolicyTrace
from ._diagnostics import Diagnostic, PolicyError, Span
from ._limits import Limits
from ._policyset import ContextError, PolicySet
from ._schema import Schema
from ._store import PolicyStore

if TYPE_CHECKING:
    from .guard import AuditLog, Guard
    from .guard import Verdict as GuardVerdict
from .models import Device, Identity, Request, Signals

__version__ = "0.1.0"

__all__ = [
    "AuditLog",
    "ContextError",
    "Decision",
    "Device",
    "Diagnostic",
    "EvalError",
    "Guard",
    "GuardVerdict",
    "Identity",
    "LimitHit",
    "Limits",
    "PolicyError",
    "PolicySet",
    "PolicyStore",
    "PolicyTrace",
    "Request",
    "Schema",
    "Signals",
    "Span",
    "__version__",
    "compile",
    "load",
]


def compile(
    text: str,
    *,
    filename: str = "<string>",
    schema: Schema | None = None,
    cache_size: int | None = None,
    limits: Limits | None = None,
) -> PolicySet:
    """Build a policy set from policy text; raises `PolicyError` listing every problem.

    ``cache_size``: None picks a decision cache when it pays for itself, 0 turns it off, N sets
    the number of cached decisions.
    """
    from ._build import compile as _compile

    return _compile(text, filename=filename, schema=schema, cache_size=cache_size, limits=limits)


def load(
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    schema: Schema | None = None,
    cache_size: int | None = None,
    limits: Limits | None = None,
) -> PolicySet:
    """Build a policy set from a .ztp file or a directory of them; raises `PolicyError`."""
    from ._build import load as _load

    return _load(path, schema=schema, cache_size=cache_size, limits=limits)


_LAZY = {"Guard": "Guard", "AuditLog": "AuditLog", "GuardVerdict": "Verdict"}


def __getattr__(name: str) -> object:
    """The guard (rate limits, signals, decision log, telemetry) loads on first use: it brings
    OpenTelemetry with it, which a plain `import zt_policy` does not need."""
    if name in _LAZY:
        from . import guard

        return getattr(guard, _LAZY[name])
    raise AttributeError(f"module 'zt_policy' has no attribute {name!r}")
