"""Identity errors as data: a stable machine code, a safe human message and the HTTP status.

Adapters turn these into responses (401 with `WWW-Authenticate`, 400, 503) without ever showing a
traceback; the message never contains the token or key material.
"""

from __future__ import annotations

from typing import Any

#: code -> HTTP status. Stable: clients and logs may depend on these codes.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "missing_token": 401,
    "invalid_token": 401,
    "expired_token": 401,
    "invalid_issuer": 401,
    "invalid_audience": 401,
    "invalid_algorithm": 401,
    "unknown_key": 401,
    "jwks_unavailable": 503,
}


class IdentityError(Exception):
    """Why a credential was refused. `code` is stable, `message` is safe to show to the caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status an adapter should answer with."""
        return STATUS_BY_CODE.get(self.code, 401)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for logs and problem details."""
        return {"code": self.code, "message": self.message, "status": self.status}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentityError):
            return NotImplemented
        return (self.code, self.message) == (other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.message))
