"""Property tests: whatever arrives in headers, paths and bodies, the adapters answer with a
deliberate status and never raise (no 500s), and X-Forwarded-For never yields a made-up address."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from zt_policy.adapters._http_context import client_ip, parse_networks
from zt_policy.adapters.asgi import HttpGuard, ZeroTrustMiddleware
from zt_policy.adapters.identity import JWTVerifier
from zthttp_apps import POLICIES
from zthttp_helpers import KeyPair

EXPECTED = {200, 400, 401, 403, 413}  # 503 would be the catch-all: an unforeseen exception
KEY = KeyPair.rsa("fuzz")
VALID = f"Bearer {KEY.sign()}".encode()
TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1"])

ips = st.one_of(st.ip_addresses().map(str), st.text(max_size=20))


@given(peer=st.one_of(st.none(), ips), entries=st.lists(ips, max_size=6))
def test_client_ip_is_the_peer_or_a_listed_address(peer, entries):
    xff = ",".join(entries)
    result = client_ip(peer, xff, TRUSTED)
    if result != peer:
        assert result is not None
        ipaddress.ip_address(result)  # a real address...
        listed = {str(ipaddress.ip_address(e.strip().strip("[]"))) for e in entries if _ok(e)}
        assert result in listed  # ...that the header actually named


def _ok(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip().strip("[]"))
        return True
    except ValueError:
        return False


async def _ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _run(app: Any, scope: dict[str, Any], body: bytes) -> int:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


@settings(max_examples=200, deadline=None)
@given(
    authorization=st.one_of(
        st.just(VALID),
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda t: ("Bearer " + t).encode("utf-8", "replace")),
        st.lists(st.text(alphabet="abcXYZ-_=012", max_size=40), min_size=3, max_size=3).map(
            lambda parts: ("Bearer " + ".".join(parts)).encode()
        ),
    ),
    raw_path=st.one_of(
        st.just(b"/v1/chat/completions"),
        st.binary(max_size=40).map(lambda b: b"/v1/chat/completions" + b),
    ),
    body=st.one_of(
        st.binary(max_size=200),
        st.just(b'{"model": "public-x"}'),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ).map(lambda value: json.dumps({"model": value}).encode()),
    ),
    xff=st.binary(max_size=60),
)
def test_middleware_answers_everything(authorization, raw_path, body, xff):
    verifier = JWTVerifier(issuer="https://idp.test", audience="api://zt-tests", keys=KEY.jwk)
    app = ZeroTrustMiddleware(
        _ok_app, guard=HttpGuard(POLICIES, verifier=verifier, trusted_proxies=["127.0.0.1"])
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "client": ("127.0.0.1", 1),
        "query_string": b"",
        "headers": [
            (b"authorization", authorization),
            (b"x-forwarded-for", xff),
            (b"content-type", b"application/json"),
        ],
    }
    assert _run(app, scope, body) in EXPECTED
