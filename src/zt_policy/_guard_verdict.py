"""What `Guard.check()` answers: the decision plus what counting added to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._decision import Decision, EvalError, LimitHit

UNAVAILABLE_CODE = "ZT350"
UNAVAILABLE = Decision(
    False, (), ("rate limit storage unavailable",),
    (EvalError(UNAVAILABLE_CODE, "the limit/signal storage failed; denying (on_storage_error='deny')"),),
)


def limited_decision(hit: LimitHit) -> Decision:
    reason = hit.reason or f'rate limit "{hit.limit}" exceeded ({hit.amount} per {hit.window:g}s)'
    return Decision(False, (hit.limit,), (reason,))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one request, after policies, limits and signals.

    `decision` is what the policies (or an exceeded limit) decided; `allowed` is what to enforce,
    which differs only in shadow mode (always allowed, the decision is logged). `limited` is the
    limit that was exceeded and `retry_after` (whole seconds) when to try again. `unavailable` says
    the storage failed and the request was denied for it (fail closed).
    """

    decision: Decision
    allowed: bool
    decision_id: str
    limited: LimitHit | None = None
    retry_after: int | None = None
    shadow: bool = False
    unavailable: bool = False
    limits: tuple[LimitHit, ...] = ()  # the limits that applied (and were counted)
    signals: Mapping[str, int] | None = None

    @property
    def denied(self) -> bool:
        return not self.allowed

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.decision.reasons

    @property
    def status(self) -> int:
        """The HTTP status an adapter should answer: 200, 403, 429 (limited) or 503 (storage down)."""
        if self.allowed:
            return 200
        if self.limited is not None:
            return 429
        return 503 if self.unavailable else 403

    def to_dict(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "allowed": self.allowed, "shadow": self.shadow,
                "status": self.status, "decision": self.decision.to_dict(),
                "limited": self.limited.to_dict() if self.limited else None,
                "retry_after": self.retry_after, "unavailable": self.unavailable,
                "limits": [h.to_dict() for h in self.limits],
                "signals": dict(self.signals) if self.signals is not None else None}
