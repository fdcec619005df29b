"""WSGI middleware and the Flask extension, in-process (Flask test client, raw WSGI calls)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask, Response
from zt_policy.adapters.flask import ZeroTrust
from zt_policy.adapters.identity import AppUserAuth
from zt_policy.adapters.wsgi import ZeroTrustMiddleware
from zthttp_apps import POLICIES, flask_app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_flask_allows_denies_and_challenges(verifier, rsa_key):
    app, _ = flask_app(verifier=verifier)
    client = app.test_client()
    assert client.get("/health").status_code == 200
    missing = client.get("/items/1")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="zt-policy"'
    ok = client.get("/items/5", headers=bearer(rsa_key.sign()))
    assert ok.status_code == 200
    assert ok.json["request"]["route"] == "/items/<int:item_id>"
    blocked = client.get("/items/5", headers=bearer(rsa_key.sign({"sub": "mallory"})))
    assert blocked.status_code == 403
    assert blocked.content_type == "application/problem+json"
    assert blocked.json["detail"] == "subject is blocked"


def test_flask_inference_body_is_replayed(verifier, rsa_key):
    app, _ = flask_app(verifier=verifier)
    payload = {"model": "public-a", "messages": [{"role": "user", "content": "x" * 1000}]}
    response = app.test_client().post(
        "/v1/chat/completions", json=payload, headers=bearer(rsa_key.sign())
    )
    assert response.status_code == 200 and response.json["echo"] == payload


def test_require_decorator_uses_its_action(verifier, rsa_key):
    app, _ = flask_app(verifier=verifier, enforce_all=False)
    client = app.test_client()
    assert client.get("/reports/q1", headers=bearer(rsa_key.sign())).status_code == 403
    assert client.get("/reports/q1").status_code == 401
    admin = rsa_key.sign({"roles": ["admins"], "amr": ["otp"]})
    response = client.get("/reports/q1", headers=bearer(admin))
    assert response.status_code == 200 and response.json["policies"] == ["admins-anything"]
    # enforce_all=False: views without @require are not decided
    assert client.get("/health").status_code == 200


def test_report_only_and_overflow_replay(verifier, rsa_key):
    app, _ = flask_app(verifier=verifier, report_only=True, max_body_bytes=100)
    client = app.test_client()
    response = client.get("/items/1", headers=bearer(rsa_key.sign({"sub": "mallory"})))
    assert response.status_code == 200 and response.json["enforced"] is False
    payload = {"model": "public-a", "pad": "y" * 500}
    response = client.post("/v1/chat/completions", json=payload, headers=bearer(rsa_key.sign()))
    assert response.status_code == 200 and response.json["echo"] == payload


def test_on_deny_returns_a_flask_response(verifier, rsa_key):
    app, _ = flask_app(verifier=verifier, on_deny=lambda v: Response("custom", status=451))
    response = app.test_client().get("/items/1", headers=bearer(rsa_key.sign({"sub": "mallory"})))
    assert response.status_code == 451 and response.data == b"custom"


def test_remote_user_is_the_apps_own_authentication():
    def inner(environ, start_response):
        verdict = environ["zt_policy.verdict"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"subject": verdict.identity["subject"]}).encode()]

    app = ZeroTrustMiddleware(inner, policies=POLICIES, authenticators=[AppUserAuth()])
    flask = Flask(__name__)
    flask.wsgi_app = app  # only to borrow Werkzeug's test client
    client = flask.test_client()
    assert client.get("/items/2").status_code == 401
    response = client.get("/items/2", environ_base={"REMOTE_USER": "mallory"})
    assert response.status_code == 403


def raw_call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(s)

    body = b"".join(app(environ, start_response))
    return status[0], body


@pytest.mark.parametrize(
    ("path", "code"),
    [("/items/\xff", "400"), ("/items/caf\xc3\xa9", "401")],  # latin-1 carried bytes, PEP 3333
)
def test_non_utf8_path_info(verifier, path, code):
    app = ZeroTrustMiddleware(lambda e, s: [b""], policies=POLICIES, verifier=verifier)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
    }
    status, _ = raw_call(app, environ)
    assert status.startswith(code)


def test_content_length_lies_are_bounded(verifier, rsa_key):
    app = ZeroTrustMiddleware(lambda e, s: [b""], policies=POLICIES, verifier=verifier)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/embeddings",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": "abc",
        "HTTP_AUTHORIZATION": f"Bearer {rsa_key.sign()}",
        "wsgi.input": io.BytesIO(b"{}"),
    }
    assert raw_call(app, environ)[0].startswith("400")
    environ.update(CONTENT_LENGTH="99999999999", **{"wsgi.input": io.BytesIO(b"{}")})
    assert raw_call(app, environ)[0].startswith("413")


def test_extension_needs_policies():
    with pytest.raises(TypeError):
        ZeroTrust(Flask(__name__))
