"""The ASGI middleware driven with raw scope/receive/send: lifespan, WebSockets, bad paths."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.testclient import TestClient
from zt_policy.adapters.asgi import HttpGuard, ZeroTrustMiddleware
from zt_policy.adapters.identity import JWTVerifier
from zthttp_apps import POLICIES, fastapi_app


@pytest.fixture()
def guard(verifier: JWTVerifier) -> HttpGuard:
    return HttpGuard(POLICIES, verifier=verifier)


async def bare_app(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        await send({"type": "lifespan.startup.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
    del message


def run_asgi(app, scope, messages):
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_lifespan_passes_through(guard):
    app = ZeroTrustMiddleware(bare_app, guard=guard)
    sent = run_asgi(app, {"type": "lifespan"}, [{"type": "lifespan.startup"}])
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_websocket_denied_with_close_1008_or_http_403(guard, rsa_key):
    app = ZeroTrustMiddleware(bare_app, guard=guard)
    base = {"type": "websocket", "path": "/ws", "headers": [], "client": ("127.0.0.1", 1)}
    sent = run_asgi(app, base, [{"type": "websocket.connect"}])
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "policy violation"}]
    token = rsa_key.sign({"sub": "mallory"})
    scope = {
        **base,
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "extensions": {"websocket.http.response": {}},
    }
    sent = run_asgi(app, scope, [{"type": "websocket.connect"}])
    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 403
    scope = {**base, "headers": [(b"authorization", f"Bearer {rsa_key.sign()}".encode())]}
    sent = run_asgi(app, scope, [{"type": "websocket.connect"}])
    assert sent == [{"type": "websocket.accept"}]


def test_websocket_through_starlette_testclient(guard, rsa_key):
    client = TestClient(fastapi_app(guard))
    with client.websocket_connect(
        "/ws", headers={"authorization": f"Bearer {rsa_key.sign()}"}
    ) as ws:
        assert ws.receive_text() == "hello"


def test_non_utf8_path_is_a_400(guard):
    app = ZeroTrustMiddleware(bare_app, guard=guard)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/items/\ufffd",
        "raw_path": b"/items/%ff",
        "headers": [],
        "client": ("127.0.0.1", 1),
    }
    sent = run_asgi(app, scope, [])
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["detail"] == "request path is not valid UTF-8"
