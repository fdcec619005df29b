"""The shared MCP -> policy context mapping and the guard's cache, without any server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zt_policy.adapters._mcp_context import (
    BadParams,
    http_request_fields,
    mcp_headers,
    parse_target,
    within_size,
)
from zt_policy.adapters._mcp_guard import McpGuard
from zt_policy.adapters._mcp_identity import CallerInfo, IdentitySource, token_claims
from zt_policy.adapters._mcp_verdict import Outcome

import zt_policy


def test_item_methods_map_to_actions() -> None:
    t = parse_target("tools/call", {"name": "read_file", "arguments": {"path": "/a"}})
    assert t is not None
    assert t.request({"ip": "127.0.0.1"}) == {
        "ip": "127.0.0.1",
        "action": "tools/call",
        "tool": "read_file",
        "arguments": {"path": "/a"},
    }
    r = parse_target("resources/read", {"uri": "docs://x"})
    assert r is not None and (r.action, r.attr, r.name) == (
        "resources/read",
        "resource",
        "docs://x",
    )
    s = parse_target("resources/subscribe", {"uri": "docs://x"})
    assert s is not None and s.action == "resources/read"
    p = parse_target("prompts/get", {"name": "summarize", "arguments": {"text": "t"}})
    assert p is not None and (p.action, p.attr, p.arguments) == (
        "prompts/get",
        "resource",
        {"text": "t"},
    )
    for method in ("initialize", "ping", "tools/list", "notifications/initialized"):
        assert parse_target(method, {}) is None


@pytest.mark.parametrize(
    "params",
    [
        None,
        "x",
        [],
        {"name": 1},
        {"name": ""},
        {"name": "t", "arguments": []},
        {"name": "t", "arguments": {1: 2}},
    ],
)
def test_malformed_params_raise(params: Any) -> None:
    with pytest.raises(BadParams):
        parse_target("tools/call", params)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda kids: (
            st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_within_size_never_raises_and_bounds(value: Any) -> None:
    assert within_size(value, 1 << 20) is True
    assert within_size({"a": value, "b": "x" * 100}, 10) is False


def test_within_size_bounds_depth_and_length() -> None:
    deep: Any = "x"
    for _ in range(50):
        deep = [deep]
    assert not within_size(deep, 1 << 20)
    assert not within_size({"p": "x" * 2000}, 1000)
    assert within_size({"p": "x" * 10}, 1000)


def test_transport_fields_drop_credentials_and_forged_mcp_headers() -> None:
    headers = {
        "authorization": "Bearer secret",
        "x-team": "red",
        "mcp-client-name": "forged",
        "user-agent": "ua",
    }
    fields = http_request_fields(
        "POST", "/mcp", "10.0.0.1", headers, ("authorization", "x-team", "mcp-client-name")
    )
    assert fields == {
        "headers": {"x-team": "red"},
        "method": "POST",
        "path": "/mcp",
        "ip": "10.0.0.1",
        "user_agent": "ua",
    }
    out = mcp_headers(
        fields["headers"],
        session_id="s1",
        client_name=None,
        client_version="2",
        protocol_version="v",
    )
    assert out == {
        "x-team": "red",
        "mcp-session-id": "s1",
        "mcp-client-version": "2",
        "mcp-protocol-version": "v",
    }


def test_token_claims_fold_in_client_and_scopes() -> None:
    token = SimpleNamespace(
        client_id="cli", scopes=["files:read", 7], subject=None, claims={"groups": ["g"]}
    )
    assert token_claims(token) == {
        "groups": ["g"],
        "sub": "cli",
        "client_id": "cli",
        "scopes": ["files:read"],
    }


def test_cache_never_mixes_callers_that_differ_in_what_policies_read() -> None:
    ps = zt_policy.compile(
        'permit "team" when identity.claims.team == "red" and request.tool == "fire"\n'
        'permit "hdr" when request.headers["x.a"] == "1" and request.tool == "wave"'
    )
    guard = McpGuard(ps)
    red = guard.caller({"claims": {"team": "red"}}, {}, {"headers": {}})
    blue = guard.caller({"claims": {"team": "blue"}}, {}, {"headers": {}})
    dotted = guard.caller({"claims": {}}, {}, {"headers": {"x.a": "1"}})
    plain = guard.caller({"claims": {}}, {}, {"headers": {"x.a": "2"}})
    for _ in range(2):  # second round comes from the cache
        assert guard.visible(red, "tools/call", "tool", "fire")
        assert not guard.visible(blue, "tools/call", "tool", "fire")
        assert guard.visible(dotted, "tools/call", "tool", "wave")
        assert not guard.visible(plain, "tools/call", "tool", "wave")
    assert red.key != blue.key and dotted.key != plain.key


def test_check_outcomes() -> None:
    ps = zt_policy.compile(
        'permit "p" when request.tool == "t" and request.arguments.n < 5\n'
        'permit "ping" when request.action == "ping" and identity.subject == "a"'
    )
    guard = McpGuard(ps, decide_methods={"ping"})
    a = guard.caller({"subject": "a"}, {}, {})
    nobody = guard.caller(None, {}, {})
    assert (
        guard.check(a, "tools/call", {"name": "t", "arguments": {"n": 1}}).outcome is Outcome.ALLOW
    )
    denied = guard.check(a, "tools/call", {"name": "t", "arguments": {"n": 9}})
    assert denied.outcome is Outcome.DENIED and denied.reasons
    assert guard.check(a, "tools/call", {"name": "u"}).outcome is Outcome.HIDDEN
    assert guard.check(a, "tools/call", {"name": 3}).outcome is Outcome.BAD_PARAMS
    assert guard.check(nobody, "tools/call", {"name": "t"}).outcome is Outcome.UNAUTHENTICATED
    assert guard.check(nobody, "initialize", {}).outcome is Outcome.ALLOW
    assert guard.check(a, "ping", {}).outcome is Outcome.ALLOW
    assert guard.check(guard.caller({"subject": "b"}, {}, {}), "ping", {}).outcome is Outcome.DENIED
    assert guard.filter(a, "tools/list", ["t", "u", None]) == [True, False, False]


def test_engine_errors_fail_closed() -> None:
    class Broken:
        reads = frozenset({"identity.subject"})

        def may_allow(self, **_: Any) -> bool:
            raise RuntimeError("boom")

        def decide(self, **_: Any) -> Any:
            raise RuntimeError("boom")

    guard = McpGuard(Broken(), hide_invisible=False)  # type: ignore[arg-type]
    caller = guard.caller({"subject": "a"}, {}, {})
    assert not guard.visible(caller, "tools/call", "tool", "t")
    assert guard.check(caller, "tools/call", {"name": "t"}).outcome is Outcome.DENIED


@pytest.mark.anyio
async def test_default_identity_never_covers_http_callers() -> None:
    source = IdentitySource(default_identity={"subject": "local-user", "authenticated": True})
    over_stdio = await source.resolve(CallerInfo())
    assert over_stdio[0] == {"subject": "local-user", "authenticated": True}
    over_http = await source.resolve(CallerInfo(http_request=SimpleNamespace(headers={})))
    assert over_http[0] is None
    assert over_http[1] == {"managed": False, "posture": 0, "compliant": False, "tags": []}


_PROPERTY_POLICIES = zt_policy.compile(
    """
    permit "eng" when "eng" in identity.groups and request.tool in ["a", "b"]
    permit "team" when identity.claims.team == "red" and request.tool == "c"
    permit "args" when request.tool == "d" and request.arguments.n > 3
    permit "hdr" when request.headers["x-env"] == "prod" and request.tool == "e"
    forbid "unmanaged" when request.tool == "b" and not device.managed
    forbid "low" when device.posture < 10 and request.tool == "c"
    """
)
_GUARD = McpGuard(_PROPERTY_POLICIES)
_IDENTITIES = st.fixed_dictionaries(
    {
        "subject": st.sampled_from(["u1", "u2"]),
        "groups": st.lists(st.sampled_from(["eng", "ops"]), max_size=2),
        "claims": st.fixed_dictionaries({"team": st.sampled_from(["red", "blue", 1, True])}),
    }
)
_DEVICES = st.fixed_dictionaries({"managed": st.booleans(), "posture": st.sampled_from([0, 5, 50])})
_HEADERS = st.dictionaries(st.sampled_from(["x-env", "x-other"]), st.sampled_from(["prod", "dev"]))


@given(st.lists(st.tuples(_IDENTITIES, _DEVICES, _HEADERS), min_size=1, max_size=6))
def test_cached_visibility_always_equals_the_engine(callers: list[Any]) -> None:
    names = ["a", "b", "c", "d", "e", "zz"]
    for _ in range(2):  # the second pass is served from the cache
        for identity, device, headers in callers:
            caller = _GUARD.caller(identity, device, {"headers": headers})
            expected = [
                _PROPERTY_POLICIES.may_allow(
                    identity=identity,
                    device=device,
                    request={"headers": headers, "action": "tools/call", "tool": n},
                    unknown=("request.arguments",),
                )
                for n in names
            ]
            assert _GUARD.filter(caller, "tools/list", names) == expected
            assert [_GUARD.visible(caller, "tools/call", "tool", n) for n in names] == expected
