"""The FastMCP adapter: FastMCP's own client against a FastMCP server, in memory and over HTTP."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.auth.providers.jwt import StaticTokenVerifier
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND, Implementation
from zt_policy.adapters.fastmcp import FORBIDDEN, UNAUTHENTICATED, ZtPolicyMiddleware
from ztmcp_helpers import MANAGED, Session, by_client_name

pytestmark = pytest.mark.anyio


def build(policies: Any, counter: Counter[str], **options: Any) -> FastMCP:
    extra = options.pop("fastmcp", {})
    mcp = FastMCP("zt-fast", middleware=[ZtPolicyMiddleware(policies, **options)], **extra)

    @mcp.tool
    def search_docs(query: str) -> str:
        counter["search_docs"] += 1
        return f"found {query}"

    @mcp.tool
    def read_file(path: str) -> str:
        counter["read_file"] += 1
        return f"content of {path}"

    @mcp.tool
    def delete_file(path: str) -> str:
        counter["delete_file"] += 1
        return "deleted"

    @mcp.resource("docs://handbook")
    def handbook() -> str:
        counter["handbook"] += 1
        return "Be kind."

    @mcp.resource("runbooks://{name}")
    def runbook(name: str) -> str:
        counter["runbook"] += 1
        return name

    @mcp.prompt
    def summarize(text: str) -> str:
        return text

    @mcp.prompt
    def incident_review(incident: str) -> str:
        counter["incident_review"] += 1
        return incident

    return mcp


def named(server: Any, who: str) -> Client[Any]:
    return Client(server, client_info=Implementation(name=who, version="1"))


async def test_lists_and_calls_follow_the_policies(policies: Any) -> None:
    counter: Counter[str] = Counter()
    server = build(policies, counter, identity=by_client_name)
    async with named(server, "alice") as c:
        assert sorted(t.name for t in await c.list_tools()) == ["read_file", "search_docs"]
        assert [t.uri_template for t in await c.list_resource_templates()] == ["runbooks://{name}"]
        ok = await c.call_tool("read_file", {"path": "/public/a.txt"})
        assert ok.content[0].text == "content of /public/a.txt"
        with pytest.raises(MCPError) as err:
            await c.call_tool_mcp("read_file", {"path": "/etc/passwd"})
        assert err.value.error.code == FORBIDDEN
        assert err.value.error.data == {"reasons": ["no policy permits this request"]}
    async with named(server, "bob") as c:
        assert [t.name for t in await c.list_tools()] == ["search_docs"]
        assert await c.list_resource_templates() == []
        assert [p.name for p in await c.list_prompts()] == ["summarize"]
    assert counter["read_file"] == 1


async def test_hidden_items_answer_like_missing_ones(policies: Any) -> None:
    counter: Counter[str] = Counter()
    server = build(policies, counter, identity=by_client_name)
    async with named(server, "bob") as c:
        hidden = await c.call_tool_mcp("read_file", {"path": "/public/a.txt"})
        missing = await c.call_tool_mcp("no_such_tool", {"path": "/public/a.txt"})
        assert hidden.is_error and hidden.content[0].text == "Unknown tool: 'read_file'"
        assert missing.content[0].text == "Unknown tool: 'no_such_tool'"
        with pytest.raises(ToolError):
            await c.call_tool("delete_file", {"path": "/x"})
        errors = []
        for uri in ("runbooks://db", "nothing://db"):
            with pytest.raises(MCPError) as err:
                await c.read_resource(uri)
            errors.append(err.value.error)
        assert errors[0].code == errors[1].code == INVALID_PARAMS
        assert errors[0].message.replace("runbooks", "nothing") == errors[1].message
        with pytest.raises(MCPError) as prompt_err:
            await c.get_prompt("incident_review", {"incident": "7"})
        assert prompt_err.value.error.message == "Unknown prompt: 'incident_review'"
    assert sum(counter.values()) == 0


async def test_missing_identity_and_oversized_arguments(policies: Any) -> None:
    counter: Counter[str] = Counter()
    server = build(policies, counter, identity=by_client_name)
    async with named(server, "mallory") as c:
        with pytest.raises(MCPError) as err:
            await c.call_tool_mcp("search_docs", {"query": "x"})
        assert err.value.error.code == UNAUTHENTICATED
        with pytest.raises(MCPError):
            await c.list_tools()
    async with named(server, "alice") as c:
        with pytest.raises(MCPError) as err:
            await c.call_tool_mcp("read_file", {"path": "/public/" + "x" * (5 * 1024 * 1024)})
        assert err.value.error.code == INVALID_PARAMS
        assert (await c.call_tool("search_docs", {"query": "still fine"})).content[
            0
        ].text == "found still fine"
    assert counter["read_file"] == 0 and counter["search_docs"] == 1


async def test_shadow_mode(policies: Any) -> None:
    counter: Counter[str] = Counter()
    events: list[Any] = []
    server = build(
        policies, counter, identity=by_client_name, shadow=True, on_decision=events.append
    )
    async with named(server, "bob") as c:
        assert len(await c.list_tools()) == 3
        await c.call_tool("delete_file", {"path": "/x"})
    assert counter["delete_file"] == 1
    assert {e["outcome"] for e in events} == {"hidden"} and not any(e["enforced"] for e in events)


async def test_fastmcp_access_tokens_over_http(policies: Any, served: Any) -> None:
    counter: Counter[str] = Counter()
    tokens = {
        "alice-token": {
            "client_id": "cli",
            "sub": "alice",
            "groups": ["engineering"],
            "scopes": ["files"],
        },
        "root-token": {
            "client_id": "cli",
            "sub": "root",
            "roles": ["admin"],
            "device": MANAGED,
            "scopes": [],
        },
        "bob-token": {"client_id": "cli", "sub": "bob", "scopes": []},
    }
    verifier = StaticTokenVerifier(tokens=tokens)
    url = served(
        lambda _: build(policies, counter, fastmcp={"auth": verifier}).http_app(path="/mcp")
    ).url
    seen = {}
    for who in ("alice", "bob", "root"):
        async with Client(f"{url}/mcp", auth=f"{who}-token") as c:
            seen[who] = sorted(t.name for t in await c.list_tools())
            if who == "root":
                assert (await c.call_tool("delete_file", {"path": "/x"})).content[
                    0
                ].text == "deleted"
            if who == "alice":
                with pytest.raises(ToolError):
                    await c.call_tool("delete_file", {"path": "/x"})
    assert seen == {
        "alice": ["read_file", "search_docs"],
        "bob": ["search_docs"],
        "root": ["delete_file", "read_file", "search_docs"],
    }
    assert counter["delete_file"] == 1


def test_fastmcp_bad_input_over_http(policies: Any, served: Any) -> None:
    counter: Counter[str] = Counter()
    tokens = {
        "alice-token": {"client_id": "cli", "sub": "alice", "groups": ["engineering"], "scopes": []}
    }
    verifier = StaticTokenVerifier(tokens=tokens)

    def app(_: str) -> Any:
        return build(policies, counter, fastmcp={"auth": verifier}).http_app(
            path="/mcp", json_response=True
        )

    s = Session(served(app).url, "alice-token")
    for params in ({"name": 7}, {"name": "read_file", "arguments": [1]}, "read_file"):
        assert s.error("tools/call", params)["code"] == INVALID_PARAMS
    assert s.error("tools/explode", {})["code"] == METHOD_NOT_FOUND
    big = {"name": "read_file", "arguments": {"path": "/public/" + "x" * (5 * 1024 * 1024)}}
    assert s.post("tools/call", big).status_code == 413  # the transport's body limit
    ok = s.post("tools/call", {"name": "read_file", "arguments": {"path": "/public/a"}}).json()
    assert ok["result"]["content"][0]["text"] == "content of /public/a"
    assert counter["read_file"] == 1
