"""What the MCP guard concluded for one message, and the error codes both adapters answer with."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from ._mcp_context import Target

__all__ = ["FORBIDDEN", "RATE_LIMITED", "UNAUTHENTICATED", "Outcome", "Verdict", "forbidden",
           "limited"]

FORBIDDEN: Final = -32003
"""JSON-RPC error code of a policy denial (implementation-defined server-error range)."""
UNAUTHENTICATED: Final = -32004
"""JSON-RPC error code when a decided message carries no usable identity."""
RATE_LIMITED: Final = -32029
"""JSON-RPC error code of an exceeded `limit` (or its storage down); data has `retry_after`."""


class Outcome(enum.Enum):
    """What the adapter must answer."""

    ALLOW = "allow"
    HIDDEN = "hidden"  # answer as if the item did not exist
    DENIED = "denied"  # answer with an authorization error carrying the reasons
    UNAUTHENTICATED = "unauthenticated"
    BAD_PARAMS = "bad_params"
    LIMITED = "limited"  # a `limit` was exceeded (or its storage is down): retry later


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one message; `would_be` keeps the real outcome in shadow mode."""

    outcome: Outcome
    target: Target | None = None
    reasons: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    would_be: Outcome | None = None
    retry_after: int | None = None  # seconds, for LIMITED


def forbidden(verdict: Verdict, expose_reasons: bool) -> tuple[str, dict[str, Any]]:
    """Message and data of the FORBIDDEN error for a denial."""
    reasons = list(verdict.reasons) if expose_reasons else []
    return ("Forbidden: " + "; ".join(reasons) if reasons else "Forbidden"), {"reasons": reasons}


def limited(verdict: Verdict, expose_reasons: bool) -> tuple[str, dict[str, Any]]:
    """Message and data of the RATE_LIMITED error: when to retry, and which limit."""
    reasons = list(verdict.reasons) if expose_reasons else []
    message = "Rate limited: " + "; ".join(reasons) if reasons else "Rate limited"
    data: dict[str, Any] = {"reasons": reasons, "retry_after": verdict.retry_after or 1}
    if expose_reasons and verdict.policies:
        data["limit"] = verdict.policies[0]
    return message, data
