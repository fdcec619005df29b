"""Shared helpers for the AuthZEN adapter tests: where things are, and a real uvicorn server.

The conformance vectors live outside the repository (`../shared/conformance/authzen/` from the
repo root, overridable with ZT_AUTHZEN_CONFORMANCE); tests that need them skip with a message
saying where they looked when they are absent.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

from zt_policy.adapters.authzen import AuthZENApp

import zt_policy

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "authzen"
TOKEN = "pdp-test-token-7d1f"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def conformance_dir() -> Path | None:
    """The interop vectors, or None when this checkout has none next to it."""
    candidates = [
        os.environ.get("ZT_AUTHZEN_CONFORMANCE"),
        REPO.parent / "shared/conformance/authzen",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "users.json").is_file():
            return Path(candidate)
    return None


SKIP_REASON = (
    "AuthZEN conformance vectors not found (looked in $ZT_AUTHZEN_CONFORMANCE and "
    f"{REPO.parent / 'shared/conformance/authzen'})"
)


def load_vectors(scenario: str) -> dict[str, Any]:
    folder = conformance_dir()
    if folder is None:
        return {}
    with open(folder / scenario / "decisions.json", encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def users_module() -> ModuleType:
    """examples/authzen/users.py (examples are scripts, not an installed package)."""
    spec = importlib.util.spec_from_file_location("zt_authzen_example_users", EXAMPLES / "users.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port




def scenario_app(policy_file: str, users: Any, **options: Any) -> AuthZENApp:
    """The PDP for one interop scenario: its .ztp policies, a bearer token, users.json as PIP."""
    policies = zt_policy.load(EXAMPLES / policy_file)
    return AuthZENApp(policies, bearer_tokens=[TOKEN], attribute_provider=users.lookup, **options)


async def asgi_call(
    target: Any, scope: dict[str, Any], sent: list[dict[str, Any]], stall: bool = False
) -> None:
    """Drive the app with a hand-made ASGI scope (for what HTTP clients will not send); with
    `stall` the body never arrives."""

    async def receive() -> dict[str, Any]:
        if stall:
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await target(scope, receive, send)
