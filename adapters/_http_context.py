"""Building the `request` context root from an HTTP request, shared by the ASGI and WSGI adapters.

Everything here works on plain values (method, path, header dict, peer address, body bytes) so
both adapters produce the same context for the same request, and so it can be tested without a
server. The rules that matter for security live here: which client address to believe, how the
action is named, and how much of a body is read to find the inference `model`.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_INFERENCE_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
ActionMap = Mapping[str, str] | Callable[[str, str], "str | None"]


class RequestRejected(Exception):
    """The request itself is unusable (400/413): answered before any policy is asked."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Trusted proxy addresses/networks, validated once at start-up."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: tuple[IPNetwork, ...]
) -> str | None:
    """The client address: the peer, unless the peer is a trusted proxy.

    X-Forwarded-For is read right to left, skipping trusted proxies; the first address not in the
    trusted set is the client. Entries to the left of it were written by the client and can be
    forged, so they are never believed. A malformed entry stops the walk at the last good hop.
    """
    if not trusted or not forwarded_for or peer is None:
        return peer
    peer_ip = _ip(peer)
    if peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer
    candidate = peer
    for entry in reversed(forwarded_for.split(",")):
        hop = _ip(entry)
        if hop is None:
            return candidate
        candidate = str(hop)
        if not any(hop in net for net in trusted):
            return candidate
    return candidate


_BAD_PATH = "request path is not valid UTF-8"


def path_from_raw(path: str, raw_path: bytes | None) -> str:
    """The ASGI request path as text; a path that is not valid UTF-8 is rejected (400).

    Policies compare paths as text: an undecodable path cannot be matched safely, and servers
    differ in how they paper over it (U+FFFD, latin-1), so the raw bytes are checked.
    """
    if raw_path is None:
        if "\ufffd" in path:
            raise RequestRejected(400, "Bad Request", _BAD_PATH)
        return path
    try:
        return unquote_to_bytes(raw_path.split(b"?", 1)[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRejected(400, "Bad Request", _BAD_PATH) from None


def path_from_wsgi(path_info: str) -> str:
    """The WSGI PATH_INFO (bytes carried as latin-1, PEP 3333) as UTF-8 text, else 400."""
    try:
        return path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise RequestRejected(400, "Bad Request", _BAD_PATH) from None


@dataclass(frozen=True)
class ContextOptions:
    """How requests become the `request` root; one instance shared by every request."""

    trusted_proxies: tuple[IPNetwork, ...] = ()
    actions: ActionMap | None = None
    inference_paths: frozenset[str] = frozenset(DEFAULT_INFERENCE_PATHS)
    max_body_bytes: int = 1024 * 1024
    headers: tuple[str, ...] = ()
    report_only: bool | tuple[str, ...] = False

    def action(self, method: str, path: str, route: str | None) -> str:
        """The action name: from `actions`, else "inference" for inference paths, else
        "METHOD /route" (the route template when known, so "/items/{id}" not "/items/42")."""
        template = route or path
        actions = self.actions
        if callable(actions):
            named = actions(method, template)
            if named:
                return named
        elif actions:
            named = actions.get(f"{method} {template}") or actions.get(template)
            if named:
                return named
        if path in self.inference_paths:
            return "inference"
        return f"{method} {template}"

    def is_inference(self, method: str, path: str) -> bool:
        return method == "POST" and path in self.inference_paths

    def is_report_only(self, path: str, route: str | None) -> bool:
        mode = self.report_only
        if isinstance(mode, bool):
            return mode
        return any(
            fnmatch.fnmatchcase(path, pattern) or (route and fnmatch.fnmatchcase(route, pattern))
            for pattern in mode
        )

    def check_length(self, content_length: str | None) -> int | None:
        """Validate a Content-Length header against the body bound (413 when over)."""
        if content_length is None:
            return None
        try:
            length = int(content_length)
        except ValueError:
            raise RequestRejected(400, "Bad Request", "invalid Content-Length header") from None
        if length < 0:
            raise RequestRejected(400, "Bad Request", "invalid Content-Length header")
        if length > self.max_body_bytes:
            raise self.too_large()
        return length

    def too_large(self) -> RequestRejected:
        return RequestRejected(
            413, "Content Too Large", f"request body exceeds {self.max_body_bytes} bytes"
        )

    def build_request(
        self,
        method: str,
        path: str,
        route: str | None,
        headers: Mapping[str, str],
        peer: str | None,
    ) -> dict[str, Any]:
        """The `request` root without the body-derived fields."""
        request: dict[str, Any] = {
            "action": self.action(method, path, route),
            "method": method,
            "path": path,
            "route": route,
            "ip": client_ip(peer, headers.get("x-forwarded-for"), self.trusted_proxies),
            "user_agent": headers.get("user-agent"),
        }
        if self.headers:
            request["headers"] = {n: headers[n] for n in self.headers if n in headers}
        return request


def model_from_body(body: bytes) -> str | None:
    """The `model` of an OpenAI-style JSON body; broken JSON or a non-string model is a 400."""
    if not body:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise RequestRejected(400, "Bad Request", "request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise RequestRejected(400, "Bad Request", "request body must be a JSON object")
    model = document.get("model")
    if model is not None and not isinstance(model, str):
        raise RequestRejected(400, "Bad Request", "'model' must be a string")
    return model


def scope_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """An ASGI scope's headers with lower-case names; repeated headers joined with commas
    (RFC 9110)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers
