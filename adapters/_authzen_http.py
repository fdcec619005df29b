"""The HTTP side of the AuthZEN app, in plain ASGI: caller credentials, bounded body reading,
JSON parsing and JSON answers.

No framework: the decision endpoint sits on the hot path of every service that calls it, and a
small ASGI callable adds only what the work costs. Bad input is answered with a 4xx JSON body
`{"error": code, "message": text}`; nothing here raises into the server (so never a 500).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

import anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: `authenticate(headers)` -> True to let the caller (the PEP) in; plain or async.
Authenticator = Callable[[Mapping[str, str]], "bool | Awaitable[bool]"]

logger = logging.getLogger("zt_policy.adapters.authzen")
_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,256}")
#: asyncio.timeout (3.11+) costs less than half of anyio.fail_after per request; every request
#: reads a body under a deadline, so the asyncio path uses it and other loops keep anyio.
_ASYNCIO_TIMEOUT = getattr(asyncio, "timeout", None)
_JSON_TYPE = re.compile(r"application/(?:[a-z0-9.+-]+\+)?json", re.IGNORECASE)


class HttpError(Exception):
    """A complete error answer: status, stable machine code and a message safe to show."""

    def __init__(
        self, status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


def request_id(headers: Mapping[str, str]) -> str | None:
    """The caller's `X-Request-ID`, which every answer echoes (AuthZEN 1.0, HTTPS binding).

    Bounded and printable so echoing it cannot smuggle anything into our response or logs.
    """
    value = headers.get("x-request-id")
    if value is None:
        return None
    if not _REQUEST_ID.fullmatch(value):
        raise HttpError(400, "invalid_request_id", "X-Request-ID must be 1-256 printable ASCII")
    return value


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class Credentials:
    """Who may ask for decisions: static bearer tokens, API keys, and/or a custom check.

    Secrets are kept as SHA-256 digests and compared with `hmac.compare_digest` against every
    configured secret without stopping early, so timing reveals neither a match's position nor
    a secret's length.
    """

    def __init__(
        self,
        bearer_tokens: Iterable[str],
        api_keys: Iterable[str],
        api_key_header: str,
        authenticate: Authenticator | None,
        allow_anonymous: bool,
    ) -> None:
        self.tokens = [_digest(token) for token in bearer_tokens if token]
        self.keys = [_digest(key) for key in api_keys if key]
        self.api_key_header = api_key_header.lower()
        self.authenticate = authenticate
        self.anonymous = allow_anonymous
        if not (self.tokens or self.keys or authenticate or allow_anonymous):
            raise ValueError(
                "the AuthZEN endpoint must be protected: pass bearer_tokens=, api_keys= or "
                "authenticate= (or allow_anonymous=True for a PDP behind its own gateway)"
            )

    @staticmethod
    def _matches(presented: str | None, digests: list[bytes]) -> bool:
        if presented is None or not digests:
            return False
        candidate = _digest(presented)
        found = False
        for digest in digests:
            found |= hmac.compare_digest(candidate, digest)
        return found

    async def check(self, headers: Mapping[str, str]) -> None:
        """Let the caller in or raise `HttpError` (401, or 503 if the custom check fails)."""
        if self.anonymous:
            return
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else None
        if self._matches(bearer, self.tokens):
            return
        if self._matches(headers.get(self.api_key_header), self.keys):
            return
        if self.authenticate is not None:
            try:
                verdict = self.authenticate(headers)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
            except Exception:
                logger.exception("the AuthZEN authenticate hook failed")
                raise HttpError(503, "authentication_unavailable", "caller check failed") from None
            if verdict is True:
                return
        presented = bool(authorization) or self.api_key_header in headers
        challenge = 'Bearer realm="authzen"' + (', error="invalid_token"' if presented else "")
        raise HttpError(
            401,
            "unauthorized",
            "invalid credentials" if presented else "credentials required",
            [("www-authenticate", challenge)],
        )


def check_json_type(headers: Mapping[str, str]) -> None:
    """415 unless the body is declared as JSON (application/json or application/*+json)."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip()
    if not _JSON_TYPE.fullmatch(media_type):
        raise HttpError(415, "unsupported_media_type", "Content-Type must be application/json")


async def read_body(
    headers: Mapping[str, str], receive: Receive, limit: int, timeout: float
) -> bytes:
    """The request body, refusing more than `limit` bytes (413) or a slow sender (408)."""
    declared = headers.get("content-length")
    if declared is not None:
        if not (declared.strip().isascii() and declared.strip().isdigit()):  # not "²"
            raise HttpError(400, "invalid_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise HttpError(413, "payload_too_large", f"request body exceeds {limit} bytes")
    try:
        if _ASYNCIO_TIMEOUT is not None and _on_asyncio():
            async with _ASYNCIO_TIMEOUT(timeout):
                return await _collect(receive, limit)
        with anyio.fail_after(timeout):
            return await _collect(receive, limit)
    except TimeoutError:
        raise HttpError(408, "request_timeout", "request body not received in time") from None


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _collect(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise HttpError(400, "invalid_request", "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HttpError(413, "payload_too_large", f"request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; 400 for anything else (bad UTF-8, NaN, deep nesting, ...)."""
    if not body.strip():
        raise HttpError(400, "invalid_request", "request body is empty")
    try:
        document = json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise HttpError(400, "invalid_json", "JSON nested too deeply") from None
    except ValueError as exc:
        raise HttpError(400, "invalid_json", f"body is not valid JSON: {exc}"[:200]) from None
    if not isinstance(document, dict):
        raise HttpError(400, "invalid_request", "body must be a JSON object")
    return document


async def send_json(
    send: Send,
    status: int,
    document: Mapping[str, Any],
    rid: str | None,
    extra: Iterable[tuple[str, str]] = (),
    head: bool = False,
) -> None:
    """One complete JSON answer, echoing `X-Request-ID` and forbidding caches."""
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if rid is not None:
        headers.append((b"x-request-id", rid.encode("latin-1")))
    headers.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_error(send: Send, error: HttpError, rid: str | None) -> None:
    await send_json(
        send, error.status, {"error": error.code, "message": error.message}, rid, error.headers
    )
