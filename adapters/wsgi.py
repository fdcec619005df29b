"""Zero-trust policy enforcement for any WSGI app (PEP 3333: Flask, Django, Pyramid, ...).

The same flow and answers as the ASGI middleware (`HttpGuard` does the work), synchronously:
the decision is at `environ["zt_policy.decision"]` when the request is passed on.

    app = ZeroTrustMiddleware(app, policies=policies, verifier=verifier)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import zt_policy

from ._authn import AuthInput
from ._errors import IdentityError
from ._http_context import RequestRejected, model_from_body, path_from_wsgi
from ._http_guard import HttpGuard, Verdict, guard_from
from ._http_responses import HttpAnswer

__all__ = ["HttpGuard", "Verdict", "ZeroTrustMiddleware", "answer_app", "evaluate_environ"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
_SPECIAL_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def environ_headers(environ: Environ) -> dict[str, str]:
    """Request headers from a WSGI environ, with lower-case dash-separated names."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    for key, name in _SPECIAL_HEADERS.items():
        if environ.get(key):
            headers[name] = environ[key]
    return headers


class _Chained(io.RawIOBase):
    """Bytes already read, followed by the rest of the original stream (report-only overflow)."""

    def __init__(self, head: bytes, tail: Any) -> None:
        self._head = head
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(view), len(self._head))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._tail.read(len(view))
        view[: len(data)] = data
        return len(data)


def read_body(environ: Environ, max_bytes: int) -> bytes:
    """Read up to `max_bytes` of the body and put it back for the app; 413 when over.

    Whatever was read is replayed to the app: exactly (BytesIO with a corrected Content-Length)
    when the whole body fit, chained to the unread rest when it did not (report-only mode).
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    body: bytes = stream.read(
        min(int(length), max_bytes + 1) if length.isascii() and length.isdigit() else max_bytes + 1
    )
    if len(body) > max_bytes:
        environ["wsgi.input"] = io.BufferedReader(_Chained(body, stream))
        raise RequestRejected(413, "Content Too Large", f"request body exceeds {max_bytes} bytes")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def evaluate_environ(
    guard: HttpGuard,
    environ: Environ,
    *,
    route: str | None,
    read: Callable[[], bytes] | None = None,
    action: str | None = None,
    report_only: bool | None = None,
    known: Verdict | None = None,
) -> Verdict:
    """Decide one request described by a WSGI environ (see `asgi.evaluate`)."""
    headers = environ_headers(environ)
    verdict = guard.begin(
        str(environ.get("REQUEST_METHOD", "GET")).upper(),
        lambda: path_from_wsgi(
            str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
        ),
        route,
        headers,
        environ.get("REMOTE_ADDR"),
        action=action,
        report_only=report_only,
        known=known,
    )
    if verdict.answer is None and not verdict.authenticated:
        auth = AuthInput(headers, environ.get("REMOTE_USER"))
        try:
            verdict.identity, verdict.device = guard.authenticate(auth)
        except IdentityError as exc:
            guard.reject(verdict, exc)
        except Exception:
            guard.failed(verdict, "identity lookup")
    if guard.wants_body(verdict):
        try:
            guard.options.check_length(headers.get("content-length"))
            body = read() if read else read_body(environ, guard.options.max_body_bytes)
            verdict.request["model"] = model_from_body(body)
        except RequestRejected as exc:
            guard.reject(verdict, exc)
    return guard.conclude(verdict)


def answer_app(answer: HttpAnswer) -> WSGIApp:
    """A WSGI app that sends the adapter's own answer."""
    reasons = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        408: "Request Timeout",
        413: "Content Too Large",
        503: "Service Unavailable",
    }

    def app(_environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        status = f"{answer.status} {reasons.get(answer.status, 'Error')}"
        start_response(status, [(k.title(), v) for k, v in answer.headers])
        return [answer.body]

    return app


class ZeroTrustMiddleware:
    """WSGI middleware enforcing a policy set; options are those of `HttpGuard`.

    `on_deny(verdict)` may return a WSGI app (a Flask/Werkzeug `Response` is one) to answer
    instead of the built-in 401/403 problem documents.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        guard: HttpGuard | None = None,
        policies: zt_policy.PolicySet | None = None,
        route_resolver: Callable[[Environ], str | None] | None = None,
        **options: Any,
    ) -> None:
        guard = guard_from(guard, policies, options, "ZeroTrustMiddleware")
        self.app = app
        self.guard = guard
        self.route_resolver = route_resolver

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        route = None
        if self.route_resolver is not None:
            try:
                route = self.route_resolver(environ)
            except Exception:
                route = None
        verdict = evaluate_environ(self.guard, environ, route=route)
        if verdict.blocked:
            return deny_app(self.guard, verdict)(environ, start_response)
        environ["zt_policy.decision"] = verdict.decision
        environ["zt_policy.verdict"] = verdict
        return self.app(environ, start_response)


def deny_app(guard: HttpGuard, verdict: Verdict) -> WSGIApp:
    """The app that answers a blocked request: `on_deny`'s, else the built-in answer."""
    if guard.on_deny is not None:
        try:
            custom = guard.on_deny(verdict)
        except Exception:
            custom = None
        if callable(custom):
            return custom  # type: ignore[no-any-return]
    assert verdict.answer is not None
    return answer_app(verdict.answer)
