"""`HttpGuard`: the decision flow shared by the ASGI and WSGI adapters.

Adapters only translate between their protocol and plain values; the order of checks, the
fail-closed rules and the choice of status code live here once:

path (400) -> credentials (400/401/503) -> body for inference routes (413/400) -> policy
(pass, 401 when anonymous, 403 when authenticated). Report-only mode runs the same flow and
records what would have happened, but always passes the request on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import zt_policy

from . import _http_responses as answers
from ._authn import Authenticator, AuthInput, BearerAuth, PostureHeader
from ._errors import IdentityError
from ._http_attrs import UNMANAGED, ContextSources
from ._http_context import (
    DEFAULT_INFERENCE_PATHS,
    ActionMap,
    ContextOptions,
    RequestRejected,
    parse_networks,
)
from ._jwt import JWTVerifier

logger = logging.getLogger("zt_policy.adapters.http")

#: No credentials: "no groups, no roles, no MFA" are facts; subject and issuer stay missing.
ANONYMOUS: Mapping[str, Any] = {
    "authenticated": False,
    "mfa": False,
    "groups": [],
    "roles": [],
    "claims": {},
}


@dataclass(slots=True)
class Verdict:
    """The outcome for one request, for hooks and for the app (`scope["zt_policy.verdict"]`)."""

    request: dict[str, Any]
    identity: Mapping[str, Any] = field(default_factory=lambda: ANONYMOUS)
    device: Mapping[str, Any] = field(default_factory=lambda: UNMANAGED)
    decision: zt_policy.Decision | None = None
    error: IdentityError | RequestRejected | None = None
    answer: answers.HttpAnswer | None = None
    enforced: bool = True
    authenticated: bool = False  # credentials already checked (by `known`)

    @property
    def blocked(self) -> bool:
        """True when the adapter answers instead of the app."""
        return self.answer is not None and self.enforced


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    """A lone string means one value, not its characters ("10.0.0.0/8" is one network)."""
    return (values,) if isinstance(values, str) else tuple(values)


class HttpGuard:
    """Everything the HTTP adapters need to decide a request; build once, share freely."""

    def __init__(
        self,
        policies: zt_policy.PolicySet,
        *,
        verifier: JWTVerifier | None = None,
        authenticators: Sequence[Authenticator] = (),
        posture: PostureHeader | None = None,
        device_resolver: Callable[..., Any] | None = None,
        attribute_provider: Callable[[str], Any] | None = None,
        attribute_cache_ttl: float = 300.0,
        attribute_cache_size: int = 10_000,
        trusted_proxies: Iterable[str] = (),
        actions: ActionMap | None = None,
        inference_paths: Iterable[str] = DEFAULT_INFERENCE_PATHS,
        max_body_bytes: int = 1024 * 1024,
        headers: Iterable[str] = (),
        report_only: bool | Iterable[str] = False,
        on_deny: Callable[[Verdict], Any] | None = None,
        on_decision: Callable[[Verdict], None] | None = None,
        expose_policies: bool = False,
        realm: str = "zt-policy",
        limiter: Any = None,
    ) -> None:
        self.policies = policies
        # a `zt_policy.guard.Guard` over the same policies: counts `limit`s and fills `signals`
        self.limiter = limiter
        auth = list(authenticators)
        if verifier is not None:
            auth.insert(0, BearerAuth(verifier))
        self.authenticators: tuple[Authenticator, ...] = tuple(auth)
        self.sources = ContextSources(
            posture=posture,
            device_resolver=device_resolver,
            attribute_provider=attribute_provider,
            attribute_cache_ttl=attribute_cache_ttl,
            attribute_cache_size=attribute_cache_size,
        )
        self.options = ContextOptions(
            trusted_proxies=parse_networks(_strings(trusted_proxies)),
            actions=actions,
            inference_paths=frozenset(_strings(inference_paths)),
            max_body_bytes=max_body_bytes,
            headers=tuple(name.lower() for name in _strings(headers)),
            report_only=report_only if isinstance(report_only, bool) else _strings(report_only),
        )
        self.on_deny = on_deny
        self.on_decision = on_decision
        self.expose_policies = expose_policies
        self.realm = realm

    # -- identity -------------------------------------------------------------------------
    def authenticate(self, auth: AuthInput) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """(identity, device) from the first authenticator with credentials; raises IdentityError."""
        for authenticator in self.authenticators:
            result = authenticator.authenticate(auth)
            if result is not None:
                device = self.sources.device_sync(auth, result.identity, result.device)
                return self.sources.enrich_sync(result.identity), device
        return ANONYMOUS, self.sources.device_sync(auth, ANONYMOUS, UNMANAGED)

    async def authenticate_async(
        self, auth: AuthInput
    ) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """Like `authenticate`; blocking work (JWKS, directory lookups) runs off the loop."""
        for authenticator in self.authenticators:
            result = await authenticator.authenticate_async(auth)
            if result is not None:
                device = await self.sources.device_async(auth, result.identity, result.device)
                return await self.sources.enrich_async(result.identity), device
        return ANONYMOUS, await self.sources.device_async(auth, ANONYMOUS, UNMANAGED)

    # -- verdicts ---------------------------------------------------------------------------
    def begin(
        self,
        method: str,
        decode_path: Callable[[], str],
        route: str | None,
        headers: Mapping[str, str],
        peer: str | None,
        *,
        action: str | None = None,
        report_only: bool | None = None,
        known: Verdict | None = None,
    ) -> Verdict:
        """Start a verdict: the request root, enforcement mode, and what `known` (an earlier
        verdict for this same request) already settled. `verdict.authenticated` says whether
        credentials still need checking."""
        verdict = Verdict(request={"method": method})
        try:
            path = decode_path()
        except RequestRejected as exc:
            return self.reject(verdict, exc)
        options = self.options
        verdict.request = request = options.build_request(method, path, route, headers, peer)
        if action is not None:
            request["action"] = action
        mode = options.is_report_only(path, route) if report_only is None else report_only
        verdict.enforced = not mode
        if known is not None and known.error is None and known.answer is None:
            verdict.identity, verdict.device = known.identity, known.device
            verdict.authenticated = True
            if "model" in known.request:
                request["model"] = known.request["model"]
        return verdict

    def wants_body(self, verdict: Verdict) -> bool:
        """True when the body must be read for the inference `model`."""
        request = verdict.request
        return (
            verdict.answer is None
            and "model" not in request
            and self.options.is_inference(request["method"], request["path"])
        )

    def conclude(self, verdict: Verdict) -> Verdict:
        """Decide unless already answered, then report."""
        if verdict.answer is None:
            self.decide(verdict)
        return self.finish(verdict)

    async def conclude_async(self, verdict: Verdict) -> Verdict:
        """`conclude` for async adapters: a limiter counting in Redis runs in a worker thread,
        so its round trip never blocks the event loop."""
        if verdict.answer is None:
            if self.limiter is not None and self.limiter.remote:
                await asyncio.to_thread(self.decide, verdict)
            else:
                self.decide(verdict)
        return self.finish(verdict)

    def reject(self, verdict: Verdict, error: IdentityError | RequestRejected) -> Verdict:
        """Record a request or credential error; enforced unless report-only."""
        verdict.error = error
        if isinstance(error, IdentityError):
            rfc6750 = {400: "invalid_request", 401: "invalid_token"}.get(error.status)
            verdict.answer = answers.challenge(
                self.realm, error.status, rfc6750, error.message, code=error.code
            )
        else:
            verdict.answer = answers.problem(error.status, error.title, error.detail)
        return verdict

    def failed(self, verdict: Verdict, what: str) -> Verdict:
        """A hook or the engine raised: fail closed with 503, never a 500."""
        logger.exception("zt-policy: %s failed; denying", what)
        verdict.answer = answers.unavailable(f"authorization is unavailable ({what} failed)")
        return verdict

    def decide(self, verdict: Verdict) -> Verdict:
        """Ask the policies; set the answer (None = pass) and notify the hooks."""
        counted = None
        try:
            if self.limiter is None:
                decision = self.policies.decide(verdict.identity, verdict.device, verdict.request)
            else:
                counted = self.limiter.check(verdict.identity, verdict.device, verdict.request,
                                             shadow=not verdict.enforced)
                decision = counted.decision
        except Exception:
            return self.failed(verdict, "policy evaluation")
        verdict.decision = decision
        if not decision.allowed:
            if counted is not None and (counted.limited or counted.unavailable):
                # a limit exceeded (429) or its storage down (503); also in report-only mode
                status = 429 if counted.limited else 503
                verdict.answer = answers.limited(decision, status, counted.retry_after or 1)
            elif verdict.identity.get("authenticated"):
                verdict.answer = answers.forbidden(decision, self.expose_policies)
            else:
                verdict.answer = answers.challenge(self.realm)
                verdict.answer.problem["detail"] = "authentication required"
        return verdict

    def finish(self, verdict: Verdict) -> Verdict:
        """Report the verdict (log and `on_decision`); a failing hook never changes the outcome."""
        if verdict.answer is not None:
            log = logger.info if verdict.enforced else logger.warning
            log(
                "zt-policy %s %s %s -> %d%s (policies=%s)",
                "deny" if verdict.enforced else "would deny (report-only)",
                verdict.request.get("method"),
                verdict.request.get("path"),
                verdict.answer.status,
                f" {verdict.error.__class__.__name__}" if verdict.error else "",
                verdict.decision.policies if verdict.decision is not None else (),
            )
        if self.on_decision is not None:
            try:
                self.on_decision(verdict)
            except Exception:
                logger.exception("zt-policy on_decision hook failed")
        return verdict


def guard_from(
    guard: HttpGuard | None,
    policies: zt_policy.PolicySet | None,
    options: Mapping[str, Any],
    owner: str,
) -> HttpGuard:
    """A ready guard, or one built from `policies` and the guard options (never both)."""
    if guard is None:
        if policies is None:
            raise TypeError(f"{owner} needs policies= or guard=")
        return HttpGuard(policies, **options)
    if options or policies is not None:
        raise TypeError("pass either guard= or the guard options, not both")
    return guard
