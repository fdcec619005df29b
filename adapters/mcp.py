"""zt-policy for the official MCP Python SDK v2: one `ServerMiddleware` in front of every message.

    from zt_policy.adapters.mcp import ZtPolicyMiddleware
    server = MCPServer("files", middleware=[ZtPolicyMiddleware(zt_policy.load("policies/"))])

The middleware runs before the SDK validates params, so it checks shapes itself (bad params never
reach a policy or a tool). Calls on tools, resources and prompts are decided per request; list
results are filtered to what the caller may use; other methods (initialize, ping, notifications)
pass unless named in `decide_methods`. The mapping is in `_mcp_context` and docs/mcp.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    SERVER_INFO_META_KEY,
    CallToolResult,
    Implementation,
    TextContent,
)
from mcp_types import methods as _methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

import zt_policy

from ._authn import PostureHeader
from ._jwt import JWTVerifier
from ._mcp_auth import JWTTokenVerifier
from ._mcp_context import ITEM_METHODS, LIST_SPECS, Target
from ._mcp_guard import Caller, McpGuard
from ._mcp_identity import AuthFailed, CallerInfo, IdentitySource, Resolver, build_caller
from ._mcp_verdict import (
    FORBIDDEN,
    RATE_LIMITED,
    UNAUTHENTICATED,
    Outcome,
    Verdict,
    forbidden,
    limited,
)

__all__ = [
    "FORBIDDEN",
    "RATE_LIMITED",
    "UNAUTHENTICATED",
    "CallerInfo",
    "JWTTokenVerifier",
    "ZtPolicyMiddleware",
]


NotFound = Callable[[Target], Any]
_MCPSERVER_SERVES = frozenset({"tools/call", "resources/read", "prompts/get"})


class ZtPolicyMiddleware:
    """Identity-based, per-request policy for an MCP SDK `Server` / `MCPServer`.

    Args:
        policies: the compiled policy set (`zt_policy.load(...)` / `zt_policy.compile(...)`).
        identity: resolver `(CallerInfo) -> identity` tried before the SDK's access token.
        device: resolver `(CallerInfo) -> device`; default: unmanaged device.
        jwt_verifier: a `zt_policy.adapters.identity.JWTVerifier` for bearer JWTs on HTTP when the
            server has no SDK auth of its own (with SDK auth, use `JWTTokenVerifier` instead).
        posture: a `zt_policy.adapters.identity.PostureHeader` reading signed device posture.
        default_identity: identity when nothing else gives one (stdio: the launching user).
        require_identity: answer decided messages without identity with UNAUTHENTICATED.
        hidden_answer: "not_found" (default: answer exactly like an unknown item) or "forbidden".
        denied_answer: "forbidden" (default: error with the policy reasons) or "not_found".
        shadow: report-only; decisions are logged and sent to `on_decision`, nothing is blocked.
        decide_methods: other methods to decide with `request.action` = the method name.
        limiter: a `zt_policy.guard.Guard` over the same policies: counts `limit`s (an exceeded one
            answers RATE_LIMITED with `data.retry_after`) and fills `signals`.
        not_found: custom answer for hidden items (return a result or an exception to raise);
            the default copies `MCPServer`'s unknown tool / resource / prompt answers.
    """

    def __init__(
        self,
        policies: zt_policy.PolicySet,
        *,
        identity: Resolver | None = None,
        device: Resolver | None = None,
        jwt_verifier: JWTVerifier | None = None,
        posture: PostureHeader | None = None,
        default_identity: Mapping[str, Any] | None = None,
        require_identity: bool = True,
        hidden_answer: Literal["not_found", "forbidden"] = "not_found",
        denied_answer: Literal["forbidden", "not_found"] = "forbidden",
        shadow: bool = False,
        decide_methods: Collection[str] = (),
        headers: Collection[str] = (),
        expose_reasons: bool = True,
        max_argument_bytes: int = 1 << 20,
        cache_size: int = 512,
        on_decision: Callable[[Mapping[str, Any]], None] | None = None,
        limiter: Any = None,
        not_found: NotFound | None = None,
    ) -> None:
        self.guard = McpGuard(
            policies,
            require_identity=require_identity,
            hide_invisible=hidden_answer == "not_found",
            shadow=shadow,
            decide_methods=decide_methods,
            max_argument_bytes=max_argument_bytes,
            cache_size=cache_size,
            on_decision=on_decision,
            limiter=limiter,
        )
        self.source = IdentitySource(
            identity=identity,
            device=device,
            jwt_verifier=jwt_verifier,
            posture=posture,
            default_identity=default_identity,
            copy_headers=headers,
        )
        self.denied_answer = denied_answer
        self.expose_reasons = expose_reasons
        self._not_found = not_found
        self._server_info: dict[str, Any] | None = None
        # A hidden item must answer as the server would for a missing one, which for a method
        # the server does not serve at all is "Method not found". MCPServer serves these; a
        # low-level Server's own set is learnt at install().
        self._served = _MCPSERVER_SERVES

    @property
    def policies(self) -> zt_policy.PolicySet:
        return self.guard.policies

    @policies.setter
    def policies(self, policies: zt_policy.PolicySet) -> None:
        self.guard.policies = policies

    def install(self, server: Any) -> ZtPolicyMiddleware:
        """Append to `server.middleware` (Server or MCPServer) and learn its `serverInfo`.

        Knowing `serverInfo` lets a hidden tool's answer carry the same 2026-era `_meta` stamp as
        the SDK's own unknown-tool answer, so the two stay indistinguishable on the wire.
        """
        server.middleware.append(self)
        self._server_info = Implementation(
            name=server.name,
            version=server.version,
            title=server.title,
            description=server.description,
            website_url=server.website_url,
            icons=server.icons,
        ).model_dump(by_alias=True, mode="json", exclude_none=True)
        lookup = getattr(server, "get_request_handler", None)  # low-level Server only
        if callable(lookup):
            self._served = frozenset(m for m in ITEM_METHODS if lookup(m) is not None)
        return self

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        method = ctx.method
        if ctx.request_id is None:
            return await call_next(ctx)  # notifications carry no answer to deny
        if method == "completion/complete":
            return await self._completion(ctx, call_next)
        if not self.guard.guarded(method):
            return await call_next(ctx)
        caller = await self._caller(ctx)
        verdict = await self.guard.check_async(caller, method, ctx.params)
        if verdict.outcome is Outcome.ALLOW:
            if method in LIST_SPECS:
                return self._filter(caller, method, await call_next(ctx))
            return await call_next(ctx)
        return self._refuse(ctx, verdict)

    # -- context ----------------------------------------------------------------------------

    async def _caller(self, ctx: ServerRequestContext[Any, Any]) -> Caller:
        req = ctx.request
        token = None
        if req is not None:
            scope = getattr(req, "scope", None)
            user = scope.get("user") if isinstance(scope, Mapping) else None
            token = getattr(user, "access_token", None)
        if token is None:
            token = get_access_token()
        params = ctx.session.client_params
        client = params.client_info if params is not None else None
        headers = getattr(req, "headers", None)
        info = CallerInfo(
            access_token=token,
            http_request=req,
            session_id=headers.get("mcp-session-id") if headers is not None else None,
            client_name=client.name if client is not None else None,
            client_version=client.version if client is not None else None,
            protocol_version=ctx.protocol_version,
        )
        try:
            return await build_caller(self.guard, self.source, info)
        except AuthFailed as exc:
            raise MCPError(code=UNAUTHENTICATED, message=exc.message) from None

    # -- answers ----------------------------------------------------------------------------

    def _filter(self, caller: Caller, method: str, result: HandlerResult) -> HandlerResult:
        if isinstance(result, BaseModel):
            result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        if not isinstance(result, dict):
            return result
        spec = LIST_SPECS[method]
        items = result.get(spec.result_key)
        if isinstance(items, list):
            names = [it.get(spec.item_key) if isinstance(it, Mapping) else None for it in items]
            keep = self.guard.filter(caller, method, names)
            result = dict(result)
            result[spec.result_key] = [it for it, k in zip(items, keep, strict=True) if k]
        if "cacheScope" in result:
            result["cacheScope"] = "private"  # the list is this caller's view: never share it
        return result

    def _refuse(self, ctx: ServerRequestContext[Any, Any], verdict: Verdict) -> HandlerResult:
        outcome = verdict.outcome
        if outcome is Outcome.BAD_PARAMS:
            raise MCPError(
                code=INVALID_PARAMS, message="Invalid request parameters", data=verdict.reasons[0]
            )
        if outcome is Outcome.UNAUTHENTICATED:
            raise MCPError(code=UNAUTHENTICATED, message="Authentication required")
        if outcome is Outcome.LIMITED:
            message, data = limited(verdict, self.expose_reasons)
            raise MCPError(code=RATE_LIMITED, message=message, data=data)
        if verdict.target is not None and (
            outcome is Outcome.HIDDEN or self.denied_answer == "not_found"
        ):
            return self._answer_not_found(ctx, verdict.target)
        message, data = forbidden(verdict, self.expose_reasons)
        raise MCPError(code=FORBIDDEN, message=message, data=data)

    def _answer_not_found(
        self, ctx: ServerRequestContext[Any, Any], target: Target
    ) -> HandlerResult:
        if self._not_found is not None:
            answer = self._not_found(target)
            if isinstance(answer, BaseException):
                raise answer
            return answer  # type: ignore[no-any-return]
        if target.method not in self._served:
            raise MCPError(code=METHOD_NOT_FOUND, message="Method not found", data=target.method)
        if target.method == "tools/call":
            result = CallToolResult(
                content=[TextContent(type="text", text=f"Unknown tool: {target.name}")],
                is_error=True,
            )
            return self._wire(ctx, target.method, result)
        if target.method == "prompts/get":  # MCPServer raises this; same exception, same wire form
            raise ValueError(f"Unknown prompt: {target.name}")
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"Unknown resource: {target.name}",
            data={"uri": target.name},
        )

    def _wire(
        self, ctx: ServerRequestContext[Any, Any], method: str, result: BaseModel
    ) -> dict[str, Any]:
        """Shape a short-circuit result the way the SDK shapes a handler's (surface, resultType, stamp)."""
        version = ctx.protocol_version
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        with contextlib.suppress(KeyError, ValueError):  # not a spec method at this version
            dumped = _methods.serialize_server_result(method, version, dumped)
        if version in MODERN_PROTOCOL_VERSIONS:
            dumped.setdefault("resultType", "complete")
            if self._server_info is not None:
                dumped["_meta"] = {
                    **dumped.get("_meta", {}),
                    SERVER_INFO_META_KEY: dict(self._server_info),
                }
        return dumped

    async def _completion(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Completing arguments of a hidden prompt or resource template suggests nothing."""
        ref = ctx.params.get("ref") if isinstance(ctx.params, Mapping) else None
        if not isinstance(ref, Mapping):
            return await call_next(ctx)
        kind = ref.get("type")
        name = ref.get("name") if kind == "ref/prompt" else ref.get("uri")
        if not isinstance(name, str):
            return await call_next(ctx)
        action = "prompts/get" if kind == "ref/prompt" else "resources/read"
        caller = await self._caller(ctx)
        if self.guard.visible(caller, action, "resource", name) or self.guard.shadow:
            return await call_next(ctx)
        result = await call_next(ctx)
        if isinstance(result, BaseModel):
            result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        if isinstance(result, dict):
            result = {**result, "completion": {"values": []}}
        return result
