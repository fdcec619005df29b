"""Small FastAPI and Flask apps used by the adapter tests, plus real-server runners.

The servers are real (uvicorn, waitress) on 127.0.0.1 and a free port, started in a thread and
stopped after the test; uvicorn's own proxy-header handling is off so the adapter's
X-Forwarded-For rules are what is tested.
"""

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, WebSocket
from flask import Flask, g, jsonify
from flask import request as flask_request
from zt_policy.adapters.asgi import HttpGuard, ZeroTrustMiddleware
from zt_policy.adapters.fastapi import Authorize, install
from zt_policy.adapters.flask import ZeroTrust

import zt_policy

POLICIES = zt_policy.load(Path(__file__).with_name("policies.ztp"))


def verdict_json(verdict: Any) -> dict[str, Any]:
    return {
        "allowed": verdict.decision.allowed if verdict.decision is not None else None,
        "enforced": verdict.enforced,
        "request": verdict.request,
        "subject": verdict.identity.get("subject"),
    }


def fastapi_app(guard: HttpGuard, *, middleware: bool = True) -> FastAPI:
    app = FastAPI()
    install(app)
    if middleware:
        app.add_middleware(ZeroTrustMiddleware, guard=guard)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/items/{item_id}")
    async def item(item_id: int, request: Request) -> dict[str, Any]:
        return {"item": item_id, **verdict_json(request.scope["zt_policy.verdict"])}

    @app.get("/internal")
    async def internal(request: Request) -> dict[str, Any]:
        return verdict_json(request.scope["zt_policy.verdict"])

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()  # the body the middleware read is replayed intact
        return {"echo": body, **verdict_json(request.scope["zt_policy.verdict"])}

    reports_read = Authorize(guard, action="reports:read")

    @app.get("/reports/{report_id}")
    async def report(
        report_id: str, decision: Annotated[zt_policy.Decision, Depends(reports_read)]
    ) -> dict[str, Any]:
        return {"report": report_id, "policies": list(decision.policies)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return app


def flask_app(**options: Any) -> tuple[Flask, ZeroTrust]:
    app = Flask(__name__)
    zt = ZeroTrust(app, policies=POLICIES, **options)

    def verdict() -> dict[str, Any]:
        return verdict_json(flask_request.environ["zt_policy.verdict"])

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        return {"item": item_id, **verdict()}

    @app.get("/internal")
    def internal() -> Any:
        return verdict()

    @app.post("/v1/chat/completions")
    def chat() -> Any:
        return {"echo": flask_request.get_json(), **verdict()}

    @app.get("/reports/<report_id>")
    @zt.require(action="reports:read")
    def report(report_id: str) -> Any:
        return jsonify(report=report_id, policies=list(g.zt_policy_decision.policies))

    return app, zt


