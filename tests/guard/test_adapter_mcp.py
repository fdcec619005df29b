"""The MCP adapters with a guard (`limiter=`): an exceeded limit is a RATE_LIMITED JSON-RPC error
carrying the reason and `retry_after`, through the real clients (MCP SDK and FastMCP)."""

from __future__ import annotations

from typing import Any

import fastmcp
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation
from zt_policy.adapters import fastmcp as zt_fastmcp
from zt_policy.adapters import mcp as zt_mcp

import zt_policy
from zt_policy.guard import Guard

pytestmark = pytest.mark.anyio

POLICY = """
permit "generate" when request.action == "tools/call" and request.tool == "generate"
limit "generate-per-user" 2 per 1h by identity.subject
  when request.tool == "generate" reason "generation quota exceeded"
"""


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def by_name(info: Any) -> dict[str, Any]:
    return {"subject": info.client_name, "authenticated": True}


def sdk_server(guard: Guard) -> MCPServer:
    server = MCPServer("limited", middleware=[
        zt_mcp.ZtPolicyMiddleware(guard.policies, identity=by_name, limiter=guard)])

    @server.tool()
    def generate(prompt: str) -> str:
        return prompt.upper()

    return server


async def test_mcp_sdk_limit_is_a_rate_limited_error(storage: str) -> None:
    guard = Guard(zt_policy.compile(POLICY), storage=storage)
    server = sdk_server(guard)
    async with Client(server, client_info=Implementation(name="alice", version="1")) as c:
        for _ in range(2):
            ok = await c.call_tool("generate", {"prompt": "hi"})
            assert not ok.is_error and ok.content[0].text == "HI"
        with pytest.raises(MCPError) as err:
            await c.call_tool("generate", {"prompt": "hi"})
    assert err.value.error.code == zt_mcp.RATE_LIMITED
    data = err.value.error.data
    assert data["reasons"] == ["generation quota exceeded"]
    assert data["limit"] == "generate-per-user" and 1 <= data["retry_after"] <= 3600
    # another caller has its own budget
    async with Client(server, client_info=Implementation(name="bob", version="1")) as c:
        assert not (await c.call_tool("generate", {"prompt": "x"})).is_error


async def test_fastmcp_limit_is_a_rate_limited_error(storage: str) -> None:
    guard = Guard(zt_policy.compile(POLICY), storage=storage)
    server = fastmcp.FastMCP("limited", middleware=[
        zt_fastmcp.ZtPolicyMiddleware(guard.policies, identity=by_name, limiter=guard)])

    @server.tool
    def generate(prompt: str) -> str:
        return prompt.upper()

    async with fastmcp.Client(server, client_info=Implementation(name="alice", version="1")) as c:
        for _ in range(2):
            assert (await c.call_tool("generate", {"prompt": "hi"})).content[0].text == "HI"
        with pytest.raises(MCPError) as err:
            await c.call_tool_mcp("generate", {"prompt": "hi"})
    assert err.value.error.code == zt_fastmcp.RATE_LIMITED
    assert err.value.error.data["retry_after"] >= 1
    assert err.value.error.data["reasons"] == ["generation quota exceeded"]


async def test_shadow_mode_reports_the_limit_without_enforcing_it() -> None:
    events: list[Any] = []
    guard = Guard(zt_policy.compile(POLICY))
    server = MCPServer("limited", middleware=[zt_mcp.ZtPolicyMiddleware(
        guard.policies, identity=by_name, limiter=guard, shadow=True, on_decision=events.append)])

    @server.tool()
    def generate(prompt: str) -> str:
        return prompt.upper()

    async with Client(server, client_info=Implementation(name="alice", version="1")) as c:
        for _ in range(3):
            assert not (await c.call_tool("generate", {"prompt": "hi"})).is_error
    assert [e["outcome"] for e in events] == ["limited"]
    assert events[0]["enforced"] is False
