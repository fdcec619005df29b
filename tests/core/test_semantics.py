"""The meaning of the language, one row per rule: (condition, context) -> outcome.

Outcomes: True (the permit matches), False (it does not), or an error code (the condition failed,
which makes a permit not match and would make a forbid match)."""

from __future__ import annotations

from typing import Any

import pytest

import zt_policy

ID = {"subject": "ana", "groups": ["analysts", "ml"], "email": "ana@corp.example", "mfa": True,
      "claims": {"tier": "gold", "n": 5, "org": {"id": "o1"}, "flag": True, "tags": ["a", "b"]}}
DEV = {"managed": True, "posture": 80, "os": "macos"}
REQ = {"action": "tools/call", "tool": "search", "model": "public-llama-3", "ip": "10.1.2.3",
       "arguments": {"path": "/public/readme.md", "n": 3, "in": "kw", "owner": "ana@corp.example",
                     "list": [1, 2, "x"]}, "headers": {"x-team": "blue"}}

ROWS: list[tuple[str, dict[str, Any], bool | str]] = [
    # equality, never across types
    ('request.action == "tools/call"', {}, True),
    ('request.action != "tools/call"', {}, False),
    ("identity.claims.n == 5", {}, True),
    ('identity.claims.n == "5"', {}, False),
    ("identity.claims.flag == 1", {}, False),
    ("identity.claims.n == 5.0", {}, True),
    ("identity.email == request.arguments.owner", {}, True),
    ('request.ip == ip("10.1.2.3")', {}, True),
    # ordering: numbers only
    ("device.posture >= 70", {}, True),
    ("device.posture < 30", {}, False),
    ("identity.claims.n > 4", {}, True),
    ('identity.claims.tier > 4', {}, "ZT303"),
    ("request.arguments.n <= 15m", {}, True),
    # membership, cidr, contains
    ('"analysts" in identity.groups', {}, True),
    ('"admins" in identity.groups', {}, False),
    ('request.tool in ["search", "summarize"]', {}, True),
    ('request.ip in cidr("10.0.0.0/8")', {}, True),
    ('request.ip in cidr("192.168.0.0/16")', {}, False),
    ('request.ip in [cidr("192.168.0.0/16"), cidr("10.0.0.0/8")]', {}, True),
    ('request.ip in cidr("10.0.0.0/8")', {"request": {"ip": "nope"}}, "ZT304"),
    ('identity.groups contains "ml"', {}, True),
    ('request.arguments.path contains "public"', {}, True),
    ('identity.groups contains_any ["x", "ml"]', {}, True),
    ('identity.groups contains_all ["analysts", "ml"]', {}, True),
    ('identity.groups contains_all ["analysts", "x"]', {}, False),
    ('identity.claims.tags contains_any ["b"]', {}, True),
    ('identity.claims.tier contains_any ["b"]', {}, "ZT303"),
    ('request.arguments.list contains 1', {}, True),
    ('request.arguments.list contains true', {}, False),
    # like: * wildcards, no regex
    ('request.model like "public-*"', {}, True),
    ('request.model like "*llama*"', {}, True),
    ('request.model like "public-?"', {}, False),
    ('request.arguments.path like "/public/*"', {}, True),
    ('request.arguments.n like "3*"', {}, "ZT303"),
    # has and missing attributes
    ("identity has email", {}, True),
    ("identity has email", {"identity": {"email": None}}, False),
    ('request.arguments has "path"', {}, True),
    ('request.arguments has "nope"', {}, False),
    ("identity.claims.org has id", {}, True),
    ("identity.claims.nope has id", {}, "ZT301"),
    ("identity has groups", {"identity": {}}, True),  # a schema default always has a value
    ('identity.email like "*@corp.example"', {"identity": {}}, "ZT301"),
    ('identity has email and identity.email like "*@corp.example"', {"identity": {}}, False),
    ('request.arguments.path.deep == "x"', {}, "ZT302"),
    ('request.arguments["in"] == "kw"', {}, True),
    ('request.headers["x-team"] == "blue"', {}, True),
    # defaults: an absent device is unmanaged with posture 0
    ("device.managed", {"device": {}}, False),
    ("device.posture >= 1", {"device": {}}, False),
    # boolean logic, short-circuit and errors
    ("identity.mfa and device.managed", {}, True),
    ("not identity.mfa", {}, False),
    ('identity.mfa or identity.nope_missing == "x"', {}, True),
    ('device.posture < 0 and identity.email == "x"', {"identity": {}}, False),
    ('identity.email == "x" and device.posture < 0', {"identity": {}}, "ZT301"),
    ('not (identity.email == "x")', {"identity": {}}, "ZT301"),
    ("identity.claims.flag", {}, True),
    ("identity.claims.tier", {}, "ZT303"),
]


@pytest.mark.parametrize(("condition", "override", "expected"), ROWS)
def test_condition(condition: str, override: dict[str, Any], expected: bool | str) -> None:
    if "nope_missing" in condition:
        condition = condition.replace("identity.nope_missing", "identity.claims.absent")
    ctx = {"identity": ID, "device": DEV, "request": REQ}
    ctx.update(override)
    for cache in (0, 16):
        ps = zt_policy.compile(f'permit "p" when {condition}', cache_size=cache)
        d = ps.decide(**ctx)
        if isinstance(expected, bool):
            assert d.allowed is expected, d
            assert not d.errors
        else:
            assert not d.allowed
            assert [e.code for e in d.errors] == [expected], d
        forbid = zt_policy.compile(f'forbid "f" when {condition}\npermit "all"', cache_size=cache)
        # a forbid that errors matches: errors never grant access
        assert forbid.decide(**ctx).allowed is (expected is False)


def test_unless_and_no_condition() -> None:
    ps = zt_policy.compile('permit "a"\npermit "b" when device.managed unless device.posture < 50')
    assert ps.decide().policies == ("a",)
    d = ps.decide(device={"managed": True, "posture": 60})
    assert d.policies == ("a", "b")


def test_forbid_overrides_and_reports_all_matching() -> None:
    ps = zt_policy.compile(
        'permit "everyone"\n'
        'forbid "f1" when not device.managed reason "unmanaged"\n'
        'forbid "f2" when device.posture < 10\n'
    )
    d = ps.decide(device={})
    assert not d.allowed
    assert d.policies == ("f1", "f2")
    assert d.reasons == ("unmanaged", 'policy "f2" forbids this request')
    assert ps.decide(device={"managed": True, "posture": 50}).policies == ("everyone",)


def test_default_deny() -> None:
    ps = zt_policy.compile('permit "never" when identity.mfa')
    d = ps.decide()
    assert not d.allowed and d.policies == () and d.reasons == ("no policy permits this request",)


def test_malformed_typed_attribute_denies_whole_decision() -> None:
    ps = zt_policy.compile('permit "all"\npermit "x" when device.posture > 3')
    d = ps.decide(device={"posture": "high"})
    assert not d.allowed
    assert [e.code for e in d.errors] == ["ZT311"]
    assert "device.posture" in d.errors[0].message


def test_context_roots_may_be_models_or_none() -> None:
    ps = zt_policy.compile('permit "p" when "a" in identity.groups and device.posture >= 50')
    d = ps.decide(identity=zt_policy.Identity(groups=["a"]), device=zt_policy.Device(posture=70),
                  request=zt_policy.Request(action="x"))
    assert d.allowed
    assert not ps.decide(identity=None).allowed
    bad = ps.decide(identity="ana")
    assert not bad.allowed and bad.errors[0].code == "ZT310"
    with pytest.raises(zt_policy.ContextError):
        ps.decide(idenity={})
