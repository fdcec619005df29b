"""Real servers for tests: uvicorn and waitress on 127.0.0.1 and a free port, each in a thread,
started and stopped by a context manager. Shared by the HTTP, AuthZEN and guard tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from waitress.server import create_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def uvicorn_server(app: Any, **options: Any) -> Iterator[str]:
    """Serve an ASGI app; proxy headers off, so X-Forwarded-For reaches the middleware as sent."""
    settings: dict[str, Any] = {"log_level": "warning", "proxy_headers": False, "lifespan": "on"}
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), **{**settings, **options})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def waitress_server(app: Any, health: str = "/health") -> Iterator[str]:
    """Serve a WSGI app; ready once `health` answers."""
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url + health, timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.close()
        thread.join(5)
