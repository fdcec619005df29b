"""Shared helpers for the HTTP adapter tests: generated keys, signed tokens, a local JWKS server.

Everything is made by the tests themselves (keys with `cryptography`, a JWKS document served by a
real HTTP server on 127.0.0.1), so nothing depends on an outside identity provider.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.test"
AUDIENCE = "api://zt-tests"


@dataclass
class KeyPair:
    """A private key for signing and its public JWK for the JWKS document."""

    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def rsa(cls, kid: str = "rsa-1") -> KeyPair:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        return cls(kid, "RS256", private, {**jwk, "kid": kid, "use": "sig", "alg": "RS256"})

    @classmethod
    def ec(cls, kid: str = "ec-1") -> KeyPair:
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
        return cls(kid, "ES256", private, {**jwk, "kid": kid, "use": "sig", "alg": "ES256"})

    def sign(self, claims: dict[str, Any] | None = None, **overrides: Any) -> str:
        """A token with sensible defaults (valid for 10 minutes) and `claims` merged in."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 600,
            "groups": ["analysts"],
        }
        body.update(claims or {})
        for name, value in list(body.items()):
            if value is None:
                del body[name]
        headers = {"kid": self.kid, **overrides.pop("headers", {})}
        return jwt.encode(
            body, self.private, algorithm=overrides.pop("alg", self.alg), headers=headers
        )


def unsigned_token(claims: dict[str, Any]) -> str:
    """An `alg: none` token, the classic forgery."""
    return jwt.encode(claims, None, algorithm="none")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class JWKSServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS; can be switched down or slowed."""

    def __init__(self, *keys: KeyPair) -> None:
        self.keys = list(keys)
        self.down = False
        self.delay = 0.0
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                if outer.delay:
                    time.sleep(outer.delay)
                if outer.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"keys": [k.jwk for k in outer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
