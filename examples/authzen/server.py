"""Serve an AuthZEN PDP for the interop scenarios:

    ZT_AUTHZEN_TOKEN=secret ZT_AUTHZEN_USERS=users.json \
        uvicorn --factory --app-dir examples/authzen server:create_app --port 8080

`ZT_AUTHZEN_POLICIES` picks the policy file (default: todo.ztp next to this file). Then:

    curl -s localhost:8080/access/v1/evaluation -H 'Authorization: Bearer secret' \
      -H 'Content-Type: application/json' \
      -d '{"subject":{"type":"user","id":"<id>"},"action":{"name":"can_read_todos"},
           "resource":{"type":"todo","id":"1"}}'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from zt_policy.adapters.authzen import AuthZENApp

import zt_policy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from users import UsersFile  # noqa: E402


def create_app() -> AuthZENApp:
    policies = zt_policy.load(os.environ.get("ZT_AUTHZEN_POLICIES", str(HERE / "todo.ztp")))
    users = UsersFile.load(os.environ["ZT_AUTHZEN_USERS"])
    return AuthZENApp(
        policies,
        bearer_tokens=[os.environ["ZT_AUTHZEN_TOKEN"]],
        attribute_provider=users.lookup,
    )
