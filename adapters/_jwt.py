"""`JWTVerifier`: verify bearer JWTs with PyJWT and map them onto the policy context.

Why the strictness: issuer and audience are mandatory (a token for another app must not work
here), `none` is never accepted, and HMAC is never mixed with public-key algorithms (mixing is
what makes "sign with the public key as HMAC secret" attacks possible). Verified tokens are cached
until their own `exp`, so the per-request cost of a repeated token is a dictionary lookup.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cachetools import TLRUCache

from ._claims import DEFAULT_MAPPING, ClaimsMapping
from ._errors import IdentityError
from ._jwks import JWKSKeyStore, SigningKey, find_key, static_keys

_ERRORS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired_token", "token has expired"),
    (jwt.InvalidIssuerError, "invalid_issuer", "token issuer is not accepted"),
    (jwt.InvalidAudienceError, "invalid_audience", "token audience is not accepted"),
    (jwt.InvalidAlgorithmError, "invalid_algorithm", "token algorithm is not accepted"),
    (jwt.ImmatureSignatureError, "invalid_token", "token is not yet valid"),
    (jwt.InvalidSignatureError, "invalid_token", "token signature is invalid"),
)


def _family(algorithm: str) -> str:
    return "hmac" if algorithm.startswith("HS") else "public-key"


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """Validate an algorithm allow-list: known, never `none`, never HMAC mixed with public keys."""
    algs = tuple(algorithms)
    known = set(jwt.algorithms.get_default_algorithms())
    if not algs:
        raise ValueError("algorithms must not be empty")
    for alg in algs:
        if alg.lower() == "none":
            raise ValueError("the 'none' algorithm is never allowed")
        if alg not in known:
            raise ValueError(f"unknown JWT algorithm {alg!r}")
    if len({_family(alg) for alg in algs}) > 1:
        raise ValueError("do not mix HMAC (HS*) and public-key algorithms in one verifier")
    return algs


@dataclass(frozen=True)
class VerifiedToken:
    """A verified token: its claims and the identity/device roots mapped from them."""

    claims: Mapping[str, Any]
    identity: Mapping[str, Any]
    device: Mapping[str, Any]
    expires_at: float = field(default=float("inf"))


class JWTVerifier:
    """Verify JWTs against static keys or a JWKS URL; sync `verify` and async `verify_async`.

    >>> JWTVerifier(issuer="https://idp.example", audience="api://models",
    ...             jwks_url="https://idp.example/.well-known/jwks.json")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        issuer: str | Iterable[str],
        audience: str | Iterable[str],
        algorithms: Iterable[str] = ("RS256", "ES256"),
        jwks_url: str | None = None,
        keys: Any = None,
        leeway: float = 30.0,
        jwks_timeout: float = 3.0,
        jwks_cache_ttl: float = 300.0,
        jwks_min_refresh_interval: float = 10.0,
        required_claims: Iterable[str] = ("exp", "iss", "aud", "sub"),
        claims_mapping: ClaimsMapping = DEFAULT_MAPPING,
        cache_size: int = 10_000,
        max_cache_ttl: float = 3600.0,
        max_token_bytes: int = 8192,
        http_client: httpx.Client | None = None,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        if (jwks_url is None) == (keys is None):
            raise ValueError("give exactly one of jwks_url= or keys=")
        self.issuer: str | tuple[str, ...] = issuer if isinstance(issuer, str) else tuple(issuer)
        self.audience: str | tuple[str, ...] = (
            audience if isinstance(audience, str) else tuple(audience)
        )
        self.algorithms = check_algorithms(algorithms)
        self.leeway = leeway
        self.required_claims = tuple(required_claims)
        self.claims_mapping = claims_mapping
        self.max_token_bytes = max_token_bytes
        self._static = static_keys(keys) if keys is not None else None
        self._store = (
            JWKSKeyStore(
                jwks_url,
                timeout=jwks_timeout,
                cache_ttl=jwks_cache_ttl,
                min_refresh_interval=jwks_min_refresh_interval,
                client=http_client,
            )
            if jwks_url is not None
            else None
        )
        self._max_cache_ttl = max_cache_ttl
        self._cache: TLRUCache[str, VerifiedToken] = TLRUCache(
            maxsize=cache_size, ttu=self._ttu, timer=time.time
        )
        self._lock = threading.Lock()

    def _ttu(self, _token: str, value: VerifiedToken, now: float) -> float:
        return min(value.expires_at, now + self._max_cache_ttl)

    def cached(self, token: str) -> VerifiedToken | None:
        """The verification result for a token seen before and not yet expired, else None."""
        with self._lock:
            return self._cache.get(token)

    def verify(self, token: str) -> VerifiedToken:
        """Verify `token` (blocking if the JWKS must be fetched); raises `IdentityError`."""
        hit = self.cached(token)
        if hit is not None:
            return hit
        kid, alg = self._header(token)
        key = self._local_key(kid)
        if key is None:
            assert self._store is not None
            key = self._store.get(kid)
        return self._decode(token, key, alg)

    async def verify_async(self, token: str) -> VerifiedToken:
        """Like `verify`, but a JWKS fetch runs in a worker thread, never on the event loop."""
        hit = self.cached(token)
        if hit is not None:
            return hit
        kid, alg = self._header(token)
        key = self._local_key(kid)
        if key is None:
            assert self._store is not None
            if self._store.refresh_due():
                import anyio.to_thread

                key = await anyio.to_thread.run_sync(self._store.get, kid)
            else:  # nothing to fetch: answer now, without a thread hop or waiting on a lock
                key = self._store.get_nowait(kid)
        return self._decode(token, key, alg)

    def _local_key(self, kid: str | None) -> SigningKey | None:
        """The key from static keys or the fresh JWKS cache; raises if static keys lack `kid`."""
        if self._static is not None:
            key = find_key(self._static, kid)
            if key is None:
                raise IdentityError("unknown_key", "token signed with an unknown key id")
            return key
        assert self._store is not None
        return self._store.lookup(kid)

    def _header(self, token: str) -> tuple[str | None, str]:
        if len(token) > self.max_token_bytes:
            raise IdentityError("invalid_token", "token is too large")
        header = _unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise IdentityError("invalid_algorithm", "token algorithm is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise IdentityError("invalid_token", "token key id is malformed")
        return kid, alg

    def _decode(self, token: str, key: SigningKey, alg: str) -> VerifiedToken:
        if key.algorithm is not None and key.algorithm != alg:
            raise IdentityError("invalid_algorithm", "token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(self.required_claims)},
            )
        except Exception as exc:
            raise _identity_error(exc) from None
        exp = claims.get("exp")
        result = VerifiedToken(
            claims=claims,
            identity=self.claims_mapping.identity(claims),
            device=self.claims_mapping.device_claim(claims),
            expires_at=float(exp) if isinstance(exp, (int, float)) else float("inf"),
        )
        with self._lock:
            self._cache[token] = result
        return result


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, parsed once here (PyJWT re-validates the whole token when decoding;
    its own header helper would double that cost on every fresh token)."""
    head, dot, rest = token.partition(".")
    if not dot or rest.count(".") != 1:
        raise IdentityError("invalid_token", "token is malformed")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise IdentityError("invalid_token", "token is malformed") from None
    if not isinstance(header, dict):
        raise IdentityError("invalid_token", "token is malformed")
    return header


def _identity_error(exc: Exception) -> IdentityError:
    """Translate a PyJWT (or key-type) failure into a stable code; never echo token contents."""
    for exc_type, code, message in _ERRORS:
        if isinstance(exc, exc_type):
            return IdentityError(code, message)
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return IdentityError("invalid_token", f"token lacks the required {exc.claim!r} claim")
    return IdentityError("invalid_token", "token could not be verified")
