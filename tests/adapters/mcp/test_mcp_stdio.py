"""The example server over stdio: launched as a subprocess by the real `mcp` client.

Over stdio the launching user is the caller; the example reads it from environment variables and
passes it as `default_identity`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from ztmcp_helpers import EXAMPLE

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def params(subject: str, groups: str) -> StdioServerParameters:
    env = dict(os.environ, ZT_SUBJECT=subject, ZT_GROUPS=groups)
    return StdioServerParameters(
        command=sys.executable, args=[str(EXAMPLE / "server.py"), "stdio"], env=env
    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_identity_from_the_launching_user(mode: str) -> None:
    seen: dict[str, Any] = {}
    for subject, groups in (("alice", "engineering"), ("bob", "")):
        async with Client(params(subject, groups), mode=mode, read_timeout_seconds=30) as c:
            seen[subject] = sorted(t.name for t in (await c.list_tools()).tools)
            result = await c.call_tool("read_file", {"path": "/public/readme.txt"})
            seen[subject + "-call"] = result.content[0].text
    assert seen == {
        "alice": ["read_file", "search_docs"],
        "alice-call": "hello",
        "bob": ["search_docs"],
        "bob-call": "Unknown tool: read_file",
    }
