"""JWTVerifier and claim mapping, with keys the tests generate and a JWKS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from zt_policy.adapters.identity import (
    ClaimsMapping,
    IdentityError,
    JWTVerifier,
    device_from_mapping,
    identity_from_claims,
)
from zthttp_helpers import AUDIENCE, ISSUER, KeyPair, unsigned_token


def code_of(verifier: JWTVerifier, token: str) -> str:
    with pytest.raises(IdentityError) as info:
        verifier.verify(token)
    return info.value.code


def test_valid_rsa_and_ec_tokens_map_to_identity(verifier, rsa_key, ec_key):
    for key in (rsa_key, ec_key):
        token = key.sign({"email": "a@x.test", "amr": ["pwd", "otp"], "tid": "acme"})
        result = verifier.verify(token)
        assert result.identity["subject"] == "alice"
        assert result.identity["issuer"] == ISSUER
        assert result.identity["groups"] == ["analysts"]
        assert result.identity["email"] == "a@x.test"
        assert result.identity["mfa"] is True
        assert result.identity["tenant"] == "acme"
        assert result.identity["authenticated"] is True
        assert result.identity["claims"]["aud"] == AUDIENCE
        assert result.device == {"managed": False, "posture": 0, "compliant": False, "tags": []}


def test_repeated_token_is_served_from_cache(verifier, rsa_key, jwks):
    token = rsa_key.sign()
    first = verifier.verify(token)
    hits = jwks.hits
    assert verifier.cached(token) is first
    assert verifier.verify(token) is first
    assert jwks.hits == hits


def test_cache_entry_ends_at_token_expiry(rsa_key):
    verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, keys={"rsa-1": rsa_key.jwk}, leeway=0)
    token = rsa_key.sign({"exp": int(time.time()) + 1})
    verifier.verify(token)
    assert verifier.cached(token) is not None
    time.sleep(1.2)
    assert verifier.cached(token) is None
    assert code_of(verifier, token) == "expired_token"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://evil.test"}, "invalid_issuer"),
        ({"aud": "api://other"}, "invalid_audience"),
        ({"exp": int(time.time()) - 3600}, "expired_token"),
        ({"nbf": int(time.time()) + 3600}, "invalid_token"),
        ({"sub": None}, "invalid_token"),
        ({"exp": None}, "invalid_token"),
    ],
)
def test_bad_claims_are_refused_with_stable_codes(verifier, rsa_key, claims, code):
    assert code_of(verifier, rsa_key.sign(claims)) == code


def test_alg_none_and_disallowed_algorithms_are_refused(verifier, rsa_key):
    forged = unsigned_token({"iss": ISSUER, "aud": AUDIENCE, "sub": "root", "exp": 2**31})
    assert code_of(verifier, forged) == "invalid_algorithm"
    hs = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x"}, "s" * 32, algorithm="HS256")
    assert code_of(verifier, hs) == "invalid_algorithm"
    assert code_of(verifier, rsa_key.sign(alg="RS512")) == "invalid_algorithm"


def test_token_signed_by_other_key_with_known_kid_is_refused(verifier):
    impostor = KeyPair.rsa("rsa-1")
    assert code_of(verifier, impostor.sign()) == "invalid_token"


def test_algorithm_must_match_the_jwk(rsa_key):
    verifier = JWTVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys={"keys": [rsa_key.jwk]},
        algorithms=("RS256", "PS256"),
    )
    assert code_of(verifier, rsa_key.sign(alg="PS256")) == "invalid_algorithm"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 9000, "é.é.é", "eyJ.eyJ.sig"])
def test_garbage_tokens(verifier, token):
    assert code_of(verifier, token) in {"invalid_token", "invalid_algorithm"}


def test_unknown_kid_triggers_a_rate_limited_refresh(rsa_key, jwks):
    verifier = JWTVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url, jwks_min_refresh_interval=0.5
    )
    verifier.verify(rsa_key.sign())
    rotated = KeyPair.rsa("rsa-2")
    jwks.keys.append(rotated)
    hits = jwks.hits
    # within the interval since the last fetch, an unknown kid does not refetch
    assert code_of(verifier, rotated.sign()) == "unknown_key"
    assert jwks.hits == hits
    time.sleep(0.6)
    assert verifier.verify(rotated.sign()).identity["subject"] == "alice"
    assert jwks.hits == hits + 1
    for n in range(5):  # random kids cannot make us hammer the provider
        assert code_of(verifier, KeyPair.ec(f"junk-{n}").sign()) == "unknown_key"
    assert jwks.hits == hits + 1


def test_jwks_down_gives_jwks_unavailable_and_known_keys_survive(rsa_key, jwks):
    jwks.down = True
    verifier = JWTVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks.url,
        jwks_min_refresh_interval=0,
        jwks_cache_ttl=0.3,
    )
    with pytest.raises(IdentityError) as info:
        verifier.verify(rsa_key.sign())
    assert info.value.code == "jwks_unavailable" and info.value.status == 503
    jwks.down = False
    verifier.verify(rsa_key.sign({"jti": "1"}))
    jwks.down = True
    time.sleep(0.4)  # cache is stale and the provider is down: the old keys still work
    assert verifier.verify(rsa_key.sign({"jti": "2"})).identity["subject"] == "alice"


def test_jwks_timeout_is_bounded(rsa_key, jwks):
    jwks.delay = 2.0
    verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url, jwks_timeout=0.3)
    started = time.monotonic()
    assert code_of(verifier, rsa_key.sign()) == "jwks_unavailable"
    assert time.monotonic() - started < 1.9


def test_closed_port_gives_jwks_unavailable(rsa_key):
    from zthttp_helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/jwks"
    verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, jwks_timeout=0.5)
    assert code_of(verifier, rsa_key.sign()) == "jwks_unavailable"


def test_async_verify_fetches_off_the_event_loop(rsa_key, jwks):
    jwks.delay = 0.3
    verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def main() -> str:
        task = asyncio.create_task(ticker())
        result = await verifier.verify_async(rsa_key.sign())
        task.cancel()
        return str(result.identity["subject"])

    assert asyncio.run(main()) == "alice"
    assert ticks >= 5  # the loop kept running while the JWKS was fetched


def test_async_errors_match_sync(verifier, rsa_key):
    with pytest.raises(IdentityError) as info:
        asyncio.run(verifier.verify_async(rsa_key.sign({"aud": "nope"})))
    assert info.value.code == "invalid_audience"


def test_static_keys_pem_and_hmac(rsa_key):
    from cryptography.hazmat.primitives import serialization

    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, keys=pem, algorithms=["RS256"])
    assert verifier.verify(rsa_key.sign()).identity["subject"] == "alice"
    secret = b"k" * 32
    hs = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, keys=secret, algorithms=["HS256"])
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "exp": int(time.time()) + 60}
    assert hs.verify(jwt.encode(claims, secret, algorithm="HS256")).identity["subject"] == "svc"
    assert code_of(hs, jwt.encode(claims, b"x" * 32, algorithm="HS256")) == "invalid_token"


@pytest.mark.parametrize(
    "algorithms", [[], ["none"], ["HS256", "RS256"], ["ES256", "HS512"], ["XX1"]]
)
def test_bad_algorithm_allow_lists_are_configuration_errors(algorithms, rsa_key):
    with pytest.raises(ValueError):
        JWTVerifier(issuer=ISSUER, audience=AUDIENCE, keys=rsa_key.jwk, algorithms=algorithms)


def test_issuer_and_audience_are_required(rsa_key):
    with pytest.raises(ValueError):
        JWTVerifier(issuer="", audience=AUDIENCE, keys=rsa_key.jwk)
    with pytest.raises(ValueError):
        JWTVerifier(issuer=ISSUER, audience="", keys=rsa_key.jwk)
    with pytest.raises(ValueError):
        JWTVerifier(issuer=ISSUER, audience=AUDIENCE)


def test_claims_mapping_is_defensive():
    identity = identity_from_claims(
        {"sub": 5, "groups": "a b", "roles": [1, "admin"], "amr": "pwd", "realm_access": {}}
    )
    assert identity["subject"] is None
    assert identity["groups"] == ["a", "b"]
    assert identity["roles"] == ["admin"]
    assert identity["mfa"] is False
    keycloak = identity_from_claims(
        {"sub": "k", "realm_access": {"roles": ["ops"]}, "amr": ["hwk"]}
    )
    assert keycloak["roles"] == ["ops"] and keycloak["mfa"] is True
    custom = ClaimsMapping(groups=("cognito:groups",)).identity({"cognito:groups": ["g"]})
    assert custom["groups"] == ["g"]


def test_device_claim_validation(verifier, rsa_key):
    good = {"managed": True, "posture": 90, "os": "macOS", "tags": ["corp"], "id": "d1"}
    result = verifier.verify(rsa_key.sign({"device": good}))
    assert result.device["managed"] is True and result.device["posture"] == 90
    assert result.device["tags"] == ["corp"]
    for bad in ({"managed": "yes", "posture": "100"}, {"posture": 1000}, "managed", None):
        device = device_from_mapping(bad)
        assert device["managed"] is False and device["posture"] == 0


@pytest.mark.parametrize(
    "url", ["http://idp.example/jwks", "ftp://idp.example/jwks", "file:///etc/jwks.json"]
)
def test_jwks_url_must_be_https_unless_loopback(url):
    with pytest.raises(ValueError):
        JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url)
    JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url="https://idp.example/jwks")
    JWTVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:9/jwks")


def test_async_unknown_kids_within_the_rate_limit_need_no_fetch(rsa_key, jwks):
    verifier = JWTVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url, jwks_min_refresh_interval=60
    )

    async def main() -> list[str]:
        await verifier.verify_async(rsa_key.sign())
        codes = []
        for n in range(5):
            try:
                await verifier.verify_async(KeyPair.ec(f"x-{n}").sign())
            except IdentityError as err:
                codes.append(err.code)
        return codes

    assert asyncio.run(main()) == ["unknown_key"] * 5
    assert jwks.hits == 1
