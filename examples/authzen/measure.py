"""Measure the AuthZEN PDP on the Todo interop vectors: in process and behind uvicorn.

    python examples/authzen/measure.py ../shared/conformance/authzen

Prints per-request cost of the decision core alone, of the whole ASGI app in process (JSON
parse, caller check, attribute lookup, decision, JSON answer), and latency over a real
uvicorn on 127.0.0.1 with one keep-alive httpx client. Figures, not assertions.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from zt_policy.adapters.authzen import AuthZENApp, build_context

import zt_policy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from users import UsersFile  # noqa: E402

HEADERS = [(b"authorization", b"Bearer t"), (b"content-type", b"application/json")]


async def asgi_once(app: AuthZENApp, body: bytes, path: str) -> None:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": path, "headers": HEADERS}, receive, send)
    assert sent[0]["status"] == 200


async def in_process(app: AuthZENApp, bodies: list[bytes], n: int) -> float:
    for body in bodies:
        await asgi_once(app, body, "/access/v1/evaluation")
    start = time.perf_counter()
    for i in range(n):
        await asgi_once(app, bodies[i % len(bodies)], "/access/v1/evaluation")
    return (time.perf_counter() - start) / n * 1e6


def over_uvicorn(app: AuthZENApp, bodies: list[bytes], batch: bytes, n: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    headers = {"authorization": "Bearer t", "content-type": "application/json"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for label, path, payloads in (
                ("single evaluations", "/access/v1/evaluation", bodies),
                ("2-item batches", "/access/v1/evaluations", [batch]),
            ):
                latencies = []
                for i in range(n):
                    start = time.perf_counter()
                    client.post(path, content=payloads[i % len(payloads)]).raise_for_status()
                    latencies.append(time.perf_counter() - start)
                latencies.sort()
                p50, p99 = latencies[n // 2] * 1e3, latencies[int(n * 0.99)] * 1e3
                print(
                    f"uvicorn+httpx, 1 keep-alive client, {n} {label}: "
                    f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, {n / sum(latencies):.0f} req/s"
                )
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    suite = Path(
        sys.argv[1] if len(sys.argv) > 1 else HERE.parents[2] / "shared/conformance/authzen"
    )
    users = UsersFile.load(suite / "users.json")
    vectors = json.loads((suite / "todo" / "decisions.json").read_text())
    policies = zt_policy.load(HERE / "todo.ztp")
    app = AuthZENApp(policies, bearer_tokens=["t"], attribute_provider=users.lookup)
    requests = [case["request"] for case in vectors["evaluation"]]
    bodies = [json.dumps(request).encode() for request in requests]
    batch = json.dumps(vectors["evaluations"][0]["request"]).encode()

    contexts = [
        build_context(r, users.lookup(r["subject"]["type"], r["subject"]["id"])) for r in requests
    ]
    n = 20000
    start = time.perf_counter()
    for i in range(n):
        policies.decide(**contexts[i % len(contexts)])
    core = (time.perf_counter() - start) / n * 1e6
    print(f"policies.decide alone (prepared contexts): {core:.1f} us/decision ({n} decisions)")
    app_us = asyncio.run(in_process(app, bodies, n))
    print(f"AuthZENApp in process, single evaluation: {app_us:.1f} us/request ({n} requests)")
    over_uvicorn(app, bodies, batch, 2000)


if __name__ == "__main__":
    main()
