"""What a decision says: the outcome, the policies that determined it, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class EvalError:
    """An error met while deciding (ZT3xx). Errors never grant access: they fail closed."""

    code: str
    message: str
    policy: str | None = None
    location: str | None = None
    help: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "policy": self.policy,
                "location": self.location, "help": self.help}

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        by = f" (policy \"{self.policy}\")" if self.policy else ""
        return f"{where}error[{self.code}]: {self.message}{by}"


@dataclass(frozen=True, slots=True)
class PolicyTrace:
    """Why one policy did or did not match."""

    policy: str
    effect: str
    outcome: str  # "matched" | "not matched" | "error" | "not evaluated" (malformed context)
    candidate: bool  # False when the rule index ruled it out without evaluating it
    clause: str | None = None  # the clause that decided the outcome, as written
    location: str | None = None
    via: tuple[str, ...] = ()  # the `let` conditions passed through to reach the clause
    values: dict[str, Any] = field(default_factory=dict)  # attribute -> value seen
    error: EvalError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "effect": self.effect, "outcome": self.outcome,
                "candidate": self.candidate, "clause": self.clause, "location": self.location,
                "via": list(self.via), "values": {k: _jsonable(v) for k, v in self.values.items()},
                "error": self.error.to_dict() if self.error else None}


@dataclass(frozen=True, slots=True)
class LimitHit:
    """A rate limit that applies to this request; the caller that counts requests enforces it."""

    limit: str  # the limit's id
    amount: int  # requests allowed per window
    window: float  # seconds
    key: tuple[Any, ...]  # the values of its `by` attributes (None where absent)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "amount": self.amount, "window": self.window,
                "key": [_jsonable(k) for k in self.key], "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request. Immutable, so identical answers can be shared and cached."""

    allowed: bool
    policies: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    errors: tuple[EvalError, ...] = ()
    explanation: tuple[PolicyTrace, ...] | None = None
    limits: tuple[LimitHit, ...] = ()  # rate limits to count, only on an allowed decision

    @property
    def denied(self) -> bool:
        return not self.allowed

    def __bool__(self) -> bool:
        return self.allowed

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "allowed": self.allowed,
            "policies": list(self.policies),
            "reasons": list(self.reasons),
            "errors": [e.to_dict() for e in self.errors],
        }
        if self.limits:
            out["limits"] = [h.to_dict() for h in self.limits]
        if self.explanation is not None:
            out["explanation"] = [t.to_dict() for t in self.explanation]
        return out


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float | bool):
        return v
    if isinstance(v, list | tuple | set | frozenset):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return repr(v)
