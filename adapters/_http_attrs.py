"""Device posture and directory attributes (PIP) for the HTTP adapters.

Kept apart from the decision flow because these call user code (resolvers, directory lookups):
every failure here is contained. A device resolver that fails means an unmanaged device (less
trust); an attribute provider that fails stops the request (503), because the attributes it
would have added may be the ones a `forbid` needs.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cachetools import TTLCache

from ._authn import AuthInput, PostureHeader
from ._claims import device_from_mapping

logger = logging.getLogger("zt_policy.adapters.http")

UNMANAGED: Mapping[str, Any] = device_from_mapping(None)
_PROTECTED_IDENTITY_KEYS = frozenset({"subject", "issuer", "authenticated"})


class ContextSources:
    """Posture header, device resolver and attribute provider, with the provider cached."""

    def __init__(
        self,
        *,
        posture: PostureHeader | None,
        device_resolver: Callable[..., Any] | None,
        attribute_provider: Callable[[str], Any] | None,
        attribute_cache_ttl: float,
        attribute_cache_size: int,
    ) -> None:
        self.posture = posture
        self.device_resolver = device_resolver
        self.attribute_provider = attribute_provider
        self._attributes: TTLCache[str, Mapping[str, Any]] = TTLCache(
            attribute_cache_size, attribute_cache_ttl
        )
        self._attributes_lock = threading.Lock()

    def device_sync(
        self, auth: AuthInput, identity: Mapping[str, Any], device: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        if self.device_resolver is not None:
            try:
                found = self.device_resolver(identity, auth.headers)
                if inspect.isawaitable(found):
                    raise TypeError("an async device_resolver needs the ASGI adapter")
            except Exception:
                logger.exception("device_resolver failed; treating the device as unmanaged")
                return UNMANAGED
            return device_from_mapping(found)
        if self.posture is not None:
            posture = self.posture.device(auth, identity)
            if posture is not None:
                return posture
        return device

    async def device_async(
        self, auth: AuthInput, identity: Mapping[str, Any], device: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        if self.device_resolver is not None:
            try:
                found = self.device_resolver(identity, auth.headers)
                if inspect.isawaitable(found):
                    found = await found
            except Exception:
                logger.exception("device_resolver failed; treating the device as unmanaged")
                return UNMANAGED
            return device_from_mapping(found)
        if self.posture is not None:
            posture = await self.posture.device_async(auth, identity)
            if posture is not None:
                return posture
        return device

    def _cached_attributes(self, subject: str) -> Mapping[str, Any] | None:
        with self._attributes_lock:
            return self._attributes.get(subject)

    def _merge(self, identity: Mapping[str, Any], subject: str, found: Any) -> dict[str, Any]:
        extra = {
            k: v
            for k, v in (found or {}).items()
            if isinstance(k, str) and k not in _PROTECTED_IDENTITY_KEYS
        }
        with self._attributes_lock:
            self._attributes[subject] = extra
        return {**identity, **extra}

    def enrich_sync(self, identity: Mapping[str, Any]) -> Mapping[str, Any]:
        subject = identity.get("subject")
        if self.attribute_provider is None or not isinstance(subject, str):
            return identity
        cached = self._cached_attributes(subject)
        if cached is not None:
            return {**identity, **cached}
        found = self.attribute_provider(subject)
        if inspect.isawaitable(found):
            raise TypeError("an async attribute_provider needs the ASGI adapter")
        return self._merge(identity, subject, found)

    async def enrich_async(self, identity: Mapping[str, Any]) -> Mapping[str, Any]:
        subject = identity.get("subject")
        provider = self.attribute_provider
        if provider is None or not isinstance(subject, str):
            return identity
        cached = self._cached_attributes(subject)
        if cached is not None:
            return {**identity, **cached}
        if inspect.iscoroutinefunction(provider):
            found = await provider(subject)
        else:
            import anyio.to_thread

            found = await anyio.to_thread.run_sync(provider, subject)
        return self._merge(identity, subject, found)
