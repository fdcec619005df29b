"""Map verified token claims onto the `identity` and `device` context roots.

Identity providers disagree on claim names (Entra `tid`/`roles`, Keycloak `realm_access.roles`,
Okta `groups`), so names are configurable with dotted paths. Values of the wrong type are dropped
rather than coerced: a policy should see "no groups", never a group list invented from a string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: `amr` values (RFC 8176) that show a second factor or a phishing-resistant method was used.
MFA_AMR_VALUES: frozenset[str] = frozenset({"mfa", "mca", "otp", "hwk", "sc", "sms", "tel"})

_DEVICE_STR_FIELDS = ("id", "os", "os_version")


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """Look up a dotted claim path (`realm_access.roles`); an exact key with dots wins."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _str_list(value: Any) -> list[str]:
    """A list of strings from a list claim or a space-separated string claim (OAuth `scope`)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [item for item in value if isinstance(item, str)]
    return []


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ClaimsMapping:
    """Which claims feed which identity attributes; the first present claim of each list wins."""

    groups: tuple[str, ...] = ("groups",)
    roles: tuple[str, ...] = ("roles", "realm_access.roles")
    email: tuple[str, ...] = ("email",)
    tenant: tuple[str, ...] = ("tenant", "tid", "org_id")
    mfa_amr_values: frozenset[str] = MFA_AMR_VALUES
    device: str = "device"

    def _first(self, claims: Mapping[str, Any], names: tuple[str, ...]) -> Any:
        for name in names:
            value = _claim(claims, name)
            if value is not None:
                return value
        return None

    def identity(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """The identity root for verified `claims` (authenticated is always True here)."""
        amr = _str_list(claims.get("amr"))
        return {
            "subject": _opt_str(claims.get("sub")),
            "issuer": _opt_str(claims.get("iss")),
            "groups": _str_list(self._first(claims, self.groups)),
            "roles": _str_list(self._first(claims, self.roles)),
            "email": _opt_str(self._first(claims, self.email)),
            "mfa": any(value in self.mfa_amr_values for value in amr),
            "authenticated": True,
            "tenant": _opt_str(self._first(claims, self.tenant)),
            "claims": dict(claims),
        }

    def device_claim(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """The device root from the token's device claim; absent or malformed = unmanaged."""
        return device_from_mapping(_claim(claims, self.device))


def device_from_mapping(raw: Any) -> dict[str, Any]:
    """Validate device posture from any source; wrong types fall back to the untrusted default.

    `managed` and `compliant` must be real booleans and `posture` an int in 0..100: a posture of
    "100" (a string) or 1000 is not evidence of a healthy device.
    """
    device: dict[str, Any] = {"managed": False, "posture": 0, "compliant": False, "tags": []}
    if not isinstance(raw, Mapping):
        return device
    for name in ("managed", "compliant"):
        if isinstance(raw.get(name), bool):
            device[name] = raw[name]
    posture = raw.get("posture")
    if isinstance(posture, int) and not isinstance(posture, bool) and 0 <= posture <= 100:
        device["posture"] = posture
    for name in _DEVICE_STR_FIELDS:
        if isinstance(raw.get(name), str):
            device[name] = raw[name]
    device["tags"] = _str_list(raw.get("tags")) if not isinstance(raw.get("tags"), str) else []
    return device


DEFAULT_MAPPING = ClaimsMapping()


def identity_from_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The identity root for verified claims with the default claim names."""
    return DEFAULT_MAPPING.identity(claims)


def device_from_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The device root from a verified token's `device` claim, or an unmanaged device."""
    return DEFAULT_MAPPING.device_claim(claims)
