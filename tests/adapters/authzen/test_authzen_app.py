"""The AuthZEN app in process (httpx's ASGI transport): batch semantics, attribute provider,
caller authentication, metadata, request ids, and every kind of bad input.

A small policy set written here keeps the cases readable; the interop scenarios run over a real
server in test_authzen_conformance.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from zt_policy.adapters.authzen import AuthZENApp

import zt_policy

POLICIES = zt_policy.compile(
    """
    permit "public-documents" when request.action == "read"
      and request.arguments.visibility == "public"
    permit "owners-do-anything" when identity.subject == request.arguments.owner
    permit "editors-edit" when request.action == "edit" and "editor" in identity.roles
    forbid "blocked-subjects" when identity.claims has blocked and identity.claims.blocked == true
      reason "subject is blocked"
    """,
    filename="authzen-test.ztp",
)
TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ALICE = {"type": "user", "id": "alice"}


def app(**options: Any) -> AuthZENApp:
    options.setdefault("bearer_tokens", [TOKEN])
    return AuthZENApp(POLICIES, **options)


def call(
    target: AuthZENApp, method: str, path: str, headers: Mapping[str, str] | None = None, **kw: Any
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=target)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp.test") as client:
            return await client.request(
                method, path, headers=dict(AUTH if headers is None else headers), **kw
            )

    return asyncio.run(go())


def evaluate(target: AuthZENApp, document: Any, path: str = "/access/v1/evaluation") -> Any:
    response = call(target, "POST", path, json=document)
    assert response.status_code == 200, response.text
    return response.json()


def doc(ident: str, visibility: str = "public", owner: str = "bob") -> dict[str, Any]:
    properties = {"visibility": visibility, "owner": owner}
    return {"resource": {"type": "document", "id": ident, "properties": properties}}


# --- single evaluation -----------------------------------------------------------------------


def test_single_evaluation_permits_and_denies() -> None:
    target = app()
    request = {"subject": ALICE, "action": {"name": "read"}, **doc("1")}
    assert evaluate(target, request) == {"decision": True}
    request = {"subject": ALICE, "action": {"name": "read"}, **doc("2", "private")}
    assert evaluate(target, request) == {"decision": False}
    request = {"subject": ALICE, "action": {"name": "delete"}, **doc("3", "private", "alice")}
    assert evaluate(target, request) == {"decision": True}


def test_subject_properties_reach_the_policies_and_forbid_wins() -> None:
    target = app()
    subject = {**ALICE, "properties": {"roles": ["editor"]}}
    assert evaluate(target, {"subject": subject, "action": {"name": "edit"}, **doc("1")})
    blocked = {**ALICE, "properties": {"roles": ["editor"], "blocked": True}}
    answer = evaluate(target, {"subject": blocked, "action": {"name": "edit"}, **doc("1")})
    assert answer == {"decision": False}


def test_answers_never_reveal_policy_ids_or_text() -> None:
    blocked = {**ALICE, "properties": {"blocked": True}}
    request = {"subject": blocked, "action": {"name": "read"}, **doc("1")}
    for target in (app(), app(include_reasons=True)):
        text = call(target, "POST", "/access/v1/evaluation", json=request).text
        assert "blocked-subjects" not in text and "identity.claims" not in text
    answer = evaluate(app(include_reasons=True), request)
    context = {"id": "0", "reason_user": {"en": "subject is blocked"}}
    assert answer == {"decision": False, "context": context}


@pytest.mark.parametrize(
    ("request_doc", "fragment"),
    [
        ({"action": {"name": "read"}, **doc("1")}, "missing `subject`"),
        ({"subject": {"type": "user"}, "action": {"name": "r"}, **doc("1")}, "`subject.id`"),
        ({"subject": ALICE, "action": {"name": 5}, **doc("1")}, "`action.name`"),
        ({"subject": ALICE, "action": "read", **doc("1")}, "`action` must be a JSON object"),
        (
            {"subject": ALICE, "action": {"name": "r"}, "resource": {"type": "d", "id": ""}},
            "`resource.id`",
        ),
        (
            {"subject": {**ALICE, "properties": []}, "action": {"name": "r"}, **doc("1")},
            "`subject.properties`",
        ),
        ({"subject": ALICE, "action": {"name": "r"}, **doc("1"), "context": 3}, "`context`"),
    ],
)
def test_malformed_evaluation_is_a_400(request_doc: dict[str, Any], fragment: str) -> None:
    response = call(app(), "POST", "/access/v1/evaluation", json=request_doc)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert fragment in response.json()["message"]


# --- batch evaluations -----------------------------------------------------------------------

BATCH = {
    "subject": ALICE,
    "action": {"name": "read"},
    "evaluations": [doc("1"), doc("2", "private"), doc("3")],
}


@pytest.mark.parametrize(
    ("semantic", "expected"),
    [
        (None, [True, False, True]),
        ("execute_all", [True, False, True]),
        ("deny_on_first_deny", [True, False]),
        ("permit_on_first_permit", [True]),
    ],
)
def test_batch_semantics(semantic: str | None, expected: list[bool]) -> None:
    batch = dict(BATCH)
    if semantic is not None:
        batch["options"] = {"evaluations_semantic": semantic}
    answer = evaluate(app(), batch, "/access/v1/evaluations")
    assert answer == {"evaluations": [{"decision": d} for d in expected]}


def test_permit_on_first_permit_runs_until_a_permit() -> None:
    batch = {**BATCH, "evaluations": [doc("1", "private"), doc("2", "private"), doc("3"), doc("4")]}
    batch["options"] = {"evaluations_semantic": "permit_on_first_permit"}
    answer = evaluate(app(), batch, "/access/v1/evaluations")
    assert [item["decision"] for item in answer["evaluations"]] == [False, False, True]


def test_batch_items_override_defaults_wholesale() -> None:
    batch = {
        "subject": ALICE,
        "action": {"name": "read"},
        "resource": {"type": "document", "id": "x", "properties": {"visibility": "public"}},
        "evaluations": [
            {},
            {"action": {"name": "edit"}},
            {"subject": {"type": "user", "id": "bob"}, **doc("9", "private", "bob")},
            {"resource": {"type": "document", "id": "y"}},
        ],
    }
    answer = evaluate(app(), batch, "/access/v1/evaluations")
    assert [item["decision"] for item in answer["evaluations"]] == [True, False, True, False]


def test_invalid_batch_item_is_denied_in_place_and_stops_deny_on_first_deny() -> None:
    batch = {**BATCH, "evaluations": [doc("1"), {"resource": "nope"}, doc("3")]}
    answer = evaluate(app(), batch, "/access/v1/evaluations")
    middle = answer["evaluations"][1]
    assert middle["decision"] is False and middle["context"]["error"]["status"] == 400
    assert [item["decision"] for item in answer["evaluations"]] == [True, False, True]
    batch["options"] = {"evaluations_semantic": "deny_on_first_deny"}
    assert len(evaluate(app(), batch, "/access/v1/evaluations")["evaluations"]) == 2


def test_evaluations_endpoint_without_array_is_a_single_evaluation() -> None:
    request = {"subject": ALICE, "action": {"name": "read"}, **doc("1")}
    assert evaluate(app(), request, "/access/v1/evaluations") == {"decision": True}
    assert evaluate(app(), {**request, "evaluations": []}, "/access/v1/evaluations") == {
        "decision": True
    }


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"options": {"evaluations_semantic": "first_wins"}}, "evaluations_semantic"),
        ({"options": "fast"}, "`options`"),
        ({"evaluations": {"a": 1}}, "JSON array"),
        ({"evaluations": [doc(str(i)) for i in range(4)]}, "at most 3"),
    ],
)
def test_bad_batch_is_a_400(change: dict[str, Any], fragment: str) -> None:
    response = call(
        app(max_evaluations=3), "POST", "/access/v1/evaluations", json={**BATCH, **change}
    )
    assert response.status_code == 400
    assert fragment in response.json()["message"]
