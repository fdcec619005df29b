"""The HTTP adapters with a guard (`limiter=`): an exceeded limit is a 429 with `Retry-After`, a
limit storage that is down a 503 (fail closed). Real servers: uvicorn (ASGI) and waitress (WSGI)
on 127.0.0.1, called with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from zt_policy.adapters.asgi import ZeroTrustMiddleware
from zt_policy.adapters.flask import ZeroTrust

import zt_policy
from tests.servers import uvicorn_server, waitress_server
from zt_policy.guard import Guard

from .conftest import RedisServer

POLICY = """
permit "chat" when request.action == "inference"
permit "health" when request.path == "/health"
limit "chat-per-client" 2 per 1h by request.ip when request.action == "inference"
  reason "chat quota exceeded"
"""
CHAT = "/v1/chat/completions"


@contextmanager
def uvicorn_app(guard: Guard) -> Iterator[str]:
    async def chat(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route(CHAT, chat, methods=["POST"]), Route("/health", health)])
    app.add_middleware(ZeroTrustMiddleware, policies=guard.policies, limiter=guard)
    with uvicorn_server(app, lifespan="auto") as url:
        yield url


@contextmanager
def waitress_app(guard: Guard) -> Iterator[str]:
    app = Flask(__name__)

    @app.post(CHAT)
    def chat() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    ZeroTrust(app, policies=guard.policies, limiter=guard)
    with waitress_server(app) as url:
        yield url


SERVERS = {"uvicorn": uvicorn_app, "waitress": waitress_app}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_exceeded_limit_is_429_with_retry_after(server: str, storage: str) -> None:
    guard = Guard(zt_policy.compile(POLICY), storage=storage)
    with SERVERS[server](guard) as url:
        answers = [httpx.post(url + CHAT, json={"model": "m", "messages": []}, timeout=5)
                   for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 429, 429]
        limited = answers[2]
        retry = int(limited.headers["retry-after"])
        assert 1 <= retry <= 3600
        body = limited.json()
        assert body["detail"] == "chat quota exceeded" and body["retry_after"] == retry
        # not limited: other routes
        assert httpx.get(url + "/health", timeout=5).status_code == 200


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_limit_storage_down_is_503(server: str, own_redis: RedisServer) -> None:
    guard = Guard(zt_policy.compile(POLICY), storage=own_redis.url)
    with SERVERS[server](guard) as url:
        assert httpx.post(url + CHAT, json={"model": "m"}, timeout=5).status_code == 200
        own_redis.stop()
        down = httpx.post(url + CHAT, json={"model": "m"}, timeout=5)
        assert down.status_code == 503 and down.headers["retry-after"] == "1"


def test_report_only_logs_the_limit_but_passes(caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard(zt_policy.compile(POLICY))
    seen: list[Any] = []

    async def chat(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route(CHAT, chat, methods=["POST"])])
    app.add_middleware(ZeroTrustMiddleware, policies=guard.policies, limiter=guard,
                       report_only=True, on_decision=seen.append)
    with uvicorn_server(app, lifespan="auto") as url:
        codes = [httpx.post(f"{url}{CHAT}", json={"model": "m"}, timeout=5).status_code
                 for _ in range(3)]
    assert codes == [200, 200, 200]
    assert [v.answer.status if v.answer else None for v in seen] == [None, None, 429]
    assert not seen[2].enforced
