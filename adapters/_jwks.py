"""Signing keys for JWT verification: static keys or a JWKS document fetched over HTTP.

Why a key store of our own rather than `jwt.PyJWKClient`: we need a bounded response size, a hard
timeout, a rate limit on refreshes triggered by unknown `kid`s (an attacker can mint tokens with
random `kid`s and must not be able to make us hammer the identity provider), stale keys served while
the provider is down, and a fetch that async code can push to a worker thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import httpx
import jwt

from ._errors import IdentityError

_MAX_JWKS_BYTES = 512 * 1024


class SigningKey(NamedTuple):
    """A verification key and the one algorithm its JWK pins (None: any allowed algorithm)."""

    key: Any
    algorithm: str | None


def _jwk_entries(document: Any) -> dict[str | None, SigningKey]:
    """Parse a JWKS document into kid -> key, skipping keys that are not for signatures."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("JWKS document has no 'keys' list")
    keys: dict[str | None, SigningKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(dict(entry)).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue  # unknown key types are skipped, as RFC 7517 section 5 asks
        alg = entry.get("alg") if isinstance(entry.get("alg"), str) else None
        keys[entry.get("kid") if isinstance(entry.get("kid"), str) else None] = SigningKey(key, alg)
    return keys


def static_keys(keys: Any) -> dict[str | None, SigningKey]:
    """Normalise the `keys=` option: a JWKS dict, a kid -> key mapping, a list of JWKs, or one key.

    Keys may be PEM text, `cryptography` key objects, HMAC secrets (bytes) or JWK dicts.
    """
    if isinstance(keys, Mapping) and "keys" in keys:
        return dict(_jwk_entries(keys))
    if isinstance(keys, Mapping) and "kty" in keys:
        return dict(_jwk_entries({"keys": [keys]}))
    if isinstance(keys, Mapping):
        out: dict[str | None, SigningKey] = {}
        for kid, value in keys.items():
            if isinstance(value, Mapping):
                for parsed in _jwk_entries({"keys": [value]}).values():
                    out[kid] = parsed
            else:
                out[kid] = SigningKey(value, None)
        return out
    if isinstance(keys, Sequence) and not isinstance(keys, (str, bytes)):
        return dict(_jwk_entries({"keys": list(keys)}))
    return {None: SigningKey(keys, None)}


def find_key(keys: Mapping[str | None, SigningKey], kid: str | None) -> SigningKey | None:
    """The key for `kid`; a lone key answers any `kid` only when it was given without one."""
    key = keys.get(kid)
    if key is None and len(keys) == 1:
        only_kid, only = next(iter(keys.items()))
        if only_kid is None or kid is None:
            return only
    return key


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_url(url: str) -> None:
    """Keys must come over HTTPS: a key fetched in clear text could be swapped in transit, and
    whoever swaps it can mint any token. Plain HTTP is allowed to loopback only (tests, sidecars)."""
    parsed = httpx.URL(url)
    if parsed.scheme == "https" or (parsed.scheme == "http" and parsed.host in _LOOPBACK_HOSTS):
        return
    raise ValueError(f"jwks_url must be https:// (or http:// to loopback), got {url!r}")


class JWKSKeyStore:
    """Keys from a JWKS URL, cached for `cache_ttl` seconds and refreshed on unknown `kid`s.

    Refreshes happen at most once per `min_refresh_interval` seconds whatever the traffic; when the
    provider is unreachable, the keys last fetched keep working (they were trusted before and key
    rotation overlaps by design), and an unknown `kid` is refused.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        cache_ttl: float = 300.0,
        min_refresh_interval: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        check_url(url)
        self.url = url
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.min_refresh_interval = min_refresh_interval
        self._client = client
        self._keys: dict[str | None, SigningKey] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()

    def refresh_due(self) -> bool:
        """True when a fetch may happen now (the rate limit allows one)."""
        return time.monotonic() - self._attempted_at >= self.min_refresh_interval

    def lookup(self, kid: str | None) -> SigningKey | None:
        """The key for `kid` without network traffic: None when unknown, or when the cache is
        stale and a refresh is due (stale keys keep serving while refreshes are rate-limited)."""
        if time.monotonic() - self._fetched_at > self.cache_ttl and self.refresh_due():
            return None
        return self._find(kid)

    def get_nowait(self, kid: str | None) -> SigningKey:
        """The key for `kid` from what is held, never fetching or waiting on a fetch; for async
        callers when no refresh is due. Raises like `get`."""
        key = self._find(kid)
        if key is None:
            self._missing(None)
        assert key is not None
        return key

    def _missing(self, failure: str | None) -> None:
        if not self._keys:
            detail = f": {failure}" if failure else ""
            raise IdentityError("jwks_unavailable", f"signing keys could not be fetched{detail}")
        raise IdentityError("unknown_key", "token signed with an unknown key id")

    def _find(self, kid: str | None) -> SigningKey | None:
        return find_key(self._keys, kid)

    def get(self, kid: str | None) -> SigningKey:
        """The key for `kid`, fetching the JWKS if needed (blocking; call from a thread in async code)."""
        key = self.lookup(kid)
        if key is not None:
            return key
        with self._lock:
            key = self.lookup(kid)  # another thread may have refreshed meanwhile
            if key is not None:
                return key
            failure: str | None = None
            if self.refresh_due():
                failure = self._refresh()
            key = self._find(kid)
        if key is None:
            self._missing(failure)
        assert key is not None
        return key

    def _refresh(self) -> str | None:
        """Fetch the JWKS; returns a failure description or None. Caller holds the lock."""
        self._attempted_at = time.monotonic()
        try:
            document = self._download()
            keys = _jwk_entries(document)
        except (httpx.HTTPError, ValueError) as exc:
            return type(exc).__name__
        if not keys:
            return "JWKS has no usable signing keys"
        self._keys = keys
        self._fetched_at = time.monotonic()
        return None

    def _download(self) -> Any:
        client = self._client or httpx.Client(timeout=self.timeout, follow_redirects=False)
        try:
            with client.stream("GET", self.url, timeout=self.timeout) as response:
                response.raise_for_status()
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_JWKS_BYTES:
                        raise ValueError("JWKS document too large")
        finally:
            if self._client is None:
                client.close()
        return json.loads(bytes(body))
