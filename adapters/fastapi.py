"""FastAPI integration: per-route policy as a dependency, on top of (or instead of) the middleware.

    guard = HttpGuard(policies, verifier=verifier)
    install(app)                       # problem+json answers for denied dependencies
    @app.post("/v1/chat/completions")
    async def chat(decision: Decision = Depends(Authorize(guard, action="inference"))): ...

The dependency uses the route *template* as `request.route` (FastAPI knows it once routing is
done) and reuses the identity the middleware already verified, when the middleware runs too.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

import zt_policy

from ._http_guard import HttpGuard, Verdict
from .asgi import ZeroTrustMiddleware, evaluate

__all__ = ["Authorize", "HttpGuard", "PolicyDenied", "ZeroTrustMiddleware", "install"]


class PolicyDenied(HTTPException):
    """Raised by `Authorize` when the request is refused; carries the full verdict."""

    def __init__(self, verdict: Verdict, response: Any = None) -> None:
        answer = verdict.answer
        assert answer is not None
        headers = {k: v for k, v in answer.headers if k not in ("content-type", "content-length")}
        super().__init__(status_code=answer.status, detail=answer.problem, headers=headers)
        self.verdict = verdict
        self.response = response


async def _problem_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PolicyDenied)
    if isinstance(exc.response, Response):
        return exc.response
    answer = exc.verdict.answer
    assert answer is not None
    return Response(answer.body, answer.status, headers=dict(answer.headers))


def install(app: FastAPI) -> None:
    """Render `PolicyDenied` as the RFC 9457 / RFC 6750 answer (otherwise FastAPI wraps the
    problem document in `{"detail": ...}` with the same status and headers)."""
    app.add_exception_handler(PolicyDenied, _problem_handler)


class Authorize:
    """A dependency that decides the request with the route template and returns the Decision.

    `action` overrides the action name for this route; `report_only` records without blocking.
    """

    def __init__(
        self,
        guard: HttpGuard,
        *,
        action: str | None = None,
        report_only: bool | None = None,
    ) -> None:
        self.guard = guard
        self.action = action
        self.report_only = report_only

    async def __call__(self, request: Request) -> zt_policy.Decision:
        scope = request.scope
        options = self.guard.options

        async def read_body() -> bytes:
            options.check_length(request.headers.get("content-length"))
            body = await request.body()
            if len(body) > options.max_body_bytes:
                raise options.too_large()
            return body

        earlier = scope.get("zt_policy.verdict")
        verdict = await evaluate(
            self.guard,
            scope,
            route=getattr(scope.get("route"), "path", None),
            read_body=read_body,
            action=self.action,
            report_only=self.report_only,
            known=earlier if isinstance(earlier, Verdict) else None,
        )
        if verdict.blocked:
            custom = None
            if self.guard.on_deny is not None:
                try:
                    custom = self.guard.on_deny(verdict)
                except Exception:
                    custom = None
            raise PolicyDenied(verdict, custom)
        scope["zt_policy.decision"] = verdict.decision
        scope["zt_policy.verdict"] = verdict
        if verdict.decision is None:  # report-only after a credential or body error
            return zt_policy.Decision(allowed=False, reasons=("not decided (report-only)",))
        return verdict.decision
