"""An OpenID AuthZEN Authorization API 1.0 decision endpoint (PDP) over a zt-policy policy set.

Services in any language can then ask for decisions over HTTP: the AuthZEN interop suite's PEPs,
API gateways, IdPs. A pure ASGI app (serve it with uvicorn, hypercorn, or mount it in
Starlette/FastAPI); no framework import.

    app = AuthZENApp(zt_policy.load("policies/"), bearer_tokens=[os.environ["PDP_TOKEN"]],
                     attribute_provider=users.lookup)

Endpoints: `POST /access/v1/evaluation`, `POST /access/v1/evaluations` (defaults and
overrides, `options.evaluations_semantic`), `GET /.well-known/authzen-configuration`.
How subject/action/resource/context map onto identity/device/request: docs/authzen.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import zt_policy

from ._authzen_eval import AttributeProvider, Evaluator, batch_semantic, denial
from ._authzen_http import (
    Authenticator,
    Credentials,
    HttpError,
    Message,
    Receive,
    Scope,
    Send,
    check_json_type,
    parse_object,
    read_body,
    request_id,
    send_error,
    send_json,
)
from ._authzen_mapping import BadEvaluation, parse_evaluation
from ._authzen_mapping import build_context as _build_context
from ._http_context import scope_headers

__all__ = ["AttributeProvider", "AuthZENApp", "Authenticator", "build_context"]

logger = logging.getLogger("zt_policy.adapters.authzen")

EVALUATION_PATH = "/access/v1/evaluation"
EVALUATIONS_PATH = "/access/v1/evaluations"
METADATA_PATH = "/.well-known/authzen-configuration"


def build_context(
    request: Mapping[str, Any], attributes: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The zt-policy context (identity/device/request) for one AuthZEN evaluation request.

    Exposed so the mapping can be inspected, tested and reused (e.g. `zt-policy` test files
    written from AuthZEN requests). Raises ValueError for a request without the AuthZEN shape.
    """
    try:
        evaluation = parse_evaluation(request)
    except BadEvaluation as exc:
        raise ValueError(str(exc)) from None
    return _build_context(evaluation, attributes)


class AuthZENApp:
    """ASGI app answering AuthZEN access evaluation requests from a `zt_policy.PolicySet`.

    Caller authentication (required unless `allow_anonymous=True`): `bearer_tokens` (checked
    against `Authorization: Bearer ...`), `api_keys` (checked against the `api_key_header`), and
    `authenticate(headers) -> bool` (plain or async) for anything else, such as a JWT check.
    `attribute_provider(subject_type, subject_id) -> mapping | None` (plain or async) is the PIP:
    the PDP looks subject attributes up itself; they win over `subject.properties`.
    `base_url` fixes the `policy_decision_point` published in the metadata, verbatim (include
    any mount prefix); without it the URL is built from the request's scheme, Host and
    `root_path`. `include_reasons` adds the policy authors'
    `reason` texts to answers (never policy text or ids).
    """

    def __init__(
        self,
        policies: zt_policy.PolicySet,
        *,
        bearer_tokens: Iterable[str] = (),
        api_keys: Iterable[str] = (),
        api_key_header: str = "x-api-key",
        authenticate: Authenticator | None = None,
        allow_anonymous: bool = False,
        attribute_provider: AttributeProvider | None = None,
        provider_timeout: float = 5.0,
        base_url: str | None = None,
        include_reasons: bool = False,
        protect_metadata: bool = False,
        max_body_bytes: int = 256 * 1024,
        max_evaluations: int = 500,
        body_timeout: float = 10.0,
    ) -> None:
        if not isinstance(policies, zt_policy.PolicySet):
            raise TypeError("policies must be a zt_policy.PolicySet (zt_policy.load(...))")
        self.credentials = Credentials(
            bearer_tokens, api_keys, api_key_header, authenticate, allow_anonymous
        )
        self.evaluator = Evaluator(policies, attribute_provider, provider_timeout, include_reasons)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.protect_metadata = protect_metadata
        self.max_body_bytes = max_body_bytes
        self.max_evaluations = max_evaluations
        self.body_timeout = body_timeout

    @property
    def policies(self) -> zt_policy.PolicySet:
        return self.evaluator.policies

    @policies.setter
    def policies(self, policies: zt_policy.PolicySet) -> None:
        """Swap the policy set (hot reload); requests in flight finish with the old one."""
        self.evaluator.policies = policies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = scope_headers(scope)
        rid: str | None = None
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            rid = request_id(headers)
            await self._route(scope, receive, tracked, headers, rid)
        except HttpError as error:
            await send_error(send, error, rid)
        except Exception:
            if started:  # the answer is partly out (client gone?): nothing more to say
                logger.warning("AuthZEN answer could not be completed", exc_info=True)
                return
            logger.exception("AuthZEN request failed")
            await send_error(send, HttpError(503, "unavailable", "decision unavailable"), rid)

    async def _route(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], rid: str | None
    ) -> None:
        path, method = _route_path(scope), str(scope.get("method", "GET"))
        if path == METADATA_PATH:
            if method not in ("GET", "HEAD"):
                raise HttpError(405, "method_not_allowed", "use GET", [("allow", "GET, HEAD")])
            if self.protect_metadata:
                await self.credentials.check(headers)
            await send_json(send, 200, self._metadata(scope, headers), rid, head=method == "HEAD")
            return
        if path not in (EVALUATION_PATH, EVALUATIONS_PATH):
            raise HttpError(404, "not_found", "no such endpoint")
        if method != "POST":
            raise HttpError(405, "method_not_allowed", "use POST", [("allow", "POST")])
        await self.credentials.check(headers)
        check_json_type(headers)
        body = await read_body(headers, receive, self.max_body_bytes, self.body_timeout)
        document = parse_object(body)
        try:
            items = document.get("evaluations")
            if path == EVALUATIONS_PATH and items is not None and not isinstance(items, list):
                raise BadEvaluation("`evaluations` must be a JSON array")
            if path == EVALUATION_PATH or not items:
                answer = await self._single(document)
            else:
                answer = await self._batch(document, items)
        except BadEvaluation as exc:
            raise HttpError(400, "invalid_request", str(exc)) from None
        await send_json(send, 200, answer, rid)

    async def _single(self, document: dict[str, Any]) -> dict[str, Any]:
        evaluation = parse_evaluation(document)
        return await self.evaluator.decide(evaluation, {})

    async def _batch(self, document: dict[str, Any], items: list[Any]) -> dict[str, Any]:
        if len(items) > self.max_evaluations:
            raise BadEvaluation(f"at most {self.max_evaluations} evaluations per request")
        semantic = batch_semantic(document.get("options"))
        try:
            results = await self.evaluator.decide_batch(document, items, semantic)
        except Exception:
            logger.exception("AuthZEN batch failed")
            results = [denial(500, "the decision could not be made")]
        return {"evaluations": results}

    def _metadata(self, scope: Scope, headers: Mapping[str, str]) -> dict[str, Any]:
        if self.base_url is not None:
            base = self.base_url
        else:
            base = _origin(scope, headers) + str(scope.get("root_path", "")).rstrip("/")
        return {
            "policy_decision_point": base,
            "access_evaluation_endpoint": base + EVALUATION_PATH,
            "access_evaluations_endpoint": base + EVALUATIONS_PATH,
        }

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        """Answer the server's lifespan protocol so `lifespan="on"` servers start cleanly."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _route_path(scope: Scope) -> str:
    """The path below the mount point. Current ASGI servers and Starlette's `Mount` keep the
    full path in `path` and the prefix in `root_path`; older ones strip it already."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", "")).rstrip("/")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


def _origin(scope: Scope, headers: Mapping[str, str]) -> str:
    """scheme://host[:port] of this request; a Host header that is not a plain host is ignored
    so the metadata cannot be made to point anywhere odd."""
    scheme = str(scope.get("scheme", "http"))
    host = headers.get("host", "")
    if not host or any(c in host for c in "/\\@?# ,") or len(host) > 255:
        server = scope.get("server") or ("localhost", None)
        host = str(server[0]) + (f":{server[1]}" if server[1] else "")
    return f"{scheme}://{host}"
