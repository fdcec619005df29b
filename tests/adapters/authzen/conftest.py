"""Fixtures for the AuthZEN adapter tests: the scenario apps, in process and behind uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from zt_authzen_helpers import (
    SKIP_REASON,
    conformance_dir,
    scenario_app,
    users_module,
)

from tests.servers import uvicorn_server


@pytest.fixture(scope="session")
def users() -> Any:
    folder = conformance_dir()
    if folder is None:
        pytest.skip(SKIP_REASON)
    return users_module().UsersFile.load(folder / "users.json")


@pytest.fixture(scope="module")
def todo_server(users: Any) -> Iterator[str]:
    with uvicorn_server(scenario_app("todo.ztp", users)) as url:
        yield url


@pytest.fixture(scope="module")
def gateway_server(users: Any) -> Iterator[str]:
    with uvicorn_server(scenario_app("api-gateway.ztp", users)) as url:
        yield url
