"""Bad input against the AuthZEN app behind a real uvicorn on 127.0.0.1: what a PEP in another
language would actually see on the wire (status, JSON error body, X-Request-ID), including a
chunked body that grows too large and a sender that stalls."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from zt_authzen_helpers import AUTH, TOKEN
from zt_policy.adapters.authzen import AuthZENApp

import zt_policy
from tests.servers import uvicorn_server

POLICIES = zt_policy.compile('permit "readers" when request.action == "read"')
READ = {
    "subject": {"type": "user", "id": "alice"},
    "action": {"name": "read"},
    "resource": {"type": "doc", "id": "1"},
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    app = AuthZENApp(
        POLICIES, api_keys=[TOKEN], bearer_tokens=[TOKEN], max_body_bytes=2048, body_timeout=0.5
    )
    with uvicorn_server(app) as url:
        yield url


def post(url: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
    return httpx.post(url + "/access/v1/evaluation", headers=headers, timeout=10, **kwargs)


def test_decisions_over_the_wire(server: str) -> None:
    assert post(server, AUTH, json=READ).json() == {"decision": True}
    assert post(
        server, {"x-api-key": TOKEN}, json={**READ, "action": {"name": "write"}}
    ).json() == {"decision": False}
    metadata = httpx.get(server + "/.well-known/authzen-configuration", timeout=10).json()
    assert metadata["access_evaluation_endpoint"] == server + "/access/v1/evaluation"


@pytest.mark.parametrize(
    ("headers", "kwargs", "status", "error"),
    [
        ({}, {"json": READ}, 401, "unauthorized"),
        (AUTH, {"content": b"{}"}, 415, "unsupported_media_type"),
        (
            {**AUTH, "content-type": "application/json"},
            {"content": b'{"subject":'},
            400,
            "invalid_json",
        ),
        (
            {**AUTH, "content-type": "application/json"},
            {"content": b"x" * 5000},
            413,
            "payload_too_large",
        ),
        (AUTH, {"json": {"subject": "alice"}}, 400, "invalid_request"),
    ],
)
def test_bad_requests_get_json_errors(
    server: str, headers: dict[str, str], kwargs: dict[str, Any], status: int, error: str
) -> None:
    response = post(server, {**headers, "x-request-id": "req-42"}, **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["x-request-id"] == "req-42"


def test_chunked_body_growing_too_large_is_413(server: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    headers = {**AUTH, "content-type": "application/json"}
    response = post(server, headers, content=chunks())
    assert response.status_code == 413


def test_stalled_sender_gets_408(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    body = json.dumps(READ).encode()
    head = (
        f"POST /access/v1/evaluation HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) + 50}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)  # 50 bytes short: the server waits, then gives up
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 408 " in status_line
    assert b'"request_timeout"' in answer
