"""The MCP SDK adapter over real streamable HTTP: uvicorn on 127.0.0.1, the real `mcp` client, JWTs.

Two identity set-ups: the SDK's own bearer auth with `JWTTokenVerifier` (the middleware reads the
SDK's `AccessToken`), and no SDK auth with `jwt_verifier=` on the middleware.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation
from zt_policy.adapters.mcp import FORBIDDEN, UNAUTHENTICATED, ZtPolicyMiddleware
from ztmcp_helpers import example, token

import zt_policy

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:ping is removed")]
MODES = ["auto", "legacy"]
ADMIN_DEVICE = {"managed": True, "posture": 95}


@asynccontextmanager
async def connect(url: str, bearer: str | None, mode: str, name: str = "test-client") -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(20.0)) as http:
        transport = streamable_http_client(f"{url}/mcp", http_client=http)
        async with Client(
            transport, mode=mode, client_info=Implementation(name=name, version="1")
        ) as c:
            yield c


@pytest.fixture
def sdk_auth_url(served: Any, policies: Any, verifier: Any) -> str:
    def build(url: str) -> Any:
        return example.build_server(
            policies, auth_verifier=verifier, http_url=url
        ).streamable_http_app()

    return served(build).url  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
async def test_identities_from_sdk_access_token(sdk_auth_url: str, calls: Any, mode: str) -> None:
    alice = token("alice", ["engineering"])
    bob = token("bob")
    root = token("root", roles=["admin"], device=ADMIN_DEVICE)
    seen = {}
    for who, bearer in (("alice", alice), ("bob", bob), ("root", root)):
        async with connect(sdk_auth_url, bearer, mode) as c:
            seen[who] = sorted(t.name for t in (await c.list_tools()).tools)
    assert seen == {
        "alice": ["read_file", "search_docs"],
        "bob": ["search_docs"],
        "root": ["delete_file", "read_file", "search_docs"],  # admin role + managed device claim
    }
    async with connect(sdk_auth_url, alice, mode) as c:
        assert (await c.call_tool("read_file", {"path": "/public/faq.txt"})).content[
            0
        ].text == "faq"
        with pytest.raises(MCPError) as err:
            await c.call_tool("read_file", {"path": "/secret/keys.txt"})
        assert err.value.error.code == FORBIDDEN
        assert (await c.call_tool("delete_file", {"path": "/public/faq.txt"})).is_error  # hidden
    assert calls["read_file"] == 1 and calls["delete_file"] == 0


@pytest.mark.parametrize("mode", MODES)
async def test_hidden_tool_over_http_is_unknown(sdk_auth_url: str, calls: Any, mode: str) -> None:
    async with connect(sdk_auth_url, token("bob"), mode) as c:
        result = await c.call_tool("read_file", {"path": "/public/faq.txt"})
        assert result.is_error and result.content[0].text == "Unknown tool: read_file"
    assert calls["read_file"] == 0


def test_sdk_auth_refuses_missing_and_forged_tokens(sdk_auth_url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    forged = token("alice", ["engineering"]) + "x"
    for headers in ({}, {"Authorization": f"Bearer {forged}"}):
        r = httpx.post(f"{sdk_auth_url}/mcp", json=body, headers=headers, timeout=10)
        assert r.status_code == 401


@pytest.fixture
def mw_auth_url(served: Any, policies: Any, verifier: Any) -> str:
    def build(url: str) -> Any:
        return example.build_server(policies, jwt_verifier=verifier).streamable_http_app()

    return served(build).url  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
async def test_middleware_verifies_bearer_jwts(mw_auth_url: str, calls: Any, mode: str) -> None:
    async with connect(mw_auth_url, token("alice", ["engineering"]), mode) as c:
        assert sorted(t.name for t in (await c.list_tools()).tools) == ["read_file", "search_docs"]
        with pytest.raises(MCPError) as err:
            await c.call_tool("read_file", {"path": "/secret/keys.txt"})
        assert err.value.error.code == FORBIDDEN
    assert calls["read_file"] == 0


@pytest.mark.parametrize("mode", MODES)
async def test_missing_or_expired_identity_is_a_jsonrpc_error(
    mw_auth_url: str, calls: Any, mode: str
) -> None:
    async with connect(mw_auth_url, None, mode) as c:
        with pytest.raises(MCPError) as err:
            await c.call_tool("search_docs", {"query": "x"})
        assert err.value.error.code == UNAUTHENTICATED
        with pytest.raises(MCPError):
            await c.list_tools()
        if mode == "legacy":
            await c.send_ping()  # the session survives
    expired = token("alice", ["engineering"], exp=1_000_000, iat=999_000)
    async with connect(mw_auth_url, expired, mode) as c:
        with pytest.raises(MCPError) as err:
            await c.call_tool("search_docs", {"query": "x"})
        assert err.value.error.code == UNAUTHENTICATED
        assert "expired" in err.value.error.message
    assert calls["search_docs"] == 0


async def test_session_id_and_client_info_reach_policies(served: Any, verifier: Any) -> None:
    text = """
    permit "cli-in-a-session"
      when identity.authenticated and request.action == "tools/call"
       and request.headers["mcp-client-name"] == "zt-cli"
       and request.headers["mcp-session-id"] like "*"
    """
    ran: list[str] = []

    def build(url: str) -> Any:
        server = MCPServer("sessions")
        ZtPolicyMiddleware(zt_policy.compile(text), jwt_verifier=verifier).install(server)

        @server.tool()
        def echo(text: str) -> str:
            ran.append(text)
            return text

        return server.streamable_http_app()

    url = served(build).url
    bearer = token("carol")
    async with connect(url, bearer, "legacy", name="zt-cli") as c:  # handshake era: has a session
        assert [t.name for t in (await c.list_tools()).tools] == ["echo"]
        assert (await c.call_tool("echo", {"text": "hi"})).content[0].text == "hi"
    async with connect(url, bearer, "legacy", name="other-cli") as c:
        assert (await c.list_tools()).tools == []
    async with connect(url, bearer, "auto", name="zt-cli") as c:  # 2026 era: no session id
        assert (await c.list_tools()).tools == []
    assert ran == ["hi"]


@pytest.mark.parametrize("mode", MODES)
async def test_device_posture_from_a_signed_posture_header(
    served: Any, policies: Any, verifier: Any, mode: str
) -> None:
    from zt_policy.adapters.identity import PostureHeader

    def build(url: str) -> Any:
        server = example.build_server(
            policies, jwt_verifier=verifier, posture=PostureHeader(verifier)
        )
        return server.streamable_http_app()

    url = served(build).url
    admin = token("root", roles=["admin"])  # no device claim: unmanaged unless posture says so
    seen = {}
    for label, posture_sub in (("none", None), ("own", "root"), ("replayed", "someone-else")):
        headers = {"Authorization": f"Bearer {admin}"}
        if posture_sub is not None:
            headers["X-Device-Posture"] = token(posture_sub, device=ADMIN_DEVICE)
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(20.0)) as http:
            transport = streamable_http_client(f"{url}/mcp", http_client=http)
            async with Client(transport, mode=mode) as c:
                seen[label] = "delete_file" in {t.name for t in (await c.list_tools()).tools}
    assert seen == {"none": False, "own": True, "replayed": False}


@pytest.mark.parametrize("mode", MODES)
async def test_stateless_http(
    served: Any, policies: Any, verifier: Any, calls: Any, mode: str
) -> None:
    def build(_: str) -> Any:
        server = example.build_server(policies, jwt_verifier=verifier)
        return server.streamable_http_app(stateless_http=True, json_response=True)

    url = served(build).url
    async with connect(url, token("alice", ["engineering"]), mode) as c:
        assert sorted(t.name for t in (await c.list_tools()).tools) == ["read_file", "search_docs"]
        assert (await c.call_tool("read_file", {"path": "/public/faq.txt"})).content[
            0
        ].text == "faq"
    async with connect(url, token("bob"), mode) as c:
        assert (await c.call_tool("read_file", {"path": "/public/faq.txt"})).is_error
    assert calls["read_file"] == 1
