"""Bad input to the AuthZEN app in process: bad JSON (400), wrong content type (415), oversized
(413) and stalled (408) bodies, wrong methods and paths, other ASGI scopes, internal failures:
always a clear JSON answer, never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from test_authzen_app import ALICE, AUTH, TOKEN, app, call, doc
from zt_authzen_helpers import asgi_call

READ = {"subject": ALICE, "action": {"name": "read"}, **doc("1")}
EVALUATION = "/access/v1/evaluation"


# --- bad input -------------------------------------------------------------------------------

JSON = {**AUTH, "content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"", 400, "invalid_request"),
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_request"),
        (b'"text"', 400, "invalid_request"),
        (b'{"subject": NaN}', 400, "invalid_json"),
        (b"\xff\xfe{}", 400, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json"),
    ],
)
def test_bad_json_is_a_clear_400(body: bytes, status: int, error: str) -> None:
    target = app(max_body_bytes=1_000_000)
    response = call(target, "POST", EVALUATION, headers=JSON, content=body)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_wrong_content_type_is_415(content_type: str | None) -> None:
    headers = dict(AUTH) if content_type is None else {**AUTH, "content-type": content_type}
    response = call(app(), "POST", EVALUATION, headers=headers, content=b"{}")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/authzen+json"]
)
def test_json_content_types_with_parameters_are_accepted(content_type: str) -> None:
    import json

    headers = {**AUTH, "content-type": content_type}
    response = call(app(), "POST", EVALUATION, headers=headers, content=json.dumps(READ).encode())
    assert response.json() == {"decision": True}


def test_oversized_body_is_413_declared_or_streamed() -> None:
    target = app(max_body_bytes=1000)
    big = b'{"pad": "' + b"x" * 2000 + b'"}'
    assert call(target, "POST", EVALUATION, headers=JSON, content=big).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 100

    response = call(target, "POST", EVALUATION, headers=JSON, content=chunks())
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_bad_content_length_is_400() -> None:
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": EVALUATION,
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"-5"),
        ],
    }
    asyncio.run(asgi_call(app(), scope, messages))
    assert messages[0]["status"] == 400


def test_stalled_body_is_408() -> None:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": EVALUATION,
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
        ],
    }
    asyncio.run(asgi_call(app(body_timeout=0.05), scope, sent, stall=True))
    assert sent[0]["status"] == 408


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", EVALUATION, 405, "POST"),
        ("PUT", "/access/v1/evaluations", 405, "POST"),
        ("POST", "/.well-known/authzen-configuration", 405, "GET, HEAD"),
        ("POST", "/access/v1/search/subject", 404, None),
        ("GET", "/", 404, None),
    ],
)
def test_wrong_method_or_path(method: str, path: str, status: int, allow: str | None) -> None:
    response = call(app(), method, path)
    assert response.status_code == status
    assert response.headers.get("allow") == allow
    assert response.headers["content-type"] == "application/json"


def test_lifespan_and_websocket_scopes() -> None:
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(app()({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    asyncio.run(app()({"type": "websocket", "path": "/"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_an_unexpected_failure_is_503_json_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    target = app()

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr("zt_policy.adapters.authzen.parse_object", explode)
    response = call(target, "POST", EVALUATION, json=READ)
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "message": "decision unavailable"}


def test_httpx_client_sees_json_errors_everywhere() -> None:
    transport = httpx.ASGITransport(app=app())

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as client:
            codes = []
            for method, path in (("GET", "/x"), ("POST", EVALUATION)):
                response = await client.request(method, path)
                response.json()
                codes.append(response.status_code)
            return codes

    assert asyncio.run(go()) == [404, 401]


def test_stalled_body_is_408_on_the_anyio_path_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.10 (no asyncio.timeout) and non-asyncio loops take the anyio deadline."""
    monkeypatch.setattr("zt_policy.adapters._authzen_http._ASYNCIO_TIMEOUT", None)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": EVALUATION,
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
        ],
    }
    asyncio.run(asgi_call(app(body_timeout=0.05), scope, sent, stall=True))
    assert sent[0]["status"] == 408


def test_evaluations_that_is_not_an_array_is_400_even_when_empty() -> None:
    for value in ({}, "", 0):
        document = {**READ, "evaluations": value}
        response = call(app(), "POST", "/access/v1/evaluations", json=document)
        assert response.status_code == 400
        assert "JSON array" in response.json()["message"]


def test_client_gone_while_answering_does_not_send_twice() -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": json.dumps(READ).encode(), "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))
        if message["type"] == "http.response.body":
            raise OSError("connection reset")

    scope = {
        "type": "http",
        "method": "POST",
        "path": EVALUATION,
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
        ],
    }
    asyncio.run(app()(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
