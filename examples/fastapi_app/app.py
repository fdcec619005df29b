"""A FastAPI model-serving app guarded by zt-policy.

Run:  ZT_ISSUER=https://idp.example ZT_AUDIENCE=api://models \
      ZT_JWKS_URL=https://idp.example/.well-known/jwks.json \
      uvicorn app:app --app-dir examples/fastapi_app --no-proxy-headers
"""

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from zt_policy.adapters.fastapi import Authorize, HttpGuard, ZeroTrustMiddleware, install
from zt_policy.adapters.identity import JWTVerifier

import zt_policy


def create_app(issuer: str, audience: str, jwks_url: str) -> FastAPI:
    policies = zt_policy.load(Path(__file__).with_name("policies.ztp"))
    verifier = JWTVerifier(issuer=issuer, audience=audience, jwks_url=jwks_url)
    guard = HttpGuard(
        policies,
        verifier=verifier,
        trusted_proxies=["127.0.0.1"],  # only our own reverse proxy may set X-Forwarded-For
        report_only=["/v1/embeddings"],  # new rules for this route: record, do not block yet
        actions={"/usage/{team}": "usage:read"},  # name actions after route templates
    )
    app = FastAPI()
    install(app)  # RFC 9457 problem+json for refusals raised by Authorize
    app.add_middleware(ZeroTrustMiddleware, guard=guard)
    usage_read = Authorize(guard, action="usage:read")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        decision = request.scope["zt_policy.decision"]
        return {"model": body["model"], "allowed_by": list(decision.policies)}

    @app.get("/usage/{team}")
    async def usage(
        team: str, decision: Annotated[zt_policy.Decision, Depends(usage_read)]
    ) -> dict[str, Any]:
        return {"team": team, "tokens": 1234, "allowed_by": list(decision.policies)}

    return app


app = create_app(
    os.environ.get("ZT_ISSUER", "https://idp.example"),
    os.environ.get("ZT_AUDIENCE", "api://models"),
    os.environ.get("ZT_JWKS_URL", "https://idp.example/.well-known/jwks.json"),
)
