"""The examples and the docs pages: each example runs against a local JWKS, and each docs page
contains its example verbatim, so the docs cannot drift from code that is tested."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from zthttp_helpers import AUDIENCE, ISSUER

from tests.servers import uvicorn_server, waitress_server

ROOT = Path(__file__).resolve().parents[3]


def load_example(name: str) -> ModuleType:
    path = ROOT / "examples" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"zt_example_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def body(response):
    return response.json() if callable(response.json) else response.json


def check(client_get, client_post, rsa_key) -> None:
    user = {"Authorization": f"Bearer {rsa_key.sign({'groups': ['ml-engineers']})}"}
    admin = {"Authorization": f"Bearer {rsa_key.sign({'roles': ['admins'], 'amr': ['mfa']})}"}
    assert client_get("/health", {}).status_code == 200
    assert client_post("/v1/chat/completions", {}, {"model": "public-1"}).status_code == 401
    ok = client_post("/v1/chat/completions", user, {"model": "public-1"})
    assert ok.status_code == 200 and body(ok)["allowed_by"] == ["public-models"]
    denied = client_post("/v1/chat/completions", user, {"model": "private-1"})
    assert denied.status_code == 403  # unmanaged device
    assert client_get("/usage/blue", user).status_code == 403
    usage = client_get("/usage/blue", admin)
    assert usage.status_code == 200 and body(usage)["allowed_by"] == ["admins-read-usage"]


@pytest.mark.parametrize("served", [False, True])
def test_fastapi_example(jwks, rsa_key, served):
    app = load_example("fastapi_app").create_app(ISSUER, AUDIENCE, jwks.url)
    if served:
        with uvicorn_server(app) as url, httpx.Client(base_url=url) as client:
            check(
                lambda p, h: client.get(p, headers=h),
                lambda p, h, j: client.post(p, headers=h, json=j),
                rsa_key,
            )
        return

    async def go(method: str, path: str, headers: dict, json=None) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, headers=headers, json=json)

    check(
        lambda p, h: asyncio.run(go("GET", p, h)),
        lambda p, h, j: asyncio.run(go("POST", p, h, j)),
        rsa_key,
    )


@pytest.mark.parametrize("served", [False, True])
def test_flask_example(jwks, rsa_key, served):
    app = load_example("flask_app").create_app(ISSUER, AUDIENCE, jwks.url)
    if served:
        with waitress_server(app) as url, httpx.Client(base_url=url) as client:
            check(
                lambda p, h: client.get(p, headers=h),
                lambda p, h, j: client.post(p, headers=h, json=j),
                rsa_key,
            )
        return
    client = app.test_client()
    check(
        lambda p, h: client.get(p, headers=h),
        lambda p, h, j: client.post(p, headers=h, json=j),
        rsa_key,
    )


@pytest.mark.parametrize(
    ("page", "example"),
    [
        ("fastapi.md", "fastapi_app"),
        ("flask.md", "flask_app"),
        ("asgi.md", "fastapi_app"),
        ("wsgi.md", "flask_app"),
    ],
)
def test_docs_pages_show_the_tested_example(page, example):
    doc = (ROOT / "docs" / page).read_text()
    code = (ROOT / "examples" / example / "app.py").read_text()
    policy = (ROOT / "examples" / example / "policies.ztp").read_text()
    if page in ("fastapi.md", "flask.md"):
        assert code.strip() in doc, f"docs/{page} must contain examples/{example}/app.py verbatim"
        assert policy.strip() in doc
    else:
        assert f"examples/{example}" in doc


@pytest.mark.parametrize("page", ["asgi.md", "wsgi.md"])
def test_docs_snippets_run(page):
    text = (ROOT / "docs" / page).read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, f"docs/{page}", "exec"), namespace)
    app = namespace["app"]
    if page == "asgi.md":

        async def go(path: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(path)

        assert asyncio.run(go("/health")).status_code == 200
        assert asyncio.run(go("/items")).status_code == 401
    else:
        from werkzeug.test import Client

        client = Client(app)
        assert client.get("/health").status_code == 200
        assert client.get("/items").status_code == 401
