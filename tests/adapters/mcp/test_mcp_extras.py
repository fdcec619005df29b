"""Less common MCP methods: completion of hidden references, resource subscriptions."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest
from fastmcp import Client as FastClient
from fastmcp import FastMCP
from mcp import Client
from mcp.server import Server
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND, Implementation, PromptReference
from zt_policy.adapters.fastmcp import ZtPolicyMiddleware as FastMiddleware
from zt_policy.adapters.mcp import ZtPolicyMiddleware
from ztmcp_helpers import by_client_name, example

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:resources/subscribe is removed"),
]


def _who(name: str) -> Implementation:
    return Implementation(name=name, version="1")


async def test_completion_of_a_hidden_prompt_suggests_nothing(policies: Any) -> None:
    server = example.build_server(policies, identity=by_client_name)
    asked: list[str] = []

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> types.Completion:
        asked.append(ref.name)
        return types.Completion(values=["INC-1", "INC-2"])

    for who, expected in (("alice", []), ("bob", [])):
        async with Client(server, client_info=_who(who)) as c:
            got = await c.complete(
                PromptReference(type="ref/prompt", name="incident_review"),
                {"name": "incident", "value": "I"},
            )
            assert got.completion.values == expected
    async with Client(server, client_info=_who("bob")) as c:
        got = await c.complete(
            PromptReference(type="ref/prompt", name="summarize"), {"name": "text", "value": "x"}
        )
        assert got.completion.values == ["INC-1", "INC-2"]


async def test_subscribe_answers_like_the_server_would(policies: Any) -> None:
    # MCPServer serves no subscriptions: hidden or not, the answer is "Method not found".
    server = example.build_server(policies, identity=by_client_name)
    async with Client(server, client_info=_who("bob"), mode="legacy") as c:
        for uri in ("docs://handbook", "runbooks://db"):
            with pytest.raises(MCPError) as err:
                await c.subscribe_resource(uri)
            assert err.value.error.code == METHOD_NOT_FOUND

    subscribed: list[str] = []

    async def on_subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribed.append(str(params.uri))
        return types.EmptyResult()

    low = Server("low", on_subscribe_resource=on_subscribe)
    ZtPolicyMiddleware(policies, identity=by_client_name).install(low)
    async with Client(low, client_info=_who("bob"), mode="legacy") as c:
        await c.subscribe_resource("docs://handbook")
        with pytest.raises(MCPError) as err:
            await c.subscribe_resource("runbooks://db")
        assert err.value.error.code == INVALID_PARAMS
    assert subscribed == ["docs://handbook"]


async def test_fastmcp_completion_of_a_hidden_prompt(policies: Any) -> None:
    mcp = FastMCP("c", middleware=[FastMiddleware(policies, identity=by_client_name)])

    @mcp.prompt
    def incident_review(incident: str) -> str:
        return incident

    @mcp.prompt
    def summarize(text: str) -> str:
        return text

    @mcp.completion
    async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        return ["one", "two"]

    async with FastClient(mcp, client_info=_who("bob")) as c:
        hidden = PromptReference(type="ref/prompt", name="incident_review")
        assert (await c.complete(hidden, {"name": "incident", "value": "I"})).values == []
        visible = PromptReference(type="ref/prompt", name="summarize")
        assert (await c.complete(visible, {"name": "text", "value": "x"})).values == ["one", "two"]
