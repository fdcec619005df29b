"""Who is behind an MCP message: identity and device, resolved the same way for both MCP adapters.

Order, first hit wins: a user resolver (`identity=`), the access token the SDK's own bearer auth
verified, a bearer JWT on the HTTP request checked with the shared `JWTVerifier`
(`jwt_verifier=`, the same verifier and claim mapping as the HTTP adapters), and finally
`default_identity` (only for messages with no HTTP request behind them: stdio, where the launching
user is the caller, and in-memory transports). No hit is "no identity", which the guard answers
with an authentication error when identity is required.
Device posture comes, as in the HTTP adapters, from the token's `device` claim or a signed
posture header (`posture=PostureHeader(...)`), or from a `device=` resolver.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cachetools

from ._authn import AuthInput, BearerAuth, PostureHeader
from ._claims import DEFAULT_MAPPING, ClaimsMapping, device_from_mapping
from ._errors import IdentityError
from ._jwt import JWTVerifier
from ._mcp_context import http_request_fields, mcp_headers
from ._mcp_guard import Caller, McpGuard

__all__ = [
    "AuthFailed",
    "CallerInfo",
    "IdentitySource",
    "Resolver",
    "build_caller",
    "token_claims",
]

logger = logging.getLogger("zt_policy.adapters.mcp")


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """What the transport knows about the caller of one MCP message; handed to resolvers.

    `access_token` is the SDK's verified `AccessToken` (None without SDK auth), `http_request` the
    Starlette request behind the message (None on stdio and in-memory transports). `client_name`
    and `client_version` come from the client's own `clientInfo`: unauthenticated, never use them
    alone to grant access.
    """

    access_token: Any = None
    http_request: Any = None
    session_id: str | None = None
    client_name: str | None = None
    client_version: str | None = None
    protocol_version: str | None = None


Resolver = Callable[[CallerInfo], Any]
"""`(info) -> mapping | pydantic model | None`, or an awaitable of one."""


async def _call(resolver: Resolver, info: CallerInfo) -> Any:
    result = resolver(info)
    if inspect.isawaitable(result):
        result = await result
    return result


def token_claims(token: Any) -> dict[str, Any]:
    """The claims of an SDK / FastMCP `AccessToken`, with `sub`, `client_id` and `scopes` folded in.

    Policies then read `identity.claims.client_id` and `"files:read" in identity.claims.scopes`.
    """
    claims: dict[str, Any] = dict(getattr(token, "claims", None) or {})
    subject = getattr(token, "subject", None)
    client_id = getattr(token, "client_id", None)
    if isinstance(subject, str) and subject:
        claims["sub"] = subject
    elif not isinstance(claims.get("sub"), str) and isinstance(client_id, str):
        claims["sub"] = client_id  # client-credentials token: the client is the principal
    claims["client_id"] = client_id
    claims["scopes"] = [s for s in getattr(token, "scopes", None) or () if isinstance(s, str)]
    return claims


class IdentitySource:
    """Resolves the identity and device roots for a `CallerInfo` with the configured sources."""

    def __init__(
        self,
        *,
        identity: Resolver | None = None,
        device: Resolver | None = None,
        jwt_verifier: JWTVerifier | None = None,
        posture: PostureHeader | None = None,
        default_identity: Mapping[str, Any] | None = None,
        claims_mapping: ClaimsMapping = DEFAULT_MAPPING,
        copy_headers: Iterable[str] = (),
    ) -> None:
        self.copy_headers = tuple(h.lower() for h in copy_headers)
        self._identity = identity
        self._device = device
        self._bearer = BearerAuth(jwt_verifier) if jwt_verifier is not None else None
        self._posture = posture
        self._default = dict(default_identity) if default_identity is not None else None
        self._mapping = claims_mapping
        self._lock = threading.Lock()
        self._tokens: cachetools.LRUCache[Hashable, tuple[dict[str, Any], Any, Any]] = (
            cachetools.LRUCache(maxsize=1024)
        )

    def _from_token(self, token: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """Identity and device for a verified access token, memoised per token.

        A hit must also carry equal claims, so an opaque token whose introspected claims change
        is mapped afresh; the cache only saves the mapping work, never trusts a stale answer.
        """
        raw = getattr(token, "token", None)
        claims_now = getattr(token, "claims", None)
        scopes = getattr(token, "scopes", None) or ()
        key = (
            raw,
            getattr(token, "client_id", None),
            tuple(scopes),
            getattr(token, "subject", None),
        )
        cacheable = isinstance(raw, str) and all(isinstance(s, str) for s in scopes)
        if cacheable:
            with self._lock:
                hit = self._tokens.get(key)
            if hit is not None and hit[0] == claims_now:
                return hit[1], hit[2]
        claims = token_claims(token)
        identity, device = self._mapping.identity(claims), self._mapping.device_claim(claims)
        if cacheable:
            with self._lock:
                self._tokens[key] = (dict(claims_now or {}), identity, device)
        return identity, device

    async def resolve(self, info: CallerInfo) -> tuple[Any, Any]:
        """(identity or None, device). Raises `IdentityError` for a present but bad credential."""
        identity: Any = None
        device: Any = None
        if self._identity is not None:
            identity = await _call(self._identity, info)
        if identity is None and info.access_token is not None:
            identity, device = self._from_token(info.access_token)
        headers = getattr(info.http_request, "headers", None)
        if identity is None and self._bearer is not None and headers is not None:
            result = await self._bearer.authenticate_async(AuthInput(headers=headers))
            if result is not None:
                identity, device = result.identity, result.device
        if identity is None and info.http_request is None:
            identity = self._default  # stdio / in-memory only: an HTTP caller must prove itself
        if self._device is not None:
            found = await _call(self._device, info)
            if found is not None:
                device = found
        elif self._posture is not None and headers is not None and isinstance(identity, Mapping):
            found = await self._posture.device_async(AuthInput(headers=headers), identity)
            if found is not None:
                device = found
        return identity, device if device is not None else device_from_mapping(None)


class AuthFailed(Exception):
    """The caller's credential was refused or could not be resolved; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def build_caller(guard: McpGuard, source: IdentitySource, info: CallerInfo) -> Caller:
    """The guard's `Caller` for one message: identity, device and the transport `request` facts.

    Fails closed: a refused credential raises `AuthFailed`, it never degrades to "anonymous".
    """
    try:
        identity, device = await source.resolve(info)
    except IdentityError as exc:
        raise AuthFailed(f"Authentication failed: {exc.message}") from None
    except Exception:
        logger.exception("zt-policy: identity resolution raised")
        raise AuthFailed("Authentication failed") from None
    req = info.http_request
    if req is not None:
        client = getattr(req, "client", None)
        common = http_request_fields(
            getattr(req, "method", None),
            getattr(getattr(req, "url", None), "path", None),
            getattr(client, "host", None),
            req.headers,
            source.copy_headers,
        )
    else:
        common = {"headers": {}}
    mcp_headers(
        common["headers"],
        session_id=info.session_id,
        client_name=info.client_name,
        client_version=info.client_version,
        protocol_version=info.protocol_version,
    )
    try:
        return guard.caller(identity, device, common)
    except TypeError:
        logger.error("zt-policy: identity/device resolver returned a non-mapping")
        raise AuthFailed("Authentication failed") from None
