"""What the MCP adapter adds: per `tools/call` and per `tools/list` of 100 tools, in-process.

The middleware is driven directly with a real `ServerRequestContext` and a `call_next` that
answers at once, so the figures are the adapter's own cost (identity from the SDK's verified
`AccessToken`, context mapping, visibility cache, decision). Targets: median under 30 us per call,
listing filter under 200 us per 100 tools (warm cache). For scale, `e2e-*` time the real
`mcp.Client` calling an in-process `MCPServer` with and without the middleware (noisier: the
difference includes scheduling). Printed at the end of the run:

    python -m pytest benchmarks/test_bench_mcp.py -q
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from zt_policy.adapters.mcp import ZtPolicyMiddleware

import zt_policy

N_TOOLS = 100
BATCH = 500
FIGURES: dict[
    str, float
] = {}  # seconds per call, median (kept apart from the core's FIGURES table)
TARGETS = {"mcp/tools-call-added": 30e-6, "mcp/tools-list-100-added": 200e-6}

POLICIES = "\n".join(
    [
        "let trusted = device.managed and device.posture >= 70",
        'permit "analysts-search" when "analysts" in identity.groups and request.action == "tools/call"',
        '  and request.tool in ["tool_0"]',
        'permit "analysts-read-public" when "analysts" in identity.groups and request.action == "tools/call"',
        '  and request.tool == "tool_1" and request.arguments.path like "/public/*"',
        'permit "admins" when "admin" in identity.roles and trusted and request.action == "tools/call"',
        'forbid "blocked" when identity.subject in ["svc-legacy", "intern-42"] reason "blocked subject"',
        *(
            f'permit "team-{i}" when "team-{i}" in identity.groups and request.action == "tools/call"'
            f' and request.tool in ["tool_{2 * i}", "tool_{2 * i + 1}"]'
            for i in range(40)
        ),
    ]
)

TOKEN = AccessToken(
    token="t",
    client_id="agent-cli",
    scopes=["tools"],
    subject="ana",
    claims={
        "iss": "https://idp.example",
        "groups": ["analysts", "team-3", "team-7"],
        "amr": ["pwd", "mfa"],
    },
)


def _ctx(method: str, params: dict[str, Any]) -> ServerRequestContext[Any, Any]:
    client = SimpleNamespace(name="agent-cli", version="1.0")
    session = SimpleNamespace(client_params=SimpleNamespace(client_info=client))
    return ServerRequestContext(
        session=session,  # type: ignore[arg-type]
        lifespan_context={},
        protocol_version="2025-11-25",
        method=method,
        params=params,
        request_id=1,
    )


LIST_RESULT = {
    "tools": [{"name": f"tool_{i}", "inputSchema": {"type": "object"}} for i in range(N_TOOLS)]
}


async def _call_next(ctx: Any) -> Any:
    return {"content": [{"type": "text", "text": "ok"}]}


async def _list_next(ctx: Any) -> Any:
    return dict(LIST_RESULT)


@pytest.fixture
def measure(benchmark: Any) -> Callable[..., None]:
    """measure(key, fn, calls): time `fn` (which makes `calls` calls) and record the per-call median."""

    def run(key: str, fn: Callable[[], None], calls: int = 1, rounds: int = 60) -> None:
        benchmark.group = "mcp"
        benchmark.extra_info["key"] = key
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=2)
        if benchmark.enabled and benchmark.stats is not None:
            FIGURES[key] = benchmark.stats.stats.median / calls
            benchmark.extra_info["per_call_us"] = round(FIGURES[key] * 1e6, 3)

    return run


def _runner(
    loop: asyncio.AbstractEventLoop, step: Callable[[], Awaitable[Any]], n: int
) -> Callable[[], None]:
    async def batch() -> None:
        for _ in range(n):
            await step()

    return lambda: loop.run_until_complete(batch())


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    token = auth_context_var.set(AuthenticatedUser(TOKEN))  # as the SDK's bearer auth sets it
    yield loop
    auth_context_var.reset(token)
    loop.close()


@pytest.fixture(scope="module")
def middleware() -> ZtPolicyMiddleware:
    return ZtPolicyMiddleware(zt_policy.compile(POLICIES))


@pytest.fixture(scope="module", autouse=True)
def print_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    mine = FIGURES
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not mine or reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        _print(reporter, mine)


def _print(reporter: Any, mine: dict[str, float]) -> None:
    reporter.write_line("")
    reporter.write_line("zt-policy MCP adapter figures (median, in-process):")
    for key, value in sorted(mine.items()):
        goal = TARGETS.get(key)
        verdict = ""
        if goal is not None:
            verdict = f" (target < {goal * 1e6:.0f} us: {'ok' if value < goal else 'MISSED'})"
        reporter.write_line(f"  {key:32s} {value * 1e6:9.2f} us{verdict}")


def test_tools_call_baseline(measure: Any, loop: Any) -> None:
    ctx = _ctx("tools/call", {"name": "tool_1", "arguments": {"path": "/public/a.txt"}})
    measure("mcp/tools-call-baseline", _runner(loop, lambda: _call_next(ctx), BATCH), BATCH)


def test_tools_call_through_middleware(
    measure: Any, loop: Any, middleware: ZtPolicyMiddleware
) -> None:
    ctx = _ctx("tools/call", {"name": "tool_1", "arguments": {"path": "/public/a.txt"}})
    assert loop.run_until_complete(middleware(ctx, _call_next))["content"]  # allowed
    measure(
        "mcp/tools-call-total", _runner(loop, lambda: middleware(ctx, _call_next), BATCH), BATCH
    )
    base, total = FIGURES.get("mcp/tools-call-baseline"), FIGURES.get("mcp/tools-call-total")
    if base is not None and total is not None:
        FIGURES["mcp/tools-call-added"] = total - base


def test_tools_list_100_baseline(measure: Any, loop: Any) -> None:
    ctx = _ctx("tools/list", {})
    measure("mcp/tools-list-100-baseline", _runner(loop, lambda: _list_next(ctx), 50), 50)


def test_tools_list_100_through_middleware(
    measure: Any, loop: Any, middleware: ZtPolicyMiddleware
) -> None:
    ctx = _ctx("tools/list", {})
    listed = loop.run_until_complete(middleware(ctx, _list_next))["tools"]
    assert [t["name"] for t in listed] == [
        "tool_0",
        "tool_1",
        "tool_6",
        "tool_7",
        "tool_14",
        "tool_15",
    ]
    measure("mcp/tools-list-100-total", _runner(loop, lambda: middleware(ctx, _list_next), 50), 50)
    base, total = (
        FIGURES.get("mcp/tools-list-100-baseline"),
        FIGURES.get("mcp/tools-list-100-total"),
    )
    if base is not None and total is not None:
        FIGURES["mcp/tools-list-100-added"] = total - base


def test_tools_list_100_cold_cache(measure: Any, loop: Any, middleware: ZtPolicyMiddleware) -> None:
    ctx = _ctx("tools/list", {})

    def cold() -> None:
        middleware.policies = middleware.policies  # drops the visibility cache
        loop.run_until_complete(middleware(ctx, _list_next))

    measure("mcp/tools-list-100-cold", cold, rounds=30)


def _e2e_server(with_policy: bool) -> Any:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench")
    if with_policy:
        ZtPolicyMiddleware(zt_policy.compile(POLICIES)).install(server)

    @server.tool()
    def tool_1(path: str) -> str:
        return path

    return server


@pytest.mark.parametrize("with_policy", [False, True], ids=["sdk-only", "with-zt-policy"])
def test_tools_call_end_to_end_in_memory(measure: Any, loop: Any, with_policy: bool) -> None:
    """The real `mcp.Client` against an in-process `MCPServer`: the SDK's own cost for scale."""
    from mcp import Client

    server = _e2e_server(with_policy)
    calls = 200

    async def batch() -> None:
        async with Client(server) as c:
            for _ in range(calls):
                await c.call_tool("tool_1", {"path": "/public/a.txt"})

    key = "mcp/e2e-tools-call-" + ("with-zt-policy" if with_policy else "sdk-only")
    measure(key, lambda: loop.run_until_complete(batch()), calls, rounds=10)
    base, total = (
        FIGURES.get("mcp/e2e-tools-call-sdk-only"),
        FIGURES.get("mcp/e2e-tools-call-with-zt-policy"),
    )
    if base is not None and total is not None:
        FIGURES["mcp/e2e-tools-call-added"] = total - base
