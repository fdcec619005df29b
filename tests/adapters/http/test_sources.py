"""Identity and posture sources through the middleware: Cloudflare Access, async resolvers,
decision hooks, WebSockets on a real uvicorn, and the FastAPI dependency reading bodies."""

import asyncio
import time
from typing import Any

import httpx
import jwt
import pytest
from zt_policy.adapters.asgi import HttpGuard, ZeroTrustMiddleware
from zt_policy.adapters.identity import CloudflareAccessAuth, JWTVerifier
from zthttp_apps import POLICIES, fastapi_app
from zthttp_helpers import ISSUER, KeyPair

from tests.servers import uvicorn_server


def get(app: Any, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(kw.pop("method", "GET"), path, headers=headers, **kw)

    return asyncio.run(go())


def test_cloudflare_access_header(rsa_key: KeyPair) -> None:
    team = "https://myteam.cloudflareaccess.com"
    cf = JWTVerifier(
        issuer=team,
        audience="aud-tag",
        keys={"keys": [rsa_key.jwk]},
        required_claims=("exp", "iss", "aud"),
    )
    guard = HttpGuard(POLICIES, authenticators=[CloudflareAccessAuth(cf)])
    app = fastapi_app(guard)
    user = rsa_key.sign({"iss": team, "aud": "aud-tag", "email": "a@x.test"})
    ok = get(app, "/items/1", {"cf-access-jwt-assertion": user})
    assert ok.status_code == 200 and ok.json()["subject"] == "alice"
    service = rsa_key.sign(
        {
            "iss": team,
            "aud": "aud-tag",
            "sub": "",
            "common_name": "ci-bot.access",
            "groups": ["analysts"],
        }
    )
    assert (
        get(app, "/items/1", {"cf-access-jwt-assertion": service}).json()["subject"]
        == "ci-bot.access"
    )
    wrong = rsa_key.sign({"iss": team, "aud": "other-app"})
    assert get(app, "/items/1", {"cf-access-jwt-assertion": wrong}).status_code == 401


def test_cloudflare_for_team_builds_the_documented_verifier() -> None:
    auth = CloudflareAccessAuth.for_team("myteam", "aud-tag")
    assert auth.verifier.issuer == "https://myteam.cloudflareaccess.com"
    assert auth.verifier.algorithms == ("RS256",)


def test_async_device_resolver_and_on_decision(verifier: JWTVerifier, rsa_key: KeyPair) -> None:
    seen: list[Any] = []

    async def resolver(identity: Any, headers: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"managed": headers.get("x-device-id") == "laptop-1", "posture": 90}

    guard = HttpGuard(
        POLICIES, verifier=verifier, device_resolver=resolver, on_decision=seen.append
    )
    app = fastapi_app(guard)
    body = {"model": "private-x"}
    token = {"authorization": f"Bearer {rsa_key.sign()}"}
    managed = get(
        app, "/v1/chat/completions", {**token, "x-device-id": "laptop-1"}, method="POST", json=body
    )
    assert managed.status_code == 200
    assert get(app, "/v1/chat/completions", token, method="POST", json=body).status_code == 403
    assert [v.decision.allowed for v in seen] == [True, False]
    assert seen[0].device["managed"] is True and seen[1].device["managed"] is False


def test_failing_resolver_means_unmanaged(verifier: JWTVerifier, rsa_key: KeyPair) -> None:
    def resolver(identity: Any, headers: Any) -> dict[str, Any]:
        raise RuntimeError("MDM down")

    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier, device_resolver=resolver))
    token = rsa_key.sign({"device": {"managed": True, "posture": 99}})
    response = get(
        app,
        "/v1/chat/completions",
        {"authorization": f"Bearer {token}"},
        method="POST",
        json={"model": "private-x"},
    )
    assert response.status_code == 403


def test_hmac_tokens_end_to_end() -> None:
    secret = b"s" * 32
    verifier = JWTVerifier(issuer=ISSUER, audience="svc", keys=secret, algorithms=["HS256"])
    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier))
    claims = {
        "iss": ISSUER,
        "aud": "svc",
        "sub": "batch",
        "exp": int(time.time()) + 60,
        "groups": ["analysts"],
    }
    good = jwt.encode(claims, secret, algorithm="HS256")
    assert get(app, "/items/1", {"authorization": f"Bearer {good}"}).status_code == 200
    forged = jwt.encode(claims, b"t" * 32, algorithm="HS256")
    assert get(app, "/items/1", {"authorization": f"Bearer {forged}"}).status_code == 401


def test_dependency_reads_inference_body_without_middleware(
    verifier: JWTVerifier, rsa_key: KeyPair
) -> None:
    from typing import Annotated

    from fastapi import Depends, FastAPI
    from zt_policy.adapters.fastapi import Authorize, install

    import zt_policy

    guard = HttpGuard(POLICIES, verifier=verifier, max_body_bytes=1000)
    app = FastAPI()
    install(app)
    infer = Authorize(guard)

    @app.post("/v1/completions")
    async def complete(
        payload: dict[str, Any], decision: Annotated[zt_policy.Decision, Depends(infer)]
    ) -> dict[str, Any]:
        return {"model": payload["model"], "policies": list(decision.policies)}

    token = {"authorization": f"Bearer {rsa_key.sign()}"}
    ok = get(app, "/v1/completions", token, method="POST", json={"model": "public-m"})
    assert ok.status_code == 200 and ok.json() == {
        "model": "public-m",
        "policies": ["public-models"],
    }
    assert get(app, "/v1/completions", token, method="POST", json={"model": "x"}).status_code == 403
    big = get(
        app, "/v1/completions", token, method="POST", json={"model": "public-m", "p": "x" * 5000}
    )
    assert big.status_code == 413


def test_websocket_on_real_uvicorn(verifier: JWTVerifier, rsa_key: KeyPair) -> None:
    ws_client = pytest.importorskip("websockets.sync.client")
    from websockets.exceptions import InvalidStatus

    app = fastapi_app(HttpGuard(POLICIES, verifier=verifier))
    with uvicorn_server(app) as url:
        ws_url = url.replace("http://", "ws://") + "/ws"
        token = rsa_key.sign()
        with ws_client.connect(
            ws_url, additional_headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            assert ws.recv(timeout=5) == "hello"
        with pytest.raises(InvalidStatus) as info:
            ws_client.connect(ws_url, open_timeout=5)
        assert info.value.response.status_code in (401, 403)
        blocked = rsa_key.sign({"sub": "mallory"})
        with pytest.raises(InvalidStatus) as info:
            ws_client.connect(ws_url, additional_headers={"Authorization": f"Bearer {blocked}"})
        assert info.value.response.status_code == 403


def test_middleware_needs_policies() -> None:
    with pytest.raises(TypeError):
        ZeroTrustMiddleware(lambda s, r, se: None)
