"""A Flask model-serving app guarded by zt-policy.

Run:  ZT_ISSUER=https://idp.example ZT_AUDIENCE=api://models \
      ZT_JWKS_URL=https://idp.example/.well-known/jwks.json \
      waitress-serve --host 127.0.0.1 --port 8080 --call app:create_app_from_env
      (from the examples/flask_app directory)
"""

import os
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from zt_policy.adapters.flask import ZeroTrust
from zt_policy.adapters.identity import JWTVerifier

import zt_policy


def create_app(issuer: str, audience: str, jwks_url: str) -> Flask:
    policies = zt_policy.load(Path(__file__).with_name("policies.ztp"))
    verifier = JWTVerifier(issuer=issuer, audience=audience, jwks_url=jwks_url)
    app = Flask(__name__)
    zt = ZeroTrust(
        policies=policies,
        verifier=verifier,
        trusted_proxies=["127.0.0.1"],  # only our own reverse proxy may set X-Forwarded-For
        actions={"/usage/<team>": "usage:read"},  # name actions after URL rules
    )
    zt.init_app(app)  # every request is decided; the route is the Flask URL rule

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    def chat() -> Any:
        decision = request.environ["zt_policy.decision"]
        return {"model": request.get_json()["model"], "allowed_by": list(decision.policies)}

    @app.get("/usage/<team>")
    @zt.require(action="usage:read")  # this view is decided with its own action
    def usage(team: str) -> Any:
        return {"team": team, "tokens": 1234, "allowed_by": list(g.zt_policy_decision.policies)}

    return app


def create_app_from_env() -> Flask:
    return create_app(
        os.environ.get("ZT_ISSUER", "https://idp.example"),
        os.environ.get("ZT_AUDIENCE", "api://models"),
        os.environ.get("ZT_JWKS_URL", "https://idp.example/.well-known/jwks.json"),
    )
