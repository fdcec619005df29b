"""Malformed JSON-RPC against a real server: clean errors, the session survives, no tool runs.

Raw messages go over httpx (the `mcp` client would refuse to send most of them) to a handshake-era
session of the example server, with bearer JWTs checked by the middleware.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND, Implementation
from zt_policy.adapters.mcp import UNAUTHENTICATED
from ztmcp_helpers import Session, by_client_name, example, token

FIVE_MB = "x" * (5 * 1024 * 1024)


@pytest.fixture
def url(served: Any, policies: Any, verifier: Any) -> str:
    def build(_: str) -> Any:
        server = example.build_server(policies, jwt_verifier=verifier)
        return server.streamable_http_app(json_response=True)

    return served(build).url  # type: ignore[no-any-return]


def test_malformed_params_are_invalid_params(url: str, calls: Any) -> None:
    s = Session(url, token("alice", ["engineering"]))
    for params in (
        {"name": 123, "arguments": {}},
        {"name": ["read_file"]},
        {"name": "read_file", "arguments": ["/public/faq.txt"]},
        {"name": "read_file", "arguments": "path=/public/faq.txt"},
        {"name": ""},
        "read_file",
        None,
    ):
        assert s.error("tools/call", params)["code"] == INVALID_PARAMS, params
    assert s.error("resources/read", {"uri": 42})["code"] == INVALID_PARAMS
    assert s.error("prompts/get", {"name": "summarize", "arguments": [1]})["code"] == INVALID_PARAMS
    assert s.error("tools/explode", {})["code"] == METHOD_NOT_FOUND
    ok = s.post(
        "tools/call", {"name": "read_file", "arguments": {"path": "/public/faq.txt"}}
    ).json()
    assert ok["result"]["content"][0]["text"] == "faq"  # the session survived all of the above
    assert calls["read_file"] == 1


def test_five_megabyte_arguments_are_refused_and_the_session_survives(url: str, calls: Any) -> None:
    s = Session(url, token("alice", ["engineering"]))
    r = s.post("tools/call", {"name": "read_file", "arguments": {"path": "/public/" + FIVE_MB}})
    assert r.status_code == 413  # the transport's body limit
    assert s.post("tools/list", {}).json()["result"]["tools"]
    assert calls["read_file"] == 0


def test_missing_identity_is_unauthenticated_and_the_session_survives(url: str, calls: Any) -> None:
    s = Session(url, None)
    assert (
        s.error("tools/call", {"name": "search_docs", "arguments": {"query": "x"}})["code"]
        == UNAUTHENTICATED
    )
    assert s.error("tools/list", {})["code"] == UNAUTHENTICATED
    assert s.post("ping", {}).json()["result"] == {}
    assert calls["search_docs"] == 0


def test_garbage_tokens_are_unauthenticated(url: str, calls: Any) -> None:
    for bearer in ("not-a-jwt", "a.b.c", token("alice", aud="someone-else")):
        s = Session(url, bearer)
        error = s.error("tools/call", {"name": "search_docs", "arguments": {"query": "x"}})
        assert error["code"] == UNAUTHENTICATED
        assert bearer not in error["message"]
    assert calls["search_docs"] == 0


@pytest.mark.anyio
async def test_oversized_or_deep_arguments_in_process(policies: Any, calls: Any) -> None:
    server = example.build_server(policies, identity=by_client_name)
    deep: Any = "/public/faq.txt"
    for _ in range(100):
        deep = {"d": deep}
    async with Client(server, client_info=Implementation(name="alice", version="1")) as c:
        for arguments in (
            {"path": "/public/" + FIVE_MB},
            {"path": "/public/faq.txt", "extra": deep},
        ):
            with pytest.raises(MCPError) as err:
                await c.call_tool("read_file", arguments)
            assert err.value.error.code == INVALID_PARAMS
        assert (await c.call_tool("read_file", {"path": "/public/faq.txt"})).content[
            0
        ].text == "faq"
    assert calls["read_file"] == 1
