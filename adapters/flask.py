"""Flask extension: app-wide enforcement (`init_app`) and per-view policy (`require`).

    zt = ZeroTrust(policies=policies, verifier=verifier)
    zt.init_app(app)                         # every request is decided (route = URL rule)

    @app.post("/v1/chat/completions")
    @zt.require(action="inference")          # this view decided with its own action
    def chat(): ...

With `enforce_all=False`, only views with `@zt.require(...)` are decided.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g, request

import zt_policy

from ._http_guard import HttpGuard, Verdict
from .wsgi import Environ, ZeroTrustMiddleware, deny_app, evaluate_environ

__all__ = ["HttpGuard", "ZeroTrust", "flask_route"]

F = TypeVar("F", bound=Callable[..., Any])


def flask_route(app: Flask) -> Callable[[Environ], str | None]:
    """A route resolver giving the URL rule ("/items/<int:item_id>") a request will match."""

    def resolve(environ: Environ) -> str | None:
        try:
            rule, _args = app.url_map.bind_to_environ(environ).match(return_rule=True)
        except Exception:  # NotFound, MethodNotAllowed, RequestRedirect
            return None
        return str(rule.rule)

    return resolve


class ZeroTrust:
    """The extension object; options are those of `HttpGuard` (or pass `guard=`)."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        guard: HttpGuard | None = None,
        policies: zt_policy.PolicySet | None = None,
        enforce_all: bool = True,
        **options: Any,
    ) -> None:
        if guard is None:
            if policies is None:
                raise TypeError("ZeroTrust needs policies= or guard=")
            guard = HttpGuard(policies, **options)
        self.guard = guard
        self.enforce_all = enforce_all
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register on `app`; with `enforce_all`, wrap its WSGI app in the middleware."""
        app.extensions["zt_policy"] = self
        if self.enforce_all:
            app.wsgi_app = ZeroTrustMiddleware(  # type: ignore[method-assign]
                app.wsgi_app, guard=self.guard, route_resolver=flask_route(app)
            )

    def require(
        self, action: str | None = None, *, report_only: bool | None = None
    ) -> Callable[[F], F]:
        """Decide the view with `action` (default: from method and URL rule). The decision is
        `g.zt_policy_decision`; a refusal answers 401/403 without running the view."""

        def decorator(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                verdict = self._decide(action, report_only)
                if verdict.blocked:
                    app = deny_app(self.guard, verdict)
                    return Response.from_app(app, request.environ)
                g.zt_policy_decision = verdict.decision
                return view(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorator

    def _decide(self, action: str | None, report_only: bool | None) -> Verdict:
        environ = request.environ
        earlier = environ.get("zt_policy.verdict")
        options = self.guard.options

        def read() -> bytes:
            body = request.get_data(cache=True)
            if len(body) > options.max_body_bytes:
                raise options.too_large()
            return body

        rule = request.url_rule
        verdict = evaluate_environ(
            self.guard,
            environ,
            route=rule.rule if rule is not None else None,
            read=read,
            action=action,
            report_only=report_only,
            known=earlier if isinstance(earlier, Verdict) else None,
        )
        environ["zt_policy.decision"] = verdict.decision
        environ["zt_policy.verdict"] = verdict
        return verdict
