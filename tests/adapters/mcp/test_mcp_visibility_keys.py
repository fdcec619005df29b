"""The visibility cache key includes whether attributes are present (`has`), not only values."""

from __future__ import annotations

from zt_policy.adapters._mcp_guard import McpGuard

import zt_policy


def test_callers_differing_only_in_presence_do_not_share_visibility() -> None:
    ps = zt_policy.compile('permit "t" when identity has "tenant" and request.action == "tools/call"')
    guard = McpGuard(ps)
    alice = guard.caller({"subject": "alice", "tenant": "acme"}, {}, {})
    bob = guard.caller({"subject": "bob"}, {}, {})
    assert alice.key != bob.key
    assert guard.visible(bob, "tools/call", "tool", "search") is False
    assert guard.visible(alice, "tools/call", "tool", "search") is True
