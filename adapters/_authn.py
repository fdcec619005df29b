"""Where identities come from: bearer JWTs, Cloudflare Access, or the app's own authentication.

Each authenticator answers None when its credential is absent (so the next one may try), an
`AuthResult` when it is valid, and raises `IdentityError` when it is present but bad: a broken
credential is never silently downgraded to "anonymous".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._claims import device_from_mapping
from ._errors import IdentityError
from ._jwt import JWTVerifier, VerifiedToken

_UNMANAGED: Mapping[str, Any] = device_from_mapping(None)


@dataclass(slots=True)
class AuthInput:
    """What authenticators may look at; adapters fill it from the ASGI scope or WSGI environ."""

    headers: Mapping[str, str]
    app_user: Any = None
    app_auth: Any = None


@dataclass(slots=True)
class AuthResult:
    """An authenticated caller: the identity root, device root and the scheme that proved it."""

    identity: Mapping[str, Any]
    device: Mapping[str, Any] = field(default_factory=lambda: dict(_UNMANAGED))
    scheme: str = "bearer"


class Authenticator(Protocol):
    """One source of identity; see `BearerAuth`, `CloudflareAccessAuth`, `AppUserAuth`."""

    def authenticate(self, request: AuthInput) -> AuthResult | None: ...

    async def authenticate_async(self, request: AuthInput) -> AuthResult | None: ...


def _result(verified: VerifiedToken, scheme: str) -> AuthResult:
    return AuthResult(identity=verified.identity, device=verified.device, scheme=scheme)


class BearerAuth:
    """`Authorization: Bearer <jwt>` (RFC 6750); other schemes are left to other authenticators."""

    scheme = "bearer"

    def __init__(self, verifier: JWTVerifier, *, header: str = "authorization") -> None:
        self.verifier = verifier
        self.header = header.lower()

    def token(self, request: AuthInput) -> str | None:
        """The bearer token, None without one; raises `invalid_request` when malformed."""
        value = request.headers.get(self.header)
        if value is None:
            return None
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        if not token or " " in token:
            raise IdentityError("invalid_request", "malformed Authorization header")
        return token

    def authenticate(self, request: AuthInput) -> AuthResult | None:
        token = self.token(request)
        return None if token is None else _result(self.verifier.verify(token), self.scheme)

    async def authenticate_async(self, request: AuthInput) -> AuthResult | None:
        token = self.token(request)
        if token is None:
            return None
        return _result(await self.verifier.verify_async(token), self.scheme)


class CloudflareAccessAuth:
    """The `Cf-Access-Jwt-Assertion` header set by Cloudflare Access in front of the app.

    Service tokens carry an empty `sub`; their `common_name` becomes the subject instead.
    """

    scheme = "cloudflare-access"

    def __init__(self, verifier: JWTVerifier, *, header: str = "cf-access-jwt-assertion") -> None:
        self.verifier = verifier
        self.header = header.lower()

    @classmethod
    def for_team(cls, team_domain: str, audience: str, **options: Any) -> CloudflareAccessAuth:
        """Verifier for `https://<team>.cloudflareaccess.com` and the application's AUD tag."""
        base = f"https://{team_domain.removesuffix('.cloudflareaccess.com')}.cloudflareaccess.com"
        verifier = JWTVerifier(
            issuer=base,
            audience=audience,
            algorithms=("RS256",),
            jwks_url=f"{base}/cdn-cgi/access/certs",
            required_claims=("exp", "iss", "aud"),
            **options,
        )
        return cls(verifier)

    def _map(self, verified: VerifiedToken) -> AuthResult:
        identity = verified.identity
        common_name = verified.claims.get("common_name")
        if not identity.get("subject") and isinstance(common_name, str) and common_name:
            identity = {**identity, "subject": common_name}
        return AuthResult(identity=identity, device=verified.device, scheme=self.scheme)

    def authenticate(self, request: AuthInput) -> AuthResult | None:
        token = request.headers.get(self.header)
        return None if not token else self._map(self.verifier.verify(token.strip()))

    async def authenticate_async(self, request: AuthInput) -> AuthResult | None:
        token = request.headers.get(self.header)
        return None if not token else self._map(await self.verifier.verify_async(token.strip()))


class AppUserAuth:
    """Trust the app's own authentication: Starlette `scope["user"]`/`scope["auth"]`, or the
    WSGI `REMOTE_USER`. Only users that say `is_authenticated` count; scopes become roles.
    """

    scheme = "app"

    def authenticate(self, request: AuthInput) -> AuthResult | None:
        user = request.app_user
        if user is None:
            return None
        if isinstance(user, str):
            return AuthResult({"subject": user, "authenticated": True}, scheme=self.scheme)
        if isinstance(user, Mapping):
            subject = user.get("sub", user.get("subject"))
            authenticated = isinstance(subject, str) and bool(subject)
        else:
            if getattr(user, "is_authenticated", False) is not True:
                return None
            subject = getattr(user, "identity", None) or getattr(user, "display_name", None)
            authenticated = True
        if not authenticated or not isinstance(subject, str):
            return None
        scopes = getattr(request.app_auth, "scopes", None) or []
        roles = [scope for scope in scopes if isinstance(scope, str)]
        identity = {"subject": subject, "authenticated": True, "roles": roles, "claims": {}}
        if isinstance(user, Mapping):
            identity["claims"] = dict(user)
            for name in ("groups", "roles"):
                if isinstance(user.get(name), list):
                    identity[name] = [v for v in user[name] if isinstance(v, str)]
        return AuthResult(identity, scheme=self.scheme)

    async def authenticate_async(self, request: AuthInput) -> AuthResult | None:
        return self.authenticate(request)


class PostureHeader:
    """Device posture in its own signed JWT header (from an MDM or device agent).

    With `bind_subject` (the default) the posture token's `sub` must equal the caller's subject, so
    a captured posture token cannot be replayed by someone else. Any failure = unmanaged device.
    """

    def __init__(
        self, verifier: JWTVerifier, *, header: str = "x-device-posture", bind_subject: bool = True
    ) -> None:
        self.verifier = verifier
        self.header = header.lower()
        self.bind_subject = bind_subject

    def _device(self, verified: VerifiedToken, identity: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.bind_subject and verified.claims.get("sub") != identity.get("subject"):
            return _UNMANAGED
        raw: Any = verified.claims.get("device", verified.claims)
        return device_from_mapping(raw)

    def device(self, request: AuthInput, identity: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The verified posture, None without header, the unmanaged device when it is bad."""
        token = request.headers.get(self.header)
        if not token:
            return None
        try:
            return self._device(self.verifier.verify(token.strip()), identity)
        except IdentityError:
            return _UNMANAGED

    async def device_async(
        self, request: AuthInput, identity: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        token = request.headers.get(self.header)
        if not token:
            return None
        try:
            return self._device(await self.verifier.verify_async(token.strip()), identity)
        except IdentityError:
            return _UNMANAGED
