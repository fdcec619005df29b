"""The answers the HTTP adapters give on their own: RFC 6750 challenges and RFC 9457 problems.

Shared by ASGI and WSGI so both speak identically. Bodies name the policy *reason* (written by
the policy author for humans) but not policy ids or evaluation errors, which describe the
policy internals, unless the app opts in with `expose_policies=True`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import zt_policy

PROBLEM_JSON = "application/problem+json"
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')


@dataclass
class HttpAnswer:
    """A complete response: status, headers (lower-case names) and body bytes."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    problem: dict[str, Any] = field(default_factory=dict)


def _quoted(text: str) -> str:
    """Make text safe inside an RFC 7235 quoted-string (no quotes, backslashes or controls)."""
    return _UNSAFE.sub("_", text)[:200]


def problem(
    status: int, title: str, detail: str, extra: dict[str, Any] | None = None
) -> HttpAnswer:
    """An RFC 9457 problem details response."""
    document: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    document["detail"] = detail
    if extra:
        document.update(extra)
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [
        ("content-type", PROBLEM_JSON),
        ("content-length", str(len(body))),
        ("cache-control", "no-store"),
    ]
    return HttpAnswer(status, headers, body, document)


def challenge(
    realm: str,
    status: int = 401,
    error: str | None = None,
    description: str | None = None,
    code: str | None = None,
) -> HttpAnswer:
    """401 (or 400/503) with `WWW-Authenticate: Bearer ...` as RFC 6750 section 3 describes.

    Without credentials the challenge carries no error code (section 3.1), so clients know to
    authenticate rather than that their token was bad. `error` is an RFC 6750 code
    (invalid_request, invalid_token); `code` is our finer, stable one, put in the body.
    """
    params = [f'realm="{_quoted(realm)}"']
    if error:
        params.append(f'error="{_quoted(error)}"')
    if description:
        params.append(f'error_description="{_quoted(description)}"')
    titles = {400: "Bad Request", 401: "Unauthorized", 503: "Service Unavailable"}
    answer = problem(
        status,
        titles.get(status, "Unauthorized"),
        description or "authentication required",
        {"code": code or error} if (code or error) else None,
    )
    if status in (400, 401):
        answer.headers.append(("www-authenticate", "Bearer " + ", ".join(params)))
    if status == 503:
        answer.headers.append(("retry-after", "30"))
    return answer


def forbidden(decision: zt_policy.Decision, expose_policies: bool) -> HttpAnswer:
    """403 naming the policy reason; policy ids and errors only when the app exposes them."""
    detail = decision.reasons[0] if decision.reasons else "access denied by policy"
    extra: dict[str, Any] = {}
    if len(decision.reasons) > 1:
        extra["reasons"] = list(decision.reasons)
    if expose_policies:
        extra["policies"] = list(decision.policies)
        extra["errors"] = [error.to_dict() for error in decision.errors]
    return problem(403, "Forbidden", detail, extra or None)


def unavailable(detail: str) -> HttpAnswer:
    """503: the decision could not be made (a hook failed); fail closed, never 500."""
    answer = problem(503, "Service Unavailable", detail)
    answer.headers.append(("retry-after", "5"))
    return answer


def limited(decision: zt_policy.Decision, status: int, retry_after: int) -> HttpAnswer:
    """429 for an exceeded `limit` (or 503 when the limit storage is down) with `Retry-After`."""
    title = "Too Many Requests" if status == 429 else "Service Unavailable"
    detail = decision.reasons[0] if decision.reasons else title
    answer = problem(status, title, detail, {"retry_after": retry_after})
    answer.headers.append(("retry-after", str(retry_after)))
    return answer
