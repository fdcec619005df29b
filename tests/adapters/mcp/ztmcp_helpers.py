"""Shared helpers for the MCP adapter tests: the example server, identities, JWTs, a real uvicorn.

Identities: in-process transports carry no credentials, so in-memory tests name the caller in
`clientInfo` and a test-only resolver maps it (never do this in production: clientInfo is
unauthenticated). HTTP tests use real HS256 JWTs checked by the shared `JWTVerifier`.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from zt_policy.adapters.mcp import CallerInfo

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "mcp_server"
SECRET = b"test-secret-for-hs256-tokens-0123456789"
ISSUER = "https://idp.example"
AUDIENCE = "mcp://files"

USERS: dict[str, dict[str, Any]] = {
    "alice": {"subject": "alice", "groups": ["engineering"], "authenticated": True},
    "bob": {"subject": "bob", "groups": [], "authenticated": True},
    "root": {"subject": "root", "roles": ["admin"], "authenticated": True},
}
MANAGED = {"managed": True, "posture": 90}


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location("zt_mcp_example_server", EXAMPLE / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()


def by_client_name(info: CallerInfo) -> dict[str, Any] | None:
    """Test-only resolver: the in-memory caller is whoever `clientInfo.name` says."""
    return USERS.get(info.client_name or "")


def managed_device(info: CallerInfo) -> dict[str, Any]:
    return MANAGED if info.client_name == "root" else {}


def token(sub: str, groups: list[str] | None = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600}
    if groups is not None:
        payload["groups"] = groups
    payload.update(claims)
    return jwt.encode(payload, SECRET, algorithm="HS256")


def free_port() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


class Served:
    """A real uvicorn server on 127.0.0.1 running `app` in a thread."""

    def __init__(self, app: Any, sock: socket.socket, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def serve(build: Any) -> Served:
    """`build(url) -> ASGI app`; the URL is known before the app is built (auth metadata)."""
    sock, port = free_port()
    return Served(build(f"http://127.0.0.1:{port}"), sock, port)


class Session:
    """A raw streamable-HTTP MCP session (JSON responses) over httpx."""

    def __init__(self, url: str, bearer: str | None) -> None:
        self.http = httpx.Client(base_url=url, timeout=20)
        self.headers = {"Accept": "application/json, text/event-stream"}
        if bearer:
            self.headers["Authorization"] = f"Bearer {bearer}"
        self.next_id = 0
        init = self.post(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"},
            },
        )
        assert "result" in init.json()
        self.headers["mcp-session-id"] = init.headers["mcp-session-id"]
        self.headers["mcp-protocol-version"] = "2025-11-25"
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert self.http.post("/mcp", json=note, headers=self.headers).status_code == 202

    def post(self, method: str, params: Any) -> httpx.Response:
        self.next_id += 1
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        return self.http.post("/mcp", json=body, headers=self.headers)

    def error(self, method: str, params: Any) -> dict[str, Any]:
        r = self.post(method, params)
        assert r.status_code in (200, 400), (
            r.text
        )  # a non-object `params` fails JSON-RPC framing: 400
        doc = r.json()
        assert "result" not in doc
        return doc["error"]  # type: ignore[no-any-return]
