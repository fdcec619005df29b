"""docs/mcp.md stays true: its policies are the example's, and its server runs as written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from zt_policy.adapters.mcp import FORBIDDEN, CallerInfo, ZtPolicyMiddleware
from ztmcp_helpers import EXAMPLE, ROOT

import zt_policy

DOC = (ROOT / "docs" / "mcp.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


def _policy_lines(text: str) -> list[str]:
    return [
        ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]


def test_doc_policies_are_the_example_policies() -> None:
    doc_policies = next(b for b in _blocks("") if "permit" in b)
    example = (EXAMPLE / "policies" / "mcp.ztp").read_text()
    assert _policy_lines(doc_policies) == _policy_lines(example)
    zt_policy.compile(doc_policies)


@pytest.mark.anyio
async def test_doc_server_runs_as_written(tmp_path: Any, monkeypatch: Any) -> None:
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    (policy_dir / "mcp.ztp").write_text(next(b for b in _blocks("") if "permit" in b))
    monkeypatch.chdir(tmp_path)
    source = next(b for b in _blocks("python") if "MCPServer(" in b)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(source, "docs/mcp.md", "exec"), namespace)
    server = namespace["server"]
    installed = server.middleware[-1]
    assert isinstance(installed, ZtPolicyMiddleware)

    def engineer(info: CallerInfo) -> dict[str, Any]:
        return {"subject": "ann", "groups": ["engineering"], "authenticated": True}

    installed.source._identity = engineer  # stand-in for the bearer token in-process
    async with Client(server) as c:
        assert sorted(t.name for t in (await c.list_tools()).tools) == ["read_file", "search_docs"]
        assert (await c.call_tool("read_file", {"path": "/public/readme.txt"})).content[
            0
        ].text == "hello"
        with pytest.raises(MCPError) as err:
            await c.call_tool("read_file", {"path": "/secret/keys.txt"})
        assert err.value.error.code == FORBIDDEN
