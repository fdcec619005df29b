"""The MCP SDK adapter through the real `mcp.Client`, in-process, in both protocol eras.

"auto" drives the 2026-07-28 per-request path; "legacy" the initialize handshake over the
in-memory stream transport. Identities come from `clientInfo` via a test-only resolver.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation
from zt_policy.adapters.mcp import FORBIDDEN, UNAUTHENTICATED, ZtPolicyMiddleware
from ztmcp_helpers import by_client_name, example, managed_device

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:ping is removed")]
MODES = ["auto", "legacy"]


def client(server: MCPServer, who: str, mode: str) -> Client:
    return Client(server, mode=mode, client_info=Implementation(name=who, version="1"))


def build(policies: Any, **options: Any) -> MCPServer:
    options.setdefault("identity", by_client_name)
    options.setdefault("device", managed_device)
    return example.build_server(policies, **options)  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
async def test_two_identities_see_different_tools(policies: Any, mode: str) -> None:
    server = build(policies)
    seen = {}
    for who in ("alice", "bob", "root"):
        async with client(server, who, mode) as c:
            seen[who] = sorted(t.name for t in (await c.list_tools()).tools)
    assert seen["alice"] == ["read_file", "search_docs"]
    assert seen["bob"] == ["search_docs"]
    assert seen["root"] == ["delete_file", "read_file", "search_docs"]


@pytest.mark.parametrize("mode", MODES)
async def test_argument_rules_and_denials_never_reach_the_tool(
    policies: Any, calls: Any, mode: str
) -> None:
    server = build(policies)
    async with client(server, "alice", mode) as c:
        ok = await c.call_tool("read_file", {"path": "/public/readme.txt"})
        assert not ok.is_error and ok.content[0].text == "hello"
        assert calls["read_file"] == 1
        with pytest.raises(MCPError) as denied:
            await c.call_tool("read_file", {"path": "/secret/keys.txt"})
        assert denied.value.error.code == FORBIDDEN
        assert denied.value.error.data == {"reasons": ["no policy permits this request"]}
        with pytest.raises(MCPError) as traversal:
            await c.call_tool("read_file", {"path": "/public/../secret/keys.txt"})
        assert traversal.value.error.code == FORBIDDEN
        assert "path traversal is not allowed" in traversal.value.error.message
    assert calls["read_file"] == 1  # neither denied call ran the tool


@pytest.mark.parametrize("mode", MODES)
async def test_hidden_tool_answers_exactly_like_a_missing_one(
    policies: Any, calls: Any, mode: str
) -> None:
    server = build(policies)
    async with client(server, "bob", mode) as c:
        hidden = await c.call_tool("read_file", {"path": "/public/readme.txt"})
        missing = await c.call_tool("no_such_tool", {"path": "/public/readme.txt"})
    as_hidden = hidden.model_dump(by_alias=True)
    as_missing = missing.model_dump(by_alias=True)
    as_missing["content"][0]["text"] = as_missing["content"][0]["text"].replace(
        "no_such_tool", "read_file"
    )
    assert hidden.is_error and as_hidden == as_missing
    assert calls["read_file"] == 0


@pytest.mark.parametrize("mode", MODES)
async def test_hidden_resource_and_prompt_answer_like_missing_ones(
    policies: Any, calls: Any, mode: str
) -> None:
    server = build(policies)
    async with client(server, "bob", mode) as c:
        assert [str(r.uri) for r in (await c.list_resources()).resources] == ["docs://handbook"]
        assert (await c.list_resource_templates()).resource_templates == []
        assert [p.name for p in (await c.list_prompts()).prompts] == ["summarize"]
        assert (await c.read_resource("docs://handbook")).contents[0].text == "Be kind."
        errors = []
        for uri in ("runbooks://db", "nothing://db"):
            with pytest.raises(MCPError) as err:
                await c.read_resource(uri)
            errors.append(err.value.error)
        assert errors[0].code == errors[1].code
        assert errors[0].message.replace("runbooks", "nothing") == errors[1].message
        prompt_errors = []
        for name in ("incident_review", "no_such_prompt"):
            with pytest.raises(MCPError) as err:
                await c.get_prompt(name, {"incident": "7"})
            prompt_errors.append(err.value.error)
        assert prompt_errors[0].code == prompt_errors[1].code
        assert (
            prompt_errors[0].message.replace("incident_review", "no_such_prompt")
            == prompt_errors[1].message
        )
    assert calls["runbook"] == 0 and calls["incident_review"] == 0


@pytest.mark.parametrize("mode", MODES)
async def test_missing_identity_is_a_clean_error_and_the_session_survives(
    policies: Any, calls: Any, mode: str
) -> None:
    server = build(policies)
    async with client(server, "mallory", mode) as c:
        for attempt in (lambda: c.list_tools(), lambda: c.call_tool("search_docs", {"query": "x"})):
            with pytest.raises(MCPError) as err:
                await attempt()
            assert err.value.error.code == UNAUTHENTICATED
        # not decided: the connection still answers
        if mode == "legacy":
            await c.send_ping()
        else:
            assert (await c.session.discover()).supported_versions
    assert calls["search_docs"] == 0


async def test_shadow_mode_reports_but_does_not_block(policies: Any, calls: Any) -> None:
    events: list[Any] = []
    server = build(policies, shadow=True, on_decision=events.append)
    async with client(server, "bob", "auto") as c:
        assert sorted(t.name for t in (await c.list_tools()).tools) == [
            "delete_file",
            "read_file",
            "search_docs",
        ]
        assert not (await c.call_tool("read_file", {"path": "/secret/keys.txt"})).is_error
    assert calls["read_file"] == 1
    outcomes = {(e["method"], e["outcome"], e["enforced"]) for e in events}
    assert ("tools/list", "hidden", False) in outcomes
    assert ("tools/call", "hidden", False) in outcomes


async def test_answers_are_configurable(policies: Any, calls: Any) -> None:
    loud = build(policies, hidden_answer="forbidden")
    async with client(loud, "bob", "auto") as c:
        with pytest.raises(MCPError) as err:
            await c.call_tool("read_file", {"path": "/public/readme.txt"})
        assert err.value.error.code == FORBIDDEN
    quiet = build(policies, denied_answer="not_found")
    async with client(quiet, "alice", "auto") as c:
        result = await c.call_tool("read_file", {"path": "/secret/keys.txt"})
        assert result.is_error and result.content[0].text == "Unknown tool: read_file"
    assert calls["read_file"] == 0


async def test_decide_methods_puts_ping_under_policy(policies: Any) -> None:
    import zt_policy

    text = (
        'permit "engineers-ping" when "engineering" in identity.groups and request.action == "ping"'
    )
    server = build(zt_policy.compile(text), decide_methods={"ping"})
    async with client(server, "alice", "legacy") as c:
        await c.send_ping()
    async with client(server, "bob", "legacy") as c:
        with pytest.raises(MCPError) as err:
            await c.send_ping()
        assert err.value.error.code == FORBIDDEN


async def test_filtered_lists_are_never_shared_across_callers(policies: Any) -> None:
    server = MCPServer(
        "cached", cache_hints={"tools/list": CacheHint(ttl_ms=60_000, scope="public")}
    )
    ZtPolicyMiddleware(policies, identity=by_client_name).install(server)

    @server.tool()
    def search_docs(query: str) -> str:
        return query

    async with client(server, "bob", "auto") as c:
        listed = await c.list_tools()
    assert [t.name for t in listed.tools] == ["search_docs"]
    assert listed.cache_scope == "private"


async def test_policy_swap_drops_cached_visibility(policies: Any) -> None:
    import zt_policy

    server = build(policies)
    middleware = server.middleware[-1]
    assert isinstance(middleware, ZtPolicyMiddleware)
    who = Implementation(name="bob", version="1")
    async with Client(server, client_info=who, cache=None) as c:
        assert [t.name for t in (await c.list_tools()).tools] == ["search_docs"]
        middleware.policies = zt_policy.compile(
            'permit "bob-reads" when identity.subject == "bob" and request.tool == "read_file"'
        )
        assert [t.name for t in (await c.list_tools()).tools] == ["read_file"]


@pytest.mark.parametrize("bad", ["raises", "not-a-mapping"])
async def test_broken_identity_resolvers_fail_closed(policies: Any, calls: Any, bad: str) -> None:
    def resolver(info: Any) -> Any:
        if bad == "raises":
            raise RuntimeError("directory down")
        return "alice"

    server = build(policies, identity=resolver)
    async with client(server, "alice", "auto") as c:
        with pytest.raises(MCPError) as err:
            await c.call_tool("search_docs", {"query": "x"})
        assert err.value.error.code == UNAUTHENTICATED
        assert "directory down" not in err.value.error.message
    assert calls["search_docs"] == 0
