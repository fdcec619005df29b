"""Fixtures for the MCP adapter tests; helpers live in `ztmcp_helpers` (a unique module name)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from zt_policy.adapters.identity import JWTVerifier
from ztmcp_helpers import AUDIENCE, EXAMPLE, ISSUER, SECRET, Served, example, serve

import zt_policy


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def policies() -> zt_policy.PolicySet:
    return zt_policy.load(EXAMPLE / "policies")


@pytest.fixture
def calls() -> Any:
    example.CALLS.clear()
    return example.CALLS


@pytest.fixture(scope="session")
def verifier() -> JWTVerifier:
    return JWTVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",), keys=SECRET)


@pytest.fixture
def served() -> Iterator[Any]:
    opened: list[Served] = []

    def start(build: Any) -> Served:
        s = serve(build).__enter__()
        opened.append(s)
        return s

    yield start
    for s in opened:
        s.__exit__(None, None, None)
