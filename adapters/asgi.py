"""Zero-trust policy enforcement for any ASGI app (Starlette, FastAPI, Quart, Litestar, ...).

A pure ASGI middleware: no framework import, so it adds only what the decision costs. For each
HTTP request and WebSocket handshake it builds the policy context (identity from the bearer JWT,
device posture, request facts), asks the policies, and either passes the request on with the
decision at `scope["zt_policy.decision"]` or answers itself (401/403/400/413/503). Lifespan and
other scope types pass straight through.

    app.add_middleware(ZeroTrustMiddleware, policies=policies, verifier=verifier)
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from cachetools import LRUCache

import zt_policy

from ._authn import AuthInput
from ._errors import IdentityError
from ._http_context import RequestRejected, model_from_body, path_from_raw, scope_headers
from ._http_guard import HttpGuard, Verdict, guard_from
from ._http_responses import HttpAnswer

__all__ = ["HttpGuard", "Verdict", "ZeroTrustMiddleware", "evaluate", "starlette_route"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
BodyReader = Callable[[], Awaitable[bytes]]


_ROUTE_CACHES: weakref.WeakKeyDictionary[Any, LRUCache[tuple[Any, ...], str | None]] = (
    weakref.WeakKeyDictionary()
)
_ROUTES_LOCK = threading.Lock()


def starlette_route(scope: Scope) -> str | None:
    """The route template ("/items/{item_id}") from a Starlette/FastAPI app, found without
    importing Starlette: `scope["app"]` is set by the app before its middleware runs.

    Matching walks the app's routes (regexes), so answers are remembered per app (weakly) in a
    bounded LRU cache keyed by scope type, method, host, path and the number of routes.
    """
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None)
    if not routes:
        return None
    key = (
        len(routes),
        scope["type"],
        scope.get("method"),
        scope.get("root_path"),
        scope.get("path"),
        _host(scope),
    )
    with _ROUTES_LOCK:
        try:
            cache = _ROUTE_CACHES.setdefault(app, LRUCache(maxsize=4096))
        except TypeError:  # not weak-referenceable: match every time
            cache = None
        if cache is not None and key in cache:
            return cache[key]
    route = _match(routes, scope, "")
    if cache is not None:
        with _ROUTES_LOCK:
            cache[key] = route
    return route


def _host(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return bytes(value)
    return None


def _match(routes: Any, scope: Scope, prefix: str) -> str | None:
    for route in routes:
        try:
            match, child = route.matches(scope)
        except Exception:
            continue
        if getattr(match, "name", None) != "FULL":
            continue
        path = prefix + str(getattr(route, "path", ""))
        inner = getattr(route, "routes", None)
        if inner:
            return _match(inner, {**scope, **child}, path) or path
        return path
    return None


async def evaluate(
    guard: HttpGuard,
    scope: Scope,
    *,
    route: str | None,
    read_body: BodyReader | None = None,
    action: str | None = None,
    report_only: bool | None = None,
    known: Verdict | None = None,
) -> Verdict:
    """Decide one HTTP request or WebSocket handshake described by an ASGI scope.

    `known`: an earlier verdict for this same request (the middleware's), whose verified
    identity, device and body-derived `model` are reused instead of being worked out again.
    """
    headers = scope_headers(scope)
    method = str(scope.get("method", "GET")).upper() if scope["type"] == "http" else "WEBSOCKET"
    client = scope.get("client")
    verdict = guard.begin(
        method,
        lambda: path_from_raw(str(scope.get("path", "")), scope.get("raw_path")),
        route,
        headers,
        client[0] if client else None,
        action=action,
        report_only=report_only,
        known=known,
    )
    if verdict.answer is None and not verdict.authenticated:
        auth = AuthInput(headers, scope.get("user"), scope.get("auth"))
        try:
            verdict.identity, verdict.device = await guard.authenticate_async(auth)
        except IdentityError as exc:
            guard.reject(verdict, exc)
        except Exception:
            guard.failed(verdict, "identity lookup")
    if read_body is not None and guard.wants_body(verdict):
        try:
            verdict.request["model"] = model_from_body(await read_body())
        except RequestRejected as exc:
            guard.reject(verdict, exc)
    return await guard.conclude_async(verdict)


class ZeroTrustMiddleware:
    """ASGI middleware enforcing a policy set; options are those of `HttpGuard`.

    Pass `guard=` to share one configured `HttpGuard` with route dependencies, or the options
    directly (`policies=`, `verifier=`, `trusted_proxies=`, `report_only=`, `on_deny=`, ...).
    `route_resolver(scope)` names the route template; the default understands Starlette apps.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: HttpGuard | None = None,
        policies: zt_policy.PolicySet | None = None,
        route_resolver: Callable[[Scope], str | None] | None = starlette_route,
        body_timeout: float = 30.0,
        **options: Any,
    ) -> None:
        guard = guard_from(guard, policies, options, "ZeroTrustMiddleware")
        self.app = app
        self.guard = guard
        self.route_resolver = route_resolver
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        route = None
        if self.route_resolver is not None:
            try:
                route = self.route_resolver(scope)
            except Exception:
                route = None
        buffered: deque[Message] = deque()

        async def read_body() -> bytes:
            return await self._read_body(scope, receive, buffered)

        verdict = await evaluate(self.guard, scope, route=route, read_body=read_body)

        async def replay() -> Message:
            return buffered.popleft() if buffered else await receive()

        if verdict.blocked:
            await self._answer(scope, replay, send, verdict)
            return
        scope["zt_policy.decision"] = verdict.decision
        scope["zt_policy.verdict"] = verdict
        await self.app(scope, replay if buffered else receive, send)

    async def _read_body(self, scope: Scope, receive: Receive, buffered: deque[Message]) -> bytes:
        """Read the body up to the bound, keeping the messages so the app sees them again."""
        options = self.guard.options
        headers = scope_headers(scope)
        options.check_length(headers.get("content-length"))
        size = 0
        chunks: list[bytes] = []
        try:
            with anyio.fail_after(self.body_timeout):
                while True:
                    message = await receive()
                    buffered.append(message)
                    if message["type"] != "http.request":
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > options.max_body_bytes:
                        raise options.too_large()
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise RequestRejected(
                408, "Request Timeout", "request body not received in time"
            ) from None
        return b"".join(chunks)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, verdict: Verdict) -> None:
        if self.guard.on_deny is not None:
            try:
                custom = self.guard.on_deny(verdict)
                if inspect.isawaitable(custom):
                    custom = await custom
            except Exception:
                custom = None
            if custom is not None:
                await custom(scope, receive, send)
                return
        answer = verdict.answer
        assert answer is not None
        if scope["type"] == "websocket":
            await _deny_websocket(scope, receive, send, answer)
            return
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": _encode(answer)}
        )
        await send({"type": "http.response.body", "body": answer.body})


def _encode(answer: HttpAnswer) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]


async def _deny_websocket(scope: Scope, receive: Receive, send: Send, answer: HttpAnswer) -> None:
    """Refuse a handshake: an HTTP answer where the server supports it, else close with 1008."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": answer.status,
                "headers": _encode(answer),
            }
        )
        await send({"type": "websocket.http.response.body", "body": answer.body})
        return
    await send({"type": "websocket.close", "code": 1008, "reason": "policy violation"})
