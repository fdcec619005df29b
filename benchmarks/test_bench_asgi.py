"""What the ASGI middleware adds per request, and what it costs a real FastAPI app in throughput.

1. In-process: the ASGI app is called directly with a prepared scope/receive/send, bare and
   wrapped in `ZeroTrustMiddleware`; the difference of the medians is the added latency, with a
   cached token (target: under 25 us) and with a fresh token each request (JWT verification).
2. Over loopback: a hello-world FastAPI app under uvicorn (a subprocess, so the client does not
   share its GIL) with and without the middleware, driven by a bounded httpx loop (target: under
   10% fewer requests per second).

    python -m pytest benchmarks/test_bench_asgi.py -q
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from zt_policy.adapters.asgi import ZeroTrustMiddleware
from zt_policy.adapters.identity import JWTVerifier

import zt_policy

BATCH = 500
FIGURES: dict[str, float] = {}
TARGETS = {"asgi/added-cached-token": 25e-6}
ISSUER, AUDIENCE = "https://idp.bench", "api://bench"
POLICIES = """
permit "analysts-read" when "analysts" in identity.groups and request.method == "GET"
permit "public-models" when request.action == "inference" and request.model like "public-*"
forbid "blocked" when identity has subject and identity.subject in ["mallory"] reason "blocked"
"""


def _key() -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**jwk, "kid": "bench", "alg": "RS256", "use": "sig"}


PRIVATE, JWK = _key()


def _token(n: int = 0) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"user-{n}",
        "groups": ["analysts"],
        "exp": int(time.time()) + 3600,
        "amr": ["mfa"],
    }
    return jwt.encode(claims, PRIVATE, algorithm="RS256", headers={"kid": "bench"})


def _middleware(app: Any, jwk: dict[str, Any]) -> ZeroTrustMiddleware:
    verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, keys={"keys": [jwk]})
    return ZeroTrustMiddleware(app, policies=zt_policy.compile(POLICIES), verifier=verifier)


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _scope(token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/items/1",
        "raw_path": b"/items/1",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"bench"),
            (b"user-agent", b"bench/1"),
            (b"accept", b"*/*"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    pass


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def measure(benchmark: Any) -> Callable[..., None]:
    def run(key: str, fn: Callable[[], None], calls: int, rounds: int = 40) -> None:
        benchmark.group = "asgi"
        benchmark.extra_info["key"] = key
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=2)
        if benchmark.enabled and benchmark.stats is not None:
            FIGURES[key] = benchmark.stats.stats.median / calls
            benchmark.extra_info["per_call_us"] = round(FIGURES[key] * 1e6, 3)

    return run


@pytest.fixture(scope="module", autouse=True)
def print_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not FIGURES or reporter is None:
        return
    if capture is not None:
        with capture.global_and_fixture_disabled():
            _report(reporter)
    else:
        _report(reporter)


def _report(reporter: Any) -> None:
    reporter.write_line("")
    reporter.write_line("zt-policy ASGI adapter figures:")
    for key, value in sorted(FIGURES.items()):
        if key.startswith("rps/"):
            reporter.write_line(f"  {key:32s} {value:9.0f} req/s")
        elif key == "asgi/rps-loss":
            ok = "ok" if value < 0.10 else "MISSED"
            reporter.write_line(f"  {key:32s} {value * 100:9.1f} %  (target < 10 %: {ok})")
        else:
            goal = TARGETS.get(key)
            verdict = (
                f" (target < {goal * 1e6:.0f} us: {'ok' if value < goal else 'MISSED'})"
                if goal
                else ""
            )
            reporter.write_line(f"  {key:32s} {value * 1e6:9.2f} us{verdict}")


def _batch(
    loop: asyncio.AbstractEventLoop, app: Any, scopes: list[dict[str, Any]]
) -> Callable[[], None]:
    async def run() -> None:
        for scope in scopes:
            await app(dict(scope), _receive, _send)

    return lambda: loop.run_until_complete(run())


def test_bare_app(measure: Any, loop: Any) -> None:
    scopes = [_scope(_token())] * BATCH
    measure("asgi/bare", _batch(loop, bare_app, scopes), BATCH)


def test_middleware_cached_token(measure: Any, loop: Any) -> None:
    app = _middleware(bare_app, JWK)
    scopes = [_scope(_token())] * BATCH
    sent: list[Any] = []

    async def keep(message: Any) -> None:
        sent.append(message)

    loop.run_until_complete(app(dict(scopes[0]), _receive, keep))
    assert sent[0]["status"] == 200  # allowed, so the bare app answered
    measure("asgi/with-middleware-cached", _batch(loop, app, scopes), BATCH)
    if "asgi/bare" in FIGURES:
        FIGURES["asgi/added-cached-token"] = (
            FIGURES["asgi/with-middleware-cached"] - FIGURES["asgi/bare"]
        )


def test_middleware_fresh_token(measure: Any, loop: Any) -> None:
    app = _middleware(bare_app, JWK)
    per_round, rounds = 25, 12
    pool = iter([_scope(_token(n)) for n in range(per_round * (rounds + 3))])

    def one_round() -> None:
        loop.run_until_complete(_many(app, [next(pool) for _ in range(per_round)]))

    measure("asgi/with-middleware-fresh", one_round, per_round, rounds=rounds)
    if "asgi/bare" in FIGURES:
        FIGURES["asgi/added-fresh-token"] = (
            FIGURES["asgi/with-middleware-fresh"] - FIGURES["asgi/bare"]
        )


async def _many(app: Any, scopes: list[dict[str, Any]]) -> None:
    for scope in scopes:
        await app(scope, _receive, _send)


# -- requests per second under uvicorn ----------------------------------------------------------
def make_app() -> Any:
    """The hello-world app the uvicorn subprocess serves (factory; env picks the variant)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    if os.environ.get("ZT_BENCH_MIDDLEWARE") == "1":
        jwk = json.loads(os.environ["ZT_BENCH_JWK"])
        verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, keys={"keys": [jwk]})
        app.add_middleware(
            ZeroTrustMiddleware, policies=zt_policy.compile(POLICIES), verifier=verifier
        )
    return app


def _serve(with_middleware: bool, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ZT_BENCH_MIDDLEWARE": "1" if with_middleware else "0",
        "ZT_BENCH_JWK": json.dumps(JWK),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "test_bench_asgi:make_app",
            "--app-dir",
            str(Path(__file__).parent),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--no-proxy-headers",
        ],
        env=env,
    )


def _wait(url: str, token: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(url, headers={"authorization": f"Bearer {token}"}, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("uvicorn did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_requests_per_second_under_uvicorn() -> None:
    """Both servers run at once and requests alternate between them, so load from anything
    else on the machine hits both equally; each side's rate is its requests over its own time."""
    token = _token()
    ports = {False: _free_port(), True: _free_port()}
    procs = [_serve(flag, port) for flag, port in ports.items()]
    spent = {False: 0.0, True: 0.0}
    count = 0
    try:
        urls = {flag: f"http://127.0.0.1:{port}/items/1" for flag, port in ports.items()}
        headers = {"authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers, timeout=5) as client:
            for url in urls.values():
                _wait(url, token)
                for _ in range(50):  # warm up, and check both answer 200
                    assert client.get(url).status_code == 200
            deadline = time.perf_counter() + 12.0
            while time.perf_counter() < deadline and count < 50_000:
                for flag in (False, True) if count % 2 else (True, False):
                    start = time.perf_counter()
                    client.get(urls[flag])
                    spent[flag] += time.perf_counter() - start
                count += 1
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    FIGURES["rps/bare"] = count / spent[False]
    FIGURES["rps/with-middleware"] = count / spent[True]
    FIGURES["asgi/rps-loss"] = 1 - spent[False] / spent[True]
