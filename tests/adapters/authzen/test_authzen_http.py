"""HTTP behaviour of the AuthZEN app in process: caller authentication, X-Request-ID, metadata,
bad bodies (400/413/415/408), wrong methods and paths, lifespan; never a 500 or a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from test_authzen_app import ALICE, AUTH, TOKEN, app, call, doc
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


# --- bad input -------------------------------------------------------------------------------

JSON = {**AUTH, "content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"", 400, "invalid_request"),
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_request"),
        (b'"text"', 400, "invalid_request"),
        (b'{"subject": NaN}', 400, "invalid_json"),
        (b"\xff\xfe{}", 400, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json"),
    ],
)
def test_bad_json_is_a_clear_400(body: bytes, status: int, error: str) -> None:
    target = app(max_body_bytes=1_000_000)
    response = call(target, "POST", EVALUATION, headers=JSON, content=body)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_wrong_content_type_is_415(content_type: str | None) -> None:
    headers = dict(AUTH) if content_type is None else {**AUTH, "content-type": content_type}
    response = call(app(), "POST", EVALUATION, headers=headers, content=b"{}")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/authzen+json"]
)
def test_json_content_types_with_parameters_are_accepted(content_type: str) -> None:
    import json

    headers = {**AUTH, "content-type": content_type}
    response = call(app(), "POST", EVALUATION, headers=headers, content=json.dumps(READ).encode())
    assert response.json() == {"decision": True}


def test_oversized_body_is_413_declared_or_streamed() -> None:
    target = app(max_body_bytes=1000)
    big = b'{"pad": "' + b"x" * 2000 + b'"}'
    assert call(target, "POST", EVALUATION, headers=JSON, content=big).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 100

    response = call(target, "POST", EVALUATION, headers=JSON, content=chunks())
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_bad_content_length_is_400() -> None:
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": EVALUATION,
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"-5"),
        ],
    }
    asyncio.run(_raw(app(), scope, messages))
    assert messages[0]["status"] == 400


async def _raw(
    target: AuthZENApp, scope: dict[str, Any], sent: list[dict[str, Any]], stall: bool = False
) -> None:
    async def receive() -> dict[str, Any]:
        if stall:
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await target(scope, receive, send)


def test_stalled_body_is_408() -> None:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": EVALUATION,
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
        ],
    }
    asyncio.run(_raw(app(body_timeout=0.05), scope, sent, stall=True))
    assert sent[0]["status"] == 408


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", EVALUATION, 405, "POST"),
        ("PUT", "/access/v1/evaluations", 405, "POST"),
        ("POST", "/.well-known/authzen-configuration", 405, "GET, HEAD"),
        ("POST", "/access/v1/search/subject", 404, None),
        ("GET", "/", 404, None),
    ],
)
def test_wrong_method_or_path(method: str, path: str, status: int, allow: str | None) -> None:
    response = call(app(), method, path)
    assert response.status_code == status
    assert response.headers.get("allow") == allow
    assert response.headers["content-type"] == "application/json"


def test_lifespan_and_websocket_scopes() -> None:
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(app()({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    asyncio.run(app()({"type": "websocket", "path": "/"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_an_unexpected_failure_is_503_json_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    target = app()

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr("zt_policy.adapters.authzen.parse_object", explode)
    response = call(target, "POST", EVALUATION, json=READ)
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "message": "decision unavailable"}


def test_httpx_client_sees_json_errors_everywhere() -> None:
    transport = httpx.ASGITransport(app=app())

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as client:
            codes = []
            for method, path in (("GET", "/x"), ("POST", EVALUATION)):
                response = await client.request(method, path)
                response.json()
                codes.append(response.status_code)
            return codes

    assert asyncio.run(go()) == [404, 401]


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
    asyncio.run(_raw(app(), scope, sent))
    assert sent[0]["status"] == 200
    assert b'"https://h/pdp/access/v1/evaluation"' in sent[1]["body"]
