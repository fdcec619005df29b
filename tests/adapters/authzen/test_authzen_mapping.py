"""The AuthZEN -> zt-policy mapping (the table in docs/authzen.md), the attribute provider (PIP)
with its failure modes, and the example users file loader."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from test_authzen_app import ALICE, app, call, doc, evaluate
from zt_authzen_helpers import EXAMPLES, users_module
from zt_policy.adapters.authzen import build_context

import zt_policy

FULL = {
    "subject": {
        "type": "user",
        "id": "alice@acme.com",
        "properties": {
            "department": "Sales",
            "roles": ["editor"],
            "email": "alice@acme.com",
            "ip_address": "172.217.22.14",
            "device_id": "8:65:ee:17:7e:0b",
            "type": "shadowed",
        },
    },
    "action": {"name": "can_read", "properties": {"method": "get"}},
    "resource": {"type": "book", "id": "123", "properties": {"ownerID": "bob@acme.com"}},
    "context": {"time": "1985-10-26T01:22-07:00"},
}


def test_mapping_table() -> None:
    context = build_context(FULL)
    identity, device, request = context["identity"], context["device"], context["request"]
    assert identity["subject"] == "alice@acme.com"
    assert identity["roles"] == ["editor"] and identity["email"] == "alice@acme.com"
    assert identity["claims"]["department"] == "Sales"
    assert identity["claims"]["type"] == "user"  # the AuthZEN type wins over a property
    assert identity["authenticated"] is True
    assert device == {"id": "8:65:ee:17:7e:0b"}
    assert request["action"] == "can_read" and request["resource"] == "123"
    assert request["method"] == "GET" and request["ip"] == "172.217.22.14"
    assert request["arguments"] == {
        "ownerID": "bob@acme.com",
        "type": "book",
        "action": {"method": "get"},
        "context": {"time": "1985-10-26T01:22-07:00"},
    }


def test_mapping_feeds_policies_written_against_the_table() -> None:
    policies = zt_policy.compile(
        """
        permit "table" when identity.claims.department == "Sales"
          and request.arguments.type == "book" and request.method == "GET"
          and request.ip in cidr("172.217.0.0/16") and device.id == "8:65:ee:17:7e:0b"
          and request.arguments.context.time like "1985-*"
          and identity.email != request.arguments.ownerID
        """
    )
    assert policies.decide(**build_context(FULL)).allowed
    other = {**FULL, "context": {"time": "2024-01-01"}}
    assert not policies.decide(**build_context(other)).allowed


def test_attribute_provider_wins_and_badly_typed_fields_are_not_lifted() -> None:
    context = build_context(FULL, {"roles": ["viewer"], "email": 7})
    assert context["identity"]["roles"] == ["viewer"]
    assert "email" not in context["identity"]
    assert context["identity"]["claims"]["email"] == 7


def test_build_context_rejects_non_authzen_shapes() -> None:
    with pytest.raises(ValueError, match="missing `resource`"):
        build_context({"subject": ALICE, "action": {"name": "read"}})


# --- attribute provider (PIP) ----------------------------------------------------------------

EDIT = {"subject": ALICE, "action": {"name": "edit"}, **doc("1")}


class CountingProvider:
    def __init__(self, roles: list[str]) -> None:
        self.calls: list[tuple[str, str]] = []
        self.roles = roles

    async def __call__(self, subject_type: str, subject_id: str) -> dict[str, Any] | None:
        self.calls.append((subject_type, subject_id))
        return {"roles": self.roles} if subject_id == "alice" else None


def test_async_provider_is_asked_once_per_subject_per_request() -> None:
    provider = CountingProvider(["editor"])
    target = app(attribute_provider=provider)
    bob = {"type": "user", "id": "bob"}
    batch = {
        "action": {"name": "edit"},
        **doc("1", owner="carol"),
        "subject": ALICE,
        "evaluations": [{}, {}, {"subject": bob}, {}],
    }
    answer = evaluate(target, batch, "/access/v1/evaluations")
    assert [item["decision"] for item in answer["evaluations"]] == [True, True, False, True]
    assert provider.calls == [("user", "alice"), ("user", "bob")]
    evaluate(target, EDIT)
    assert len(provider.calls) == 3


def test_provider_roles_beat_roles_claimed_by_the_caller() -> None:
    target = app(attribute_provider=CountingProvider([]))
    claimed = {**EDIT, "subject": {**ALICE, "properties": {"roles": ["editor"]}}}
    assert evaluate(target, claimed) == {"decision": False}


def _broken(subject_type: str, subject_id: str) -> Any:
    raise ConnectionError("ldap://secret-host down")


async def _slow(subject_type: str, subject_id: str) -> Any:
    await asyncio.sleep(3600)


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (_broken, "attribute provider failed"),
        (_slow, "attribute provider timed out"),
        (lambda t, i: ["editor"], "attribute provider returned no mapping"),
    ],
)
def test_provider_failure_fails_closed(provider: Any, message: str) -> None:
    target = app(attribute_provider=provider, provider_timeout=0.05)
    response = call(target, "POST", "/access/v1/evaluation", json=EDIT)
    assert response.status_code == 200
    assert response.json() == {
        "decision": False,
        "context": {"error": {"status": 503, "message": message}},
    }
    assert "secret-host" not in response.text
    owner = {**EDIT, **doc("1", "private", "alice")}  # would be permitted without the PIP
    assert evaluate(target, owner)["decision"] is False


def test_policies_can_be_swapped_while_serving() -> None:
    target = app()
    assert evaluate(target, {**EDIT, "action": {"name": "read"}}) == {"decision": True}
    target.policies = zt_policy.compile('forbid "all" when true\npermit "p" when true')
    assert evaluate(target, {**EDIT, "action": {"name": "read"}}) == {"decision": False}


# --- the scenarios depend on the PIP ---------------------------------------------------------


def test_todo_scenario_needs_the_users_file(users: Any) -> None:
    morty = {"type": "user", "id": "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"}
    create = {
        "subject": morty,
        "action": {"name": "can_create_todo"},
        "resource": {"type": "todo", "id": "todo-1"},
    }
    policies = zt_policy.load(EXAMPLES / "todo.ztp")
    with_pip = app(attribute_provider=users.lookup)
    with_pip.policies = policies
    without_pip = app()
    without_pip.policies = policies
    assert evaluate(with_pip, create) == {"decision": True}
    assert evaluate(without_pip, create) == {"decision": False}


# --- the example users file loader -----------------------------------------------------------


def test_users_file_lookup_and_subject_types(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"u1": {"email": "a@b.c", "roles": ["admin"]}}))
    UsersFile = users_module().UsersFile
    users = UsersFile.load(path)
    assert users.lookup("user", "u1") == {"email": "a@b.c", "roles": ["admin"]}
    assert users.lookup("user", "nobody") is None
    assert UsersFile.load(path, subject_types=("identity",)).lookup("user", "u1") is None


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[]", "keyed by subject id"),
        ('{"u": 1}', "not a JSON object"),
        ('{"u": {"roles": "admin"}}', "list of strings"),
    ],
)
def test_users_file_is_checked_at_load(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "users.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=fragment):
        users_module().UsersFile.load(path)


def test_every_policy_example_in_the_docs_mapping_table_compiles() -> None:
    """The mapping table in docs/authzen.md shows policy snippets; each must be valid .ztp."""
    page = (EXAMPLES.parents[1] / "docs" / "authzen.md").read_text(encoding="utf-8")
    section = page.split("## How an AuthZEN request maps", 1)[1].split("\n## ", 1)[0]
    snippets = [
        row.split("|")[3].strip().strip("`")
        for row in section.splitlines()
        if row.startswith("| `") or row.startswith("| …")
    ]
    snippets = [s for s in snippets if s and not s.startswith("the PEP")]
    assert len(snippets) >= 14
    for number, snippet in enumerate(snippets):
        zt_policy.compile(f'permit "doc-{number}" when {snippet}')


def test_docs_show_the_tested_todo_policies() -> None:
    page = (EXAMPLES.parents[1] / "docs" / "authzen.md").read_text(encoding="utf-8")
    assert (EXAMPLES / "todo.ztp").read_text(encoding="utf-8") in page
