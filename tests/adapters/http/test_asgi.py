"""ASGI middleware and FastAPI dependency, in-process (httpx ASGITransport and raw ASGI calls)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from zt_policy.adapters.asgi import HttpGuard, ZeroTrustMiddleware
from zt_policy.adapters.identity import JWTVerifier, PostureHeader
from zthttp_apps import POLICIES, fastapi_app
from zthttp_helpers import AUDIENCE, ISSUER, KeyPair


@pytest.fixture()
def guard(verifier: JWTVerifier) -> HttpGuard:
    return HttpGuard(POLICIES, verifier=verifier)


def call(app: Any, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["authorization"] = f"Bearer {token}"

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=kw.pop("client", ("127.0.0.1", 5000)))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, headers=headers, **kw)

    return asyncio.run(go())


def test_public_route_without_token(guard):
    response = call(fastapi_app(guard), "GET", "/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_missing_token_gets_a_bare_bearer_challenge(guard):
    response = call(fastapi_app(guard), "GET", "/items/1")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="zt-policy"'
    assert response.headers["content-type"] == "application/problem+json"


def test_allowed_request_sees_route_template_and_decision(guard, rsa_key):
    response = call(fastapi_app(guard), "GET", "/items/7", rsa_key.sign())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["item"] == 7 and body["allowed"] is True and body["subject"] == "alice"
    assert body["request"]["route"] == "/items/{item_id}"
    assert body["request"]["action"] == "GET /items/{item_id}"
    assert body["request"]["ip"] == "127.0.0.1"


def test_forbidden_is_problem_json_with_reason_but_no_internals(verifier, rsa_key):
    token = rsa_key.sign({"sub": "mallory"})
    response = call(fastapi_app(HttpGuard(POLICIES, verifier=verifier)), "GET", "/items/1", token)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == "subject is blocked" and problem["status"] == 403
    assert "policies" not in problem and "errors" not in problem
    exposed = HttpGuard(POLICIES, verifier=verifier, expose_policies=True)
    problem = call(fastapi_app(exposed), "GET", "/items/1", token).json()
    assert problem["policies"] == ["blocked-subjects"]


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": 1}, "expired_token"),
        ({"iss": "https://evil.test"}, "invalid_issuer"),
        ({"aud": "api://other"}, "invalid_audience"),
    ],
)
def test_bad_tokens_get_invalid_token_challenges(guard, rsa_key, claims, code):
    response = call(fastapi_app(guard), "GET", "/health", rsa_key.sign(claims))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["code"] == code


def test_inference_model_from_body_and_body_replayed(guard, rsa_key):
    payload = {"model": "public-small", "messages": [{"role": "user", "content": "hi"}]}
    response = call(
        fastapi_app(guard), "POST", "/v1/chat/completions", rsa_key.sign(), json=payload
    )
    assert response.status_code == 200, response.text
    assert response.json()["echo"] == payload
    assert response.json()["request"]["model"] == "public-small"
    assert response.json()["request"]["action"] == "inference"


def test_private_model_needs_a_managed_device(rsa_key, ec_key, verifier):
    payload = {"model": "private-large"}
    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier))
    assert (
        call(app, "POST", "/v1/chat/completions", rsa_key.sign(), json=payload).status_code == 403
    )
    managed = rsa_key.sign({"device": {"managed": True, "posture": 80}})
    assert call(app, "POST", "/v1/chat/completions", managed, json=payload).status_code == 200


def test_posture_header_bound_to_subject(rsa_key, ec_key, verifier):
    posture_verifier = JWTVerifier(issuer=ISSUER, audience="posture", keys={"ec-1": ec_key.jwk})
    guard = HttpGuard(POLICIES, verifier=verifier, posture=PostureHeader(posture_verifier))
    app = fastapi_app(guard)
    payload = {"model": "private-large"}
    good = ec_key.sign({"aud": "posture", "device": {"managed": True, "posture": 95}})
    other = ec_key.sign(
        {"aud": "posture", "sub": "bob", "device": {"managed": True, "posture": 95}}
    )
    for header, status in ((good, 200), (other, 403), ("garbage", 403)):
        response = call(
            app,
            "POST",
            "/v1/chat/completions",
            rsa_key.sign(),
            json=payload,
            headers={"x-device-posture": header},
        )
        assert response.status_code == status


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"model": 5}', 400),
        (b"\xff\xfe\x00garbage", 400),
        (b'{"model": "public-x", "pad": "' + b"x" * 2_000_000 + b'"}', 413),
    ],
)
def test_bad_inference_bodies(guard, rsa_key, body, status):
    response = call(
        fastapi_app(guard), "POST", "/v1/chat/completions", rsa_key.sign(), content=body
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_chunked_oversized_body_is_stopped_at_the_bound(guard, rsa_key):
    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    response = call(
        fastapi_app(guard), "POST", "/v1/chat/completions", rsa_key.sign(), content=chunks()
    )
    assert response.status_code == 413


def test_report_only_never_blocks(verifier, rsa_key):
    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier, report_only=True))
    response = call(app, "GET", "/items/1", rsa_key.sign({"sub": "mallory"}))
    assert response.status_code == 200
    assert response.json()["enforced"] is False and response.json()["allowed"] is False
    assert call(app, "GET", "/items/1", "not-a-token").status_code == 200


def test_report_only_per_route(verifier, rsa_key):
    guard = HttpGuard(POLICIES, verifier=verifier, report_only=["/internal"])
    app = fastapi_app(guard)
    assert call(app, "GET", "/internal", rsa_key.sign()).status_code == 200
    assert call(app, "GET", "/items/1", rsa_key.sign({"sub": "mallory"})).status_code == 403


def test_on_deny_hook_answers(verifier, rsa_key):
    from starlette.responses import PlainTextResponse

    seen = []

    def on_deny(verdict):
        seen.append(verdict)
        return PlainTextResponse("nope", status_code=418)

    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier, on_deny=on_deny))
    response = call(app, "GET", "/items/1", rsa_key.sign({"sub": "mallory"}))
    assert response.status_code == 418 and response.text == "nope"
    assert seen[0].decision.policies == ("blocked-subjects",)


def test_forwarded_for_only_from_trusted_proxies(verifier, rsa_key):
    trusted = HttpGuard(POLICIES, verifier=verifier, trusted_proxies=["127.0.0.1", "10.9.0.0/16"])
    app = fastapi_app(trusted)
    token = rsa_key.sign()
    xff = {"x-forwarded-for": "10.1.2.3, 203.0.113.9, 10.9.0.5"}
    # right to left: 10.9.0.5 is a trusted proxy, 203.0.113.9 is the client; 10.1.2.3 is forged
    body = call(app, "GET", "/internal", token, headers=xff).json()
    assert call(app, "GET", "/internal", token, headers=xff).status_code == 403
    forged = call(app, "GET", "/internal", token, headers={"x-forwarded-for": "10.1.2.3"})
    assert forged.status_code == 200  # the peer is trusted, so 10.1.2.3 is believed
    untrusted = call(
        app,
        "GET",
        "/internal",
        token,
        headers={"x-forwarded-for": "10.1.2.3"},
        client=("198.51.100.7", 1234),
    )
    assert untrusted.status_code == 403
    assert "forbidden" in untrusted.json()["title"].lower()
    del body


def test_dependency_uses_route_action_and_install_handler(verifier, rsa_key):
    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier), middleware=False)
    denied = call(app, "GET", "/reports/q3", rsa_key.sign())
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    admin = rsa_key.sign({"roles": ["admins"], "amr": ["pwd", "mfa"]})
    allowed = call(app, "GET", "/reports/q3", admin)
    assert allowed.status_code == 200 and allowed.json()["policies"] == ["admins-anything"]
    assert call(app, "GET", "/reports/q3").status_code == 401


def test_dependency_reuses_the_middleware_identity(verifier, rsa_key):
    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier))
    admin = rsa_key.sign({"roles": ["admins"], "amr": ["mfa"]})
    assert call(app, "GET", "/reports/q3", admin).status_code == 200


def test_app_user_authentication(rsa_key):
    from starlette.applications import Starlette
    from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from zt_policy.adapters.identity import AppUserAuth

    class Backend(AuthenticationBackend):
        async def authenticate(self, conn):
            user = conn.headers.get("x-user")
            return (AuthCredentials(["admins"]), SimpleUser(user)) if user else None

    async def page(request):
        return JSONResponse({"subject": request.scope["zt_policy.verdict"].identity["subject"]})

    guard = HttpGuard(POLICIES, authenticators=[AppUserAuth()])
    app = Starlette(
        routes=[Route("/page", page)],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=Backend()),
            Middleware(ZeroTrustMiddleware, guard=guard),
        ],
    )
    assert call(app, "GET", "/page").status_code == 401
    # admins-anything needs MFA, which the app's own login does not assert
    assert call(app, "GET", "/page", headers={"x-user": "carol"}).status_code == 403


def test_attribute_provider_enriches_and_caches(verifier, rsa_key):
    calls = []

    def directory(subject):
        calls.append(subject)
        return {"groups": ["analysts"], "subject": "spoofed"} if subject == "dave" else {}

    guard = HttpGuard(POLICIES, verifier=verifier, attribute_provider=directory)
    app = fastapi_app(guard)
    token = rsa_key.sign({"sub": "dave", "groups": []})
    for _ in range(3):
        response = call(app, "GET", "/items/1", token)
        assert response.status_code == 200 and response.json()["subject"] == "dave"
    assert calls == ["dave"]


def test_failing_attribute_provider_fails_closed(verifier, rsa_key):
    def directory(subject):
        raise ConnectionError("directory down")

    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier, attribute_provider=directory))
    response = call(app, "GET", "/items/1", rsa_key.sign())
    assert response.status_code == 503


def test_jwks_down_and_unknown_kid(rsa_key, jwks):
    verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url)
    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier))
    jwks.down = True
    response = call(app, "GET", "/items/1", rsa_key.sign())
    assert response.status_code == 503 and response.json()["code"] == "jwks_unavailable"
    stranger = KeyPair.rsa("nobody")
    assert call(app, "GET", "/items/1", stranger.sign()).status_code in (401, 503)


def test_single_strings_are_single_values(verifier, rsa_key):
    guard = HttpGuard(
        POLICIES, verifier=verifier, trusted_proxies="127.0.0.1", report_only="/internal"
    )
    app = fastapi_app(guard)
    response = call(
        app, "GET", "/internal", rsa_key.sign(), headers={"x-forwarded-for": "10.2.3.4"}
    )
    assert response.status_code == 200 and response.json()["request"]["ip"] == "10.2.3.4"
    assert response.json()["enforced"] is False
