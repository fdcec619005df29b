"""HTTP behaviour of the AuthZEN app in process: caller authentication, X-Request-ID, metadata
and mounting under a prefix."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from test_authzen_app import ALICE, AUTH, TOKEN, app, call, doc
from zt_authzen_helpers import asgi_call
from zt_policy.adapters.authzen import AuthZENApp

READ = {"subject": ALICE, "action": {"name": "read"}, **doc("1")}
EVALUATION = "/access/v1/evaluation"


# --- caller authentication -------------------------------------------------------------------


def test_protection_is_required_at_construction() -> None:
    with pytest.raises(ValueError, match="must be protected"):
        AuthZENApp(app().policies)
    assert AuthZENApp(app().policies, allow_anonymous=True)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, None),
        ({"authorization": "Bearer wrong"}, "invalid_token"),
        ({"authorization": f"Basic {TOKEN}"}, "invalid_token"),
        ({"authorization": f"Bearer {TOKEN}x"}, "invalid_token"),
        ({"x-api-key": TOKEN}, "invalid_token"),
    ],
)
def test_bad_credentials_get_401_with_a_challenge(
    headers: dict[str, str], error: str | None
) -> None:
    response = call(app(), "POST", EVALUATION, headers=headers, json=READ)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="authzen"')
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)


def test_bearer_tokens_and_api_keys_both_work() -> None:
    target = app(bearer_tokens=["t1", "t2"], api_keys=["k1"], api_key_header="X-PDP-Key")
    for headers in (
        {"authorization": "Bearer t2"},
        {"authorization": "bearer t1"},
        {"x-pdp-key": "k1"},
    ):
        assert call(target, "POST", EVALUATION, headers=headers, json=READ).json() == {
            "decision": True
        }
    assert (
        call(target, "POST", EVALUATION, headers={"x-pdp-key": "t1"}, json=READ).status_code == 401
    )


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_custom_authenticate_hook(kind: str) -> None:
    def check(headers: Mapping[str, str]) -> bool:
        return headers.get("x-client") == "gateway"

    async def acheck(headers: Mapping[str, str]) -> bool:
        return check(headers)

    target = app(bearer_tokens=[], authenticate=check if kind == "sync" else acheck)
    assert call(target, "POST", EVALUATION, headers={"x-client": "gateway"}, json=READ).json() == {
        "decision": True
    }
    assert call(target, "POST", EVALUATION, headers={"x-client": "x"}, json=READ).status_code == 401


def test_failing_authenticate_hook_is_503_not_500() -> None:
    def broken(headers: Mapping[str, str]) -> bool:
        raise RuntimeError("idp down")

    response = call(app(bearer_tokens=[], authenticate=broken), "POST", EVALUATION, json=READ)
    assert response.status_code == 503
    assert response.json() == {
        "error": "authentication_unavailable",
        "message": "caller check failed",
    }


def test_hook_returning_truthy_non_bool_does_not_let_in() -> None:
    target = app(bearer_tokens=[], authenticate=lambda headers: "yes")
    assert call(target, "POST", EVALUATION, json=READ).status_code == 401


def test_unauthenticated_callers_learn_nothing_about_bodies() -> None:
    response = call(app(), "POST", EVALUATION, headers={"content-type": "text/plain"}, content=b"{")
    assert response.status_code == 401


# --- X-Request-ID ----------------------------------------------------------------------------


RID = "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"


@pytest.mark.parametrize(
    ("headers", "kwargs", "status"),
    [
        (AUTH, {"json": READ}, 200),
        ({**AUTH, "content-type": "application/json"}, {"content": b"{oops"}, 400),
        ({}, {"json": READ}, 401),
        (AUTH, {"content": b"{}"}, 415),
    ],
)
def test_request_id_is_echoed_on_every_answer(
    headers: dict[str, str], kwargs: dict[str, Any], status: int
) -> None:
    response = call(app(), "POST", EVALUATION, headers={**headers, "x-request-id": RID}, **kwargs)
    assert response.status_code == status
    assert response.headers["x-request-id"] == RID


def test_no_request_id_no_echo_and_bad_request_id_is_400() -> None:
    assert "x-request-id" not in call(app(), "POST", EVALUATION, json=READ).headers
    response = call(
        app(), "POST", EVALUATION, headers={**AUTH, "x-request-id": "x" * 300}, json=READ
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_id"
    assert "x-request-id" not in response.headers


# --- metadata --------------------------------------------------------------------------------


def test_metadata_from_request_or_configured_base_url() -> None:
    response = call(app(), "GET", "/.well-known/authzen-configuration", headers={})
    assert response.status_code == 200
    assert response.json() == {
        "policy_decision_point": "http://pdp.test",
        "access_evaluation_endpoint": "http://pdp.test/access/v1/evaluation",
        "access_evaluations_endpoint": "http://pdp.test/access/v1/evaluations",
    }
    configured = app(base_url="https://pdp.example.com/")
    document = call(configured, "GET", "/.well-known/authzen-configuration").json()
    assert (
        document["access_evaluations_endpoint"] == "https://pdp.example.com/access/v1/evaluations"
    )
    head = call(configured, "HEAD", "/.well-known/authzen-configuration")
    assert head.status_code == 200 and head.content == b""


def test_metadata_ignores_a_host_header_that_is_not_a_host() -> None:
    headers = {"host": "evil.example/@x"}
    document = call(app(), "GET", "/.well-known/authzen-configuration", headers=headers).json()
    assert "evil" not in document["policy_decision_point"]


def test_metadata_can_be_protected() -> None:
    target = app(protect_metadata=True)
    assert call(target, "GET", "/.well-known/authzen-configuration", headers={}).status_code == 401
    assert call(target, "GET", "/.well-known/authzen-configuration").status_code == 200


def test_mounted_under_a_prefix_in_starlette() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    host = Starlette(routes=[Mount("/pdp", app=app())])

    async def go() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            decision = await client.post("/pdp/access/v1/evaluation", json=READ, headers=AUTH)
            metadata = await client.get("/pdp/.well-known/authzen-configuration")
            return decision, metadata

    decision, metadata = asyncio.run(go())
    assert decision.json() == {"decision": True}
    assert metadata.json()["access_evaluation_endpoint"] == "http://svc/pdp/access/v1/evaluation"


def test_path_already_stripped_by_an_older_server() -> None:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/.well-known/authzen-configuration",
        "root_path": "/pdp",
        "headers": [(b"host", b"h")],
        "scheme": "https",
    }
    asyncio.run(asgi_call(app(), scope, sent))
    assert sent[0]["status"] == 200
    assert b'"https://h/pdp/access/v1/evaluation"' in sent[1]["body"]
