"""The adapters behind real servers: FastAPI under uvicorn and Flask under waitress, both on
127.0.0.1, called with httpx. Every bad input must get its own status, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from zt_policy.adapters.asgi import HttpGuard
from zt_policy.adapters.identity import JWTVerifier
from zthttp_apps import POLICIES, fastapi_app, flask_app
from zthttp_helpers import AUDIENCE, ISSUER, JWKSServer, KeyPair, free_port, unsigned_token

from tests.servers import uvicorn_server, waitress_server


def make_verifier(url: str) -> JWTVerifier:
    return JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, jwks_timeout=1.0)


def serve(kind: str, verifier: JWTVerifier, **options: Any) -> Any:
    if kind == "uvicorn":
        return uvicorn_server(fastapi_app(HttpGuard(POLICIES, verifier=verifier, **options)))
    app, _zt = flask_app(verifier=verifier, **options)
    return waitress_server(app)


@pytest.fixture(scope="module")
def module_jwks(rsa_key: KeyPair, ec_key: KeyPair) -> Iterator[JWKSServer]:
    server = JWKSServer(rsa_key, ec_key)
    yield server
    server.close()


@pytest.fixture(scope="module", params=["uvicorn", "waitress"])
def base_url(request: pytest.FixtureRequest, module_jwks: JWKSServer) -> Iterator[str]:
    with serve(request.param, make_verifier(module_jwks.url)) as url:
        yield url


def get(url: str, token: str | None = None, **kw: Any) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(kw.pop("method", "GET"), url, headers=headers, timeout=10, **kw)


def test_allowed_and_public(base_url, rsa_key):
    assert get(base_url + "/health").status_code == 200
    response = get(base_url + "/items/3", rsa_key.sign())
    assert response.status_code == 200
    assert response.json()["request"]["route"] in ("/items/{item_id}", "/items/<int:item_id>")


@pytest.mark.parametrize(
    ("header", "status", "error"),
    [
        (None, 401, None),
        ("Bearer", 400, "invalid_request"),
        ("Bearer a b", 400, "invalid_request"),
        ("Bearer " + "x" * 10_000, 401, "invalid_token"),
        ("Bearer not.a.jwt", 401, "invalid_token"),
        ("Basic YWxpY2U6c2VjcmV0", 401, None),
        (b"Bearer \xff\xfe", 401, "invalid_token"),
    ],
)
def test_authorization_header_problems(base_url, header, status, error):
    headers = {} if header is None else {"Authorization": header}
    response = get(base_url + "/items/1", headers=headers)
    assert response.status_code == status
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="zt-policy"')
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)


def test_token_problems(base_url, rsa_key):
    forged = unsigned_token({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": 2**31})
    cases = {
        "invalid_algorithm": forged,
        "invalid_issuer": rsa_key.sign({"iss": "https://evil.test"}),
        "invalid_audience": rsa_key.sign({"aud": "api://other"}),
        "expired_token": rsa_key.sign({"exp": 1000}),
        "unknown_key": KeyPair.rsa("never-published").sign(),
    }
    for code, token in cases.items():
        response = get(base_url + "/items/1", token)
        assert response.status_code == 401, code
        assert response.json()["code"] == code
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_forged_forwarded_for_is_ignored(base_url, rsa_key):
    response = get(base_url + "/internal", rsa_key.sign(), headers={"X-Forwarded-For": "10.0.0.1"})
    assert response.status_code == 403


def test_non_utf8_path(base_url, rsa_key):
    response = get(base_url + "/items/%ff%fe", rsa_key.sign())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_inference_bodies(base_url, rsa_key):
    url = base_url + "/v1/chat/completions"
    token = rsa_key.sign()
    ok = get(url, token, method="POST", json={"model": "public-tiny", "messages": []})
    assert ok.status_code == 200 and ok.json()["echo"]["model"] == "public-tiny"
    assert get(url, token, method="POST", json={"model": "secret"}).status_code == 403
    broken = get(
        url,
        token,
        method="POST",
        content=b'{"model": ',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.headers["content-type"] == "application/problem+json"
    huge = get(url, token, method="POST", content=b"{" + b" " * 3_000_000 + b"}")
    assert huge.status_code == 413


@pytest.mark.parametrize("kind", ["uvicorn", "waitress"])
def test_jwks_down_is_503(kind, rsa_key):
    verifier = make_verifier(f"http://127.0.0.1:{free_port()}/jwks")
    with serve(kind, verifier) as url:
        response = get(url + "/items/1", rsa_key.sign())
        assert response.status_code == 503
        assert response.json()["code"] == "jwks_unavailable"
        assert get(url + "/health").status_code == 200
