"""AuthZEN request shapes -> zt-policy context roots (identity / device / request).

Kept apart from the HTTP plumbing so the mapping is one readable place (it is the table in
docs/authzen.md) and can be tested without a server. Everything here is pure and synchronous:
the subject attributes from the attribute provider (PIP) arrive already looked up.

Validation follows the AuthZEN 1.0 information model: `subject` and `resource` need string
`type` and `id`, `action` needs a string `name`, `properties` and `context` must be objects.
A shape error raises `BadEvaluation`, which the caller turns into a 400 (single evaluation) or a
per-item `decision: false` with an error context (batch), as the spec's error section asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The AuthZEN 4-tuple keys a batch item may override.
TUPLE_KEYS = ("subject", "action", "resource", "context")

#: Subject attributes lifted into the typed `identity` fields, with the type each must have.
#: Anything else stays reachable under `identity.claims`.
_LIFTED: dict[str, type | tuple[type, ...]] = {
    "roles": list,
    "groups": list,
    "email": str,
    "tenant": str,
    "issuer": str,
    "mfa": bool,
}


class BadEvaluation(Exception):
    """An evaluation request that does not have the AuthZEN shape; the message is safe to show."""


@dataclass(frozen=True)
class Evaluation:
    """One validated AuthZEN access evaluation request (the 4-tuple)."""

    subject: Mapping[str, Any]
    action: Mapping[str, Any]
    resource: Mapping[str, Any]
    context: Mapping[str, Any]

    @property
    def subject_key(self) -> tuple[str, str]:
        """(type, id): what the attribute provider is asked about, and its cache key."""
        return str(self.subject["type"]), str(self.subject["id"])


def _entity(value: Any, name: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadEvaluation(f"`{name}` must be a JSON object")
    for key in keys:
        if not isinstance(value.get(key), str) or not value[key]:
            raise BadEvaluation(f"`{name}.{key}` must be a non-empty string")
    properties = value.get("properties", {})
    if properties is not None and not isinstance(properties, dict):
        raise BadEvaluation(f"`{name}.properties` must be a JSON object")
    return value


def parse_evaluation(document: Mapping[str, Any]) -> Evaluation:
    """Validate one 4-tuple (after defaults were applied); raises `BadEvaluation`."""
    missing = [key for key in ("subject", "action", "resource") if document.get(key) is None]
    if missing:
        raise BadEvaluation("missing " + ", ".join(f"`{key}`" for key in missing))
    context = document.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise BadEvaluation("`context` must be a JSON object")
    return Evaluation(
        subject=_entity(document["subject"], "subject", ("type", "id")),
        action=_entity(document["action"], "action", ("name",)),
        resource=_entity(document["resource"], "resource", ("type", "id")),
        context=context,
    )


def merge_defaults(defaults: Mapping[str, Any], item: Any) -> dict[str, Any]:
    """A batch item over the top-level defaults: a key set on the item replaces the default
    wholesale (AuthZEN 1.0 "default values"); objects are not deep-merged."""
    if not isinstance(item, dict):
        raise BadEvaluation("each item of `evaluations` must be a JSON object")
    merged = {key: defaults[key] for key in TUPLE_KEYS if defaults.get(key) is not None}
    merged.update({key: item[key] for key in TUPLE_KEYS if item.get(key) is not None})
    return merged


def _properties(entity: Mapping[str, Any]) -> dict[str, Any]:
    return dict(entity.get("properties") or {})


def build_context(
    evaluation: Evaluation, attributes: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """The `identity`, `device` and `request` roots for one evaluation.

    `attributes` are what the PDP's own attribute provider knows about the subject; they win
    over `subject.properties` sent by the caller, because the PDP's source is the authority.
    """
    subject, action, resource = evaluation.subject, evaluation.action, evaluation.resource
    claims = {**_properties(subject), **dict(attributes or {})}
    identity: dict[str, Any] = {
        "subject": subject["id"],
        "authenticated": True,
        "claims": {**claims, "type": subject["type"]},
    }
    for key, kind in _LIFTED.items():
        if isinstance(claims.get(key), kind):
            identity[key] = claims[key]
    arguments = {
        **_properties(resource),
        "type": resource["type"],
        "action": _properties(action),
        "context": dict(evaluation.context),
    }
    request: dict[str, Any] = {
        "action": action["name"],
        "resource": resource["id"],
        "arguments": arguments,
    }
    method = _properties(action).get("method")
    if isinstance(method, str):
        request["method"] = method.upper()
    ip = claims.get("ip_address")
    if isinstance(ip, str):
        request["ip"] = ip
    device: dict[str, Any] = {}
    device_id = claims.get("device_id")
    if isinstance(device_id, str):
        device["id"] = device_id
    return {"identity": identity, "device": device, "request": request}
