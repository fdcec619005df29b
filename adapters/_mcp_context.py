"""The one mapping from MCP messages to the zt-policy context, shared by the MCP SDK and FastMCP adapters.

Both adapters are thin: they pull the raw pieces out of their framework (method, params, access
token, HTTP request, session id, client info) and hand them here, so a policy reads the same
attributes whichever server library runs it. Nothing in this module imports a framework.

Mapping (also in docs/mcp.md):

=========================  ==========================  =======================================
MCP method                 request.action              item attribute
=========================  ==========================  =======================================
tools/call                 "tools/call"                request.tool = name, request.arguments
resources/read             "resources/read"            request.resource = uri
resources/subscribe,       "resources/read"            request.resource = uri (subscribing
resources/unsubscribe                                  streams the content, so it needs read)
prompts/get                "prompts/get"               request.resource = prompt name,
                                                       request.arguments = prompt arguments
tools/list                 each item as "tools/call"   request.tool = tool name
resources/list             each item as "resources/read"  request.resource = uri
resources/templates/list   each item as "resources/read"  request.resource = uri template
prompts/list               each item as "prompts/get"  request.resource = prompt name
=========================  ==========================  =======================================
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ACTION_PROMPTS_GET",
    "ACTION_RESOURCES_READ",
    "ACTION_TOOLS_CALL",
    "ITEM_METHODS",
    "LIST_SPECS",
    "MCP_HEADER_CLIENT_NAME",
    "MCP_HEADER_CLIENT_VERSION",
    "MCP_HEADER_PROTOCOL_VERSION",
    "MCP_HEADER_SESSION_ID",
    "BadParams",
    "ListSpec",
    "Target",
    "as_dict",
    "freeze",
    "http_request_fields",
    "mcp_headers",
    "parse_target",
    "within_size",
]

ACTION_TOOLS_CALL: Final = "tools/call"
ACTION_RESOURCES_READ: Final = "resources/read"
ACTION_PROMPTS_GET: Final = "prompts/get"

# Pseudo-headers the adapters set (and overwrite, so a client cannot forge them by sending a real
# header of the same name) to make the MCP session and client visible to policies.
MCP_HEADER_SESSION_ID: Final = "mcp-session-id"
MCP_HEADER_CLIENT_NAME: Final = "mcp-client-name"
MCP_HEADER_CLIENT_VERSION: Final = "mcp-client-version"
MCP_HEADER_PROTOCOL_VERSION: Final = "mcp-protocol-version"
_MCP_HEADERS: Final = (
    MCP_HEADER_SESSION_ID,
    MCP_HEADER_CLIENT_NAME,
    MCP_HEADER_CLIENT_VERSION,
    MCP_HEADER_PROTOCOL_VERSION,
)

# Credentials never enter the policy context: decisions, explanations and logs may be exported.
_SECRET_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


class BadParams(ValueError):
    """The params of an item-addressing MCP request are malformed; answer INVALID_PARAMS."""


@dataclass(frozen=True, slots=True)
class Target:
    """The tool, resource or prompt one request addresses, in policy terms."""

    method: str
    action: str
    attr: str  # "tool" or "resource": the request attribute that names the item
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def request(self, common: Mapping[str, Any]) -> dict[str, Any]:
        """The full `request` root: transport facts plus what this message asks for."""
        out = dict(common)
        out["action"] = self.action
        out[self.attr] = self.name
        out["arguments"] = self.arguments
        return out


@dataclass(frozen=True, slots=True)
class ListSpec:
    """How one list method's result names its items and which action each item stands for."""

    result_key: str  # key of the item list in the wire result
    item_key: str  # key of the item name in a wire item
    action: str
    attr: str


LIST_SPECS: Final[Mapping[str, ListSpec]] = {
    "tools/list": ListSpec("tools", "name", ACTION_TOOLS_CALL, "tool"),
    "resources/list": ListSpec("resources", "uri", ACTION_RESOURCES_READ, "resource"),
    "resources/templates/list": ListSpec(
        "resourceTemplates", "uriTemplate", ACTION_RESOURCES_READ, "resource"
    ),
    "prompts/list": ListSpec("prompts", "name", ACTION_PROMPTS_GET, "resource"),
}

# method -> (action, request attribute, params key of the name, params key of the arguments)
ITEM_METHODS: Final[Mapping[str, tuple[str, str, str, str | None]]] = {
    "tools/call": (ACTION_TOOLS_CALL, "tool", "name", "arguments"),
    "resources/read": (ACTION_RESOURCES_READ, "resource", "uri", None),
    "resources/subscribe": (ACTION_RESOURCES_READ, "resource", "uri", None),
    "resources/unsubscribe": (ACTION_RESOURCES_READ, "resource", "uri", None),
    "prompts/get": (ACTION_PROMPTS_GET, "resource", "name", "arguments"),
}

_EMPTY: Final[Mapping[str, Any]] = {}


def parse_target(method: str, params: Any) -> Target | None:
    """The item a request addresses, None for methods that address none (initialize, ping, lists).

    Runs on the raw, unvalidated params (the SDK middleware sits before validation), so every
    shape is checked here and a bad one raises `BadParams` instead of reaching a policy.
    """
    spec = ITEM_METHODS.get(method)
    if spec is None:
        return None
    action, attr, name_key, args_key = spec
    if not isinstance(params, Mapping):
        raise BadParams("params must be an object")
    name = params.get(name_key)
    if not isinstance(name, str) or not name:
        raise BadParams(f"{name_key} must be a non-empty string")
    arguments: Mapping[str, Any] = _EMPTY
    if args_key is not None:
        raw = params.get(args_key)
        if raw is not None:
            if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
                raise BadParams(f"{args_key} must be an object")
            arguments = raw
    return Target(method, action, attr, name, arguments)


def within_size(value: Any, max_bytes: int, max_depth: int = 32) -> bool:
    """Whether `value` (JSON-shaped) stays under roughly `max_bytes` and `max_depth`.

    Counts string/bytes lengths and a few bytes per other node, stopping as soon as the budget
    is spent, so a 5 MB argument costs one `len` and a small one costs microseconds. Bounds the
    work any policy (and its error messages) can be made to do by a caller.
    """
    budget = max_bytes
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return False
        t = type(item)
        if t is str or t is bytes:
            budget -= len(item) + 2
        elif t is int or t is float or t is bool or item is None:
            budget -= 8
        elif t is dict or isinstance(item, Mapping):
            budget -= 2
            for k, v in item.items():
                budget -= len(k) + 4 if isinstance(k, str) else 8
                stack.append((v, depth + 1))
        elif t is list or t is tuple:
            budget -= 2
            stack.extend((v, depth + 1) for v in item)
        else:
            budget -= 8
        if budget < 0:
            return False
    return True


def http_request_fields(
    method: str | None,
    path: str | None,
    client_host: str | None,
    headers: Mapping[str, str] | None,
    copy_headers: Iterable[str] = (),
) -> dict[str, Any]:
    """The transport part of the `request` root for an MCP message that came over HTTP.

    As in the HTTP adapters, only the headers named in `copy_headers` reach `request.headers`
    (credentials never do), so policies see a small, stable context.
    """
    hdrs: dict[str, str] = {}
    if headers is not None:
        for name in copy_headers:
            value = headers.get(name)
            if value is not None and name not in _SECRET_HEADERS and name not in _MCP_HEADERS:
                hdrs[name] = value
    out: dict[str, Any] = {"headers": hdrs}
    if method:
        out["method"] = method
    if path:
        out["path"] = path
    if client_host:
        out["ip"] = client_host
    agent = headers.get("user-agent") if headers is not None else None
    if agent is not None:
        out["user_agent"] = agent
    return out


def mcp_headers(
    headers: dict[str, str],
    *,
    session_id: str | None,
    client_name: str | None,
    client_version: str | None,
    protocol_version: str | None,
) -> dict[str, str]:
    """Add the MCP session and client facts to `headers` (in place) as pseudo-headers."""
    for key, value in (
        (MCP_HEADER_SESSION_ID, session_id),
        (MCP_HEADER_CLIENT_NAME, client_name),
        (MCP_HEADER_CLIENT_VERSION, client_version),
        (MCP_HEADER_PROTOCOL_VERSION, protocol_version),
    ):
        if value:
            headers[key] = value
        else:
            headers.pop(key, None)
    return headers


def freeze(value: Any) -> Hashable:
    """A hashable copy of a JSON-shaped value for cache keys; maps are order-insensitive.

    Scalars other than strings carry their type, so `True`, `1` and `1.0` (equal and equally
    hashed in Python) never share a key: the engine treats a mistyped value differently.
    """
    t = type(value)
    if t is str:
        text: str = value
        return text
    if value is None or t is bool or t is int or t is float:
        return (t, value)
    if t is list or t is tuple:
        if all(type(v) is str for v in value):
            return ("[", tuple(value))
        return ("[", tuple(freeze(v) for v in value))
    if isinstance(value, Mapping):
        return ("{", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, set | frozenset):
        return ("<", tuple(sorted((freeze(v) for v in value), key=repr)))
    if isinstance(value, str | int | float):  # subclasses (enums): keep the exact type
        return (t, value)
    raise TypeError(f"uncacheable context value of type {t.__name__}")


def as_dict(value: Any) -> Mapping[str, Any]:
    """A context root as a mapping: resolvers may return dicts or the pydantic models."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        out = dump()
        if isinstance(out, Mapping):
            return out
    raise TypeError(
        f"context root must be a mapping or a pydantic model, not {type(value).__name__}"
    )
