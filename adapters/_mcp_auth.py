"""The shared `JWTVerifier` as the MCP SDK's `TokenVerifier`.

Why: with `MCPServer(token_verifier=JWTTokenVerifier(verifier), auth=AuthSettings(...))` the SDK
itself refuses requests without a valid bearer token (401 with `WWW-Authenticate`, protected
resource metadata), and the middleware then reads the SDK's `AccessToken`, so there is one JWT
verification, one claim mapping and one cache for HTTP and MCP alike.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.auth.provider import AccessToken

from ._errors import IdentityError
from ._jwt import JWTVerifier

__all__ = ["JWTTokenVerifier"]

logger = logging.getLogger("zt_policy.adapters.mcp")


def _scopes(claims: Any) -> list[str]:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [s for s in raw if isinstance(s, str)]
    return []


class JWTTokenVerifier:
    """Implements `mcp.server.auth.provider.TokenVerifier` with a zt-policy `JWTVerifier`."""

    def __init__(self, verifier: JWTVerifier) -> None:
        self.verifier = verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK `AccessToken` for a valid JWT; None (the SDK answers 401) for any bad one."""
        try:
            verified = await self.verifier.verify_async(token)
        except IdentityError as exc:
            logger.info("zt-policy: bearer token refused: %s", exc.code)
            return None
        claims = dict(verified.claims)
        sub = claims.get("sub")
        client_id = claims.get("client_id", claims.get("azp", sub))
        aud = claims.get("aud")
        exp = claims.get("exp")
        return AccessToken(
            token=token,
            client_id=client_id if isinstance(client_id, str) else "",
            scopes=_scopes(claims),
            expires_at=int(exp)
            if isinstance(exp, int | float) and not isinstance(exp, bool)
            else None,
            resource=aud if isinstance(aud, str) else None,
            subject=sub if isinstance(sub, str) else None,
            claims=claims,
        )
