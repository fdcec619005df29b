"""zt-policy for FastMCP: a `Middleware` deciding every tool, resource and prompt per request.

    from zt_policy.adapters.fastmcp import ZtPolicyMiddleware
    mcp = FastMCP("files", middleware=[ZtPolicyMiddleware(zt_policy.load("policies/"))])

Same mapping, engine and options as `zt_policy.adapters.mcp` (see docs/mcp.md). Hidden items are
refused with FastMCP's own `NotFoundError`, so FastMCP itself writes the unknown-tool / resource /
prompt answer and a hidden item is indistinguishable from a missing one. Unlike FastMCP's
`AuthMiddleware`, stdio is not exempt: give it `default_identity` (the launching user).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal, TypeVar

import mcp_types as mt
from fastmcp.exceptions import NotFoundError
from fastmcp.server.dependencies import get_access_token, get_http_request
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

import zt_policy

from ._authn import PostureHeader
from ._jwt import JWTVerifier
from ._mcp_context import LIST_SPECS
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

__all__ = ["FORBIDDEN", "RATE_LIMITED", "UNAUTHENTICATED", "CallerInfo", "ZtPolicyMiddleware"]


_T = TypeVar("_T")
_TYPED = frozenset({"tools/call", "resources/read", "prompts/get", *LIST_SPECS})


class ZtPolicyMiddleware(Middleware):
    """Identity-based, per-request policy for a FastMCP server; options as in the MCP SDK adapter."""

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

    @property
    def policies(self) -> zt_policy.PolicySet:
        return self.guard.policies

    @policies.setter
    def policies(self, policies: zt_policy.PolicySet) -> None:
        self.guard.policies = policies

    # -- calls ------------------------------------------------------------------------------

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, Any],
    ) -> Any:
        msg = context.message
        await self._check(context, "tools/call", {"name": msg.name, "arguments": msg.arguments})
        return await call_next(context)

    async def on_read_resource(
        self,
        context: MiddlewareContext[mt.ReadResourceRequestParams],
        call_next: CallNext[mt.ReadResourceRequestParams, Any],
    ) -> Any:
        await self._check(context, "resources/read", {"uri": str(context.message.uri)})
        return await call_next(context)

    async def on_get_prompt(
        self,
        context: MiddlewareContext[mt.GetPromptRequestParams],
        call_next: CallNext[mt.GetPromptRequestParams, Any],
    ) -> Any:
        msg = context.message
        await self._check(context, "prompts/get", {"name": msg.name, "arguments": msg.arguments})
        return await call_next(context)

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        method = context.method or ""
        if method == "completion/complete":
            return await self._completion(context, call_next)
        if method in _TYPED or method not in self.guard.decide_methods:
            return await call_next(context)
        params = context.message if isinstance(context.message, Mapping) else None
        await self._check(context, method, params)
        return await call_next(context)

    async def _completion(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        """Completing arguments of a hidden prompt or resource template suggests nothing."""
        message = context.message
        ref = message.get("ref") if isinstance(message, Mapping) else getattr(message, "ref", None)
        if isinstance(ref, Mapping):
            kind, name = ref.get("type"), ref.get("name") or ref.get("uri")
        else:
            kind, name = (
                getattr(ref, "type", None),
                getattr(ref, "name", None) or getattr(ref, "uri", None),
            )
        result = await call_next(context)
        if not isinstance(name, str):
            return result
        action = "prompts/get" if kind == "ref/prompt" else "resources/read"
        caller = await self._caller(context)
        if self.guard.visible(caller, action, "resource", str(name)) or self.guard.shadow:
            return result
        if isinstance(result, Mapping):
            return {**result, "completion": {"values": []}}
        completion = getattr(result, "completion", None)
        if completion is not None and hasattr(result, "model_copy"):
            return result.model_copy(
                update={"completion": completion.model_copy(update={"values": []})}
            )
        return result

    # -- lists ------------------------------------------------------------------------------

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Sequence[Any]]
    ) -> Sequence[Any]:
        return await self._list(context, call_next, "tools/list", lambda t: t.name)

    async def on_list_resources(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Sequence[Any]]
    ) -> Sequence[Any]:
        return await self._list(context, call_next, "resources/list", lambda r: str(r.uri))

    async def on_list_resource_templates(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Sequence[Any]]
    ) -> Sequence[Any]:
        return await self._list(
            context, call_next, "resources/templates/list", lambda t: t.uri_template
        )

    async def on_list_prompts(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Sequence[Any]]
    ) -> Sequence[Any]:
        return await self._list(context, call_next, "prompts/list", lambda p: p.name)

    async def _list(
        self,
        context: MiddlewareContext[Any],
        call_next: CallNext[Any, Sequence[_T]],
        method: str,
        name_of: Callable[[_T], Any],
    ) -> Sequence[_T]:
        caller = await self._caller(context)
        verdict = self.guard.check(caller, method, None)
        if verdict.outcome is not Outcome.ALLOW:
            self._refuse(verdict)
        items = list(await call_next(context))
        names = []
        for item in items:
            try:
                name = name_of(item)
            except AttributeError:
                name = None
            names.append(name if isinstance(name, str) else None)
        keep = self.guard.filter(caller, method, names)
        return [item for item, k in zip(items, keep, strict=True) if k]

    # -- shared -----------------------------------------------------------------------------

    async def _check(self, context: MiddlewareContext[Any], method: str, params: Any) -> None:
        caller = await self._caller(context)
        verdict = await self.guard.check_async(caller, method, params)
        if verdict.outcome is not Outcome.ALLOW:
            self._refuse(verdict)

    def _refuse(self, verdict: Verdict) -> None:
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
        target = verdict.target
        if target is not None and (outcome is Outcome.HIDDEN or self.denied_answer == "not_found"):
            raise NotFoundError(
                f"Unknown {target.method.split('/')[0].rstrip('s')}: {target.name!r}"
            )
        message, data = forbidden(verdict, self.expose_reasons)
        raise MCPError(code=FORBIDDEN, message=message, data=data)

    async def _caller(self, context: MiddlewareContext[Any]) -> Caller:
        try:
            req: Any = get_http_request()
        except RuntimeError:
            req = None
        fctx = context.fastmcp_context
        rctx = fctx.request_context if fctx is not None else None
        client_params = (
            rctx.session.client_params if rctx is not None and rctx.session is not None else None
        )
        client = client_params.client_info if client_params is not None else None
        session_id = req.headers.get("mcp-session-id") if req is not None else None
        protocol = rctx.protocol_version if rctx is not None else None
        modern = protocol in MODERN_PROTOCOL_VERSIONS
        # 2026-era requests are each their own connection: FastMCP's per-request id is no session.
        if session_id is None and fctx is not None and rctx is not None and not modern:
            try:
                session_id = fctx.session_id
            except RuntimeError:
                session_id = None
        try:
            token = get_access_token()
        except TypeError:  # a provider's token FastMCP cannot read: no usable identity
            raise MCPError(code=UNAUTHENTICATED, message="Authentication failed") from None
        info = CallerInfo(
            access_token=token,
            http_request=req,
            session_id=session_id,
            client_name=client.name if client is not None else None,
            client_version=client.version if client is not None else None,
            protocol_version=protocol,
        )
        try:
            return await build_caller(self.guard, self.source, info)
        except AuthFailed as exc:
            raise MCPError(code=UNAUTHENTICATED, message=exc.message) from None
