"""The decision engine behind both MCP adapters: one verdict per message, one cached visibility map.

Why a separate engine: the MCP SDK and FastMCP hand over messages in different shapes, but what
to decide, how to hide, how to cache, and what shadow mode means must be identical, so a policy
behaves the same whichever library serves it. The adapters only translate verdicts into their
framework's answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cachetools

import zt_policy

from ._mcp_context import (
    LIST_SPECS,
    BadParams,
    Target,
    as_dict,
    freeze,
    parse_target,
    within_size,
)
from ._mcp_verdict import Outcome, Verdict

__all__ = ["Caller", "McpGuard"]

logger = logging.getLogger("zt_policy.adapters.mcp")

# Per-item attributes: they vary per tool/resource, so they are part of the item, not the caller.
_ITEM_PATHS: Final = frozenset({"action", "tool", "resource", "arguments"})
_MISSING: Final = object()
_ATTR: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_NAMES_PER_CALLER: Final = 1024  # bounds memory against callers probing random names

_ALLOW: Final = Verdict(Outcome.ALLOW)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, from where, over what: everything but the item. `key` is None when uncacheable."""

    identity: Mapping[str, Any] | None
    device: Mapping[str, Any]
    request: Mapping[str, Any]
    key: Hashable | None


class McpGuard:
    """Decides MCP messages against one policy set, with per-caller visibility caching."""

    def __init__(
        self,
        policies: zt_policy.PolicySet,
        *,
        require_identity: bool = True,
        hide_invisible: bool = True,
        shadow: bool = False,
        decide_methods: Collection[str] = (),
        max_argument_bytes: int = 1 << 20,
        cache_size: int = 512,
        on_decision: Callable[[Mapping[str, Any]], None] | None = None,
        limiter: Any = None,
    ) -> None:
        self.require_identity = require_identity
        # a `zt_policy.guard.Guard` over the same policies: counts `limit`s and fills `signals`
        self.limiter = limiter
        self.hide_invisible = hide_invisible
        self.shadow = shadow
        self.decide_methods = frozenset(decide_methods)
        self.max_argument_bytes = max_argument_bytes
        self.on_decision = on_decision
        self._lock = threading.Lock()
        # Exact keys (every value the policies read), so entries never go stale: LRU, no TTL.
        self._cache: cachetools.LRUCache[Hashable, dict[tuple[str, str], bool]] = (
            cachetools.LRUCache(maxsize=cache_size)
        )
        self.policies = policies

    @property
    def policies(self) -> zt_policy.PolicySet:
        return self._policies

    @policies.setter
    def policies(self, policies: zt_policy.PolicySet) -> None:
        """Swap the policy set (hot reload); cached visibility of the old one is dropped."""
        # Key on `root.attr` only: a dynamic map (identity.claims, request.headers) is keyed whole,
        # since a read such as `request.headers["a.b"]` has no unambiguous path below it.
        paths: set[tuple[str, str]] = set()
        for read in policies.reads:
            # "identity has tenant" reads whether identity.tenant is there: key on that path
            target, has, key = read.partition(" has ")
            path = f"{target}.{key}" if has else read
            root, _, rest = path.partition(".")
            found = _ATTR.match(rest)  # "headers.x-a", 'headers["x.a"]' -> "headers"
            attr = found.group(0) if found else ""
            if root == "request" and attr in _ITEM_PATHS:
                continue
            paths.add((root, attr))
        with self._lock:
            self._policies = policies
            self._key_paths = tuple(sorted(paths))
            self._cache.clear()

    # -- the caller -------------------------------------------------------------------------

    def caller(self, identity: Any, device: Any, request: Mapping[str, Any]) -> Caller:
        """Bundle the caller's context and its cache key (the values the policies read)."""
        ident = None if identity is None else as_dict(identity)
        dev = as_dict(device)
        roots = {"identity": ident or {}, "device": dev, "request": request}
        key: Hashable | None
        try:
            parts: list[Hashable] = [ident is None]
            for root, attr in self._key_paths:
                value: Any = roots.get(root, _MISSING)
                value = value.get(attr, _MISSING) if isinstance(value, Mapping) and attr else value
                parts.append("\x00missing" if value is _MISSING else freeze(value))
            key = tuple(parts)
        except TypeError:
            key = None
        return Caller(ident, dev, request, key)

    # -- visibility -------------------------------------------------------------------------

    def _may_allow(self, caller: Caller, action: str, attr: str, name: str) -> bool:
        request = dict(caller.request)
        request["action"] = action
        request[attr] = name
        try:
            return bool(
                self._policies.may_allow(
                    identity=caller.identity or {},
                    device=caller.device,
                    request=request,
                    unknown=("request.arguments",),
                )
            )
        except Exception:  # fail closed: an engine error hides the item
            logger.exception("zt-policy: may_allow failed for %s %r; hiding it", action, name)
            return False

    def _seen(self, caller: Caller) -> dict[tuple[str, str], bool] | None:
        """This caller's memo of visibility answers (None when the caller is uncacheable)."""
        if caller.key is None:
            return None
        with self._lock:
            seen = self._cache.get(caller.key)
            if seen is None:
                seen = self._cache[caller.key] = {}
        return seen

    def _visible(
        self,
        caller: Caller,
        seen: dict[tuple[str, str], bool] | None,
        action: str,
        attr: str,
        name: str,
    ) -> bool:
        if seen is not None:
            hit = seen.get((action, name))
            if hit is not None:
                return hit
        result = self._may_allow(caller, action, attr, name)
        if seen is not None and len(seen) < _MAX_NAMES_PER_CALLER:
            seen[(action, name)] = result  # one dict store: atomic under the GIL
        return result

    def visible(self, caller: Caller, action: str, attr: str, name: str) -> bool:
        """Whether some permit could allow this caller to use the item, whatever the arguments."""
        if caller.identity is None and self.require_identity:
            return False
        return self._visible(caller, self._seen(caller), action, attr, name)

    def filter(self, caller: Caller, method: str, names: Sequence[str | None]) -> list[bool]:
        """One keep/drop flag per listed item; in shadow mode all are kept (drops are reported)."""
        spec = LIST_SPECS[method]
        if caller.identity is None and self.require_identity:
            keep = [False] * len(names)
        else:
            seen = self._seen(caller)
            action, attr = spec.action, spec.attr
            keep = [
                isinstance(n, str) and self._visible(caller, seen, action, attr, n) for n in names
            ]
        if self.shadow and not all(keep):
            hidden = [n for n, k in zip(names, keep, strict=True) if not k]
            self._report(method, caller, Verdict(Outcome.ALLOW, would_be=Outcome.HIDDEN), hidden)
            return [True] * len(names)
        return keep

    # -- one message ------------------------------------------------------------------------

    def guarded(self, method: str) -> bool:
        """Whether this method is looked at at all (cheap test before building a Caller)."""
        return method in _GUARDED or method in self.decide_methods

    async def check_async(self, caller: Caller, method: str, params: Any) -> Verdict:
        """`check` for the async middlewares: a limiter counting in Redis runs in a worker
        thread, so its round trip never blocks the event loop."""
        if self.limiter is not None and self.limiter.remote:
            return await asyncio.to_thread(self.check, caller, method, params)
        return self.check(caller, method, params)

    def check(self, caller: Caller, method: str, params: Any) -> Verdict:
        """The verdict for one request; list methods get ALLOW here and are filtered afterwards."""
        try:
            target = parse_target(method, params)
        except BadParams as exc:
            return Verdict(Outcome.BAD_PARAMS, reasons=(str(exc),))
        if target is not None and not within_size(target.arguments, self.max_argument_bytes):
            return Verdict(Outcome.BAD_PARAMS, target, reasons=("arguments too large or too deep",))
        if target is None and method not in self.decide_methods and method not in LIST_SPECS:
            return _ALLOW
        if caller.identity is None and self.require_identity:
            verdict = Verdict(Outcome.UNAUTHENTICATED, target, reasons=("authentication required",))
        elif target is None:
            verdict = _ALLOW if method in LIST_SPECS else self._decide(caller, method, None)
        elif self.hide_invisible and not self.visible(
            caller, target.action, target.attr, target.name
        ):
            verdict = Verdict(Outcome.HIDDEN, target)
        else:
            verdict = self._decide(caller, method, target)
        if verdict.outcome is Outcome.ALLOW:
            return verdict
        self._report(method, caller, verdict, [target.name] if target else [])
        if self.shadow:
            return Verdict(
                Outcome.ALLOW, target, verdict.reasons, verdict.policies, verdict.outcome
            )
        return verdict

    def _decide(self, caller: Caller, method: str, target: Target | None) -> Verdict:
        if target is None:
            request = dict(caller.request)
            request["action"] = method
        else:
            request = target.request(caller.request)
        try:
            if self.limiter is not None:
                counted = self.limiter.check(caller.identity or {}, caller.device, request,
                                             shadow=self.shadow)
                d = counted.decision
                if counted.limited or counted.unavailable:  # limit exceeded, or storage down
                    return Verdict(Outcome.LIMITED, target, tuple(d.reasons), tuple(d.policies),
                                   retry_after=counted.retry_after or 1)
            else:
                d = self._policies.decide(
                    identity=caller.identity or {}, device=caller.device, request=request
                )
        except Exception:  # fail closed
            logger.exception("zt-policy: decide failed for %s; denying", method)
            return Verdict(Outcome.DENIED, target, reasons=("policy evaluation failed",))
        if d.errors:
            logger.warning(
                "zt-policy: %s decided with errors: %s", method, [e.message for e in d.errors]
            )
        if d.allowed:
            return Verdict(Outcome.ALLOW, target, tuple(d.reasons), tuple(d.policies))
        return Verdict(Outcome.DENIED, target, tuple(d.reasons), tuple(d.policies))

    def _report(self, method: str, caller: Caller, verdict: Verdict, items: Sequence[Any]) -> None:
        outcome = verdict.would_be or verdict.outcome
        subject = (caller.identity or {}).get("subject")
        logger.info(
            "zt-policy %s: %s %s for %r items=%r reasons=%r",
            "shadow" if self.shadow else "enforce",
            method,
            outcome.value,
            subject,
            list(items),
            list(verdict.reasons),
        )
        if self.on_decision is not None:
            event = {
                "method": method,
                "outcome": outcome.value,
                "enforced": not self.shadow,
                "subject": subject,
                "items": list(items),
                "reasons": list(verdict.reasons),
                "policies": list(verdict.policies),
            }
            try:
                self.on_decision(event)
            except Exception:
                logger.exception("zt-policy: on_decision hook raised")


_GUARDED: Final = frozenset(
    {"tools/call", "resources/read", "resources/subscribe", "resources/unsubscribe", "prompts/get"}
    | set(LIST_SPECS)
)
