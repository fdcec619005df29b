"""The context roots as pydantic models.

They document the attributes policies can use and type-check policy text against them. At decision
time plain dicts with the same keys work as well and are faster: the engine checks only the values
that the loaded policies actually read.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class IPAddressText:
    """Marks a string attribute that holds an IP address, so `in cidr(...)` type-checks against it."""


IPText = Annotated[str, IPAddressText()]


class Identity(BaseModel):
    """Who is asking: the verified subject and what its identity provider says about it."""

    model_config = ConfigDict(extra="allow")

    subject: str | None = None
    issuer: str | None = None
    groups: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    email: str | None = None
    mfa: bool = False
    authenticated: bool = False
    tenant: str | None = None
    claims: dict[str, Any] = Field(default_factory=dict)


class Device(BaseModel):
    """Posture of the device behind the request; absent posture is an unmanaged, untrusted device."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    managed: bool = False
    posture: int = Field(default=0, ge=0, le=100)
    os: str | None = None
    os_version: str | None = None
    compliant: bool = False
    tags: list[str] = Field(default_factory=list)


class Request(BaseModel):
    """What is being asked for: an HTTP route, a model inference, an MCP tool call."""

    model_config = ConfigDict(extra="allow")

    action: str | None = None
    tool: str | None = None
    model: str | None = None
    resource: str | None = None
    method: str | None = None
    path: str | None = None
    route: str | None = None
    ip: IPText | None = None
    user_agent: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)


class Signals(BaseModel):
    """Per-identity usage signals, for policies against inference abuse and model extraction.

    Filled in by the stateful layer that counts requests (`zt_policy.guard`) and only when the
    policies read `signals`; a bare `decide()` sees the zero defaults.
    """

    model_config = ConfigDict(extra="allow")

    requests_1m: int = 0
    requests_1h: int = 0
    distinct_inputs_1h: int = 0
    distinct_tools_1h: int = 0
    distinct_models_1h: int = 0
    denied_1h: int = 0
