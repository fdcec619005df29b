"""Fixtures for the HTTP adapter tests (keys, JWKS server, verifiers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from zt_policy.adapters.identity import JWTVerifier
from zthttp_helpers import AUDIENCE, ISSUER, JWKSServer, KeyPair


@pytest.fixture(scope="session")
def rsa_key() -> KeyPair:
    return KeyPair.rsa("rsa-1")


@pytest.fixture(scope="session")
def ec_key() -> KeyPair:
    return KeyPair.ec("ec-1")


@pytest.fixture()
def jwks(rsa_key: KeyPair, ec_key: KeyPair) -> Iterator[JWKSServer]:
    server = JWKSServer(rsa_key, ec_key)
    yield server
    server.close()


@pytest.fixture()
def verifier(jwks: JWKSServer) -> JWTVerifier:
    return JWTVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url, jwks_min_refresh_interval=0.0
    )
