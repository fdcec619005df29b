"""The AuthZEN interop suite's decision vectors against our PDP, over a real uvicorn server.

One test per vector: 40 single and 3 batch Todo cases, 25 API-gateway cases. The vectors come
from the AuthZEN working group (see the README next to them), so passing them says we
interoperate, not merely that we agree with ourselves. Each test also checks the answer's shape
(exactly `{"decision": bool}` or `{"evaluations": [...]}`) and the X-Request-ID echo.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from zt_authzen_helpers import AUTH, SKIP_REASON, conformance_dir, load_vectors
from zt_policy.adapters.authzen import AuthZENApp

import zt_policy

TODO = load_vectors("todo")
GATEWAY = load_vectors("api-gateway")
MISSING = pytest.mark.skipif(conformance_dir() is None, reason=SKIP_REASON)


def _cases(vectors: dict[str, Any], key: str, label: str) -> list[Any]:
    cases = []
    for number, case in enumerate(vectors.get(key, []), start=1):
        request = case["request"]
        action = request.get("action", {}).get("name", "batch")
        resource = request.get("resource", {}).get("id", "")
        ident = f"{label}-{number:02d}-{action}-{resource}-{case['expected']}"
        cases.append(pytest.param(case, id=ident))
    return cases or [pytest.param(None, id=f"{label}-vectors-absent", marks=MISSING)]


def _ask(url: str, path: str, request: dict[str, Any], rid: str) -> httpx.Response:
    response = httpx.post(
        url + path, json=request, headers={**AUTH, "x-request-id": rid}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == rid
    assert response.headers["content-type"] == "application/json"
    return response


@MISSING
def test_vector_counts_match_the_readme() -> None:
    assert len(TODO["evaluation"]) == 40
    assert len(TODO["evaluations"]) == 3
    assert len(GATEWAY["evaluation"]) == 25


@pytest.mark.parametrize("case", _cases(TODO, "evaluation", "todo"))
def test_todo_evaluation(todo_server: str, case: dict[str, Any]) -> None:
    response = _ask(todo_server, "/access/v1/evaluation", case["request"], "todo-single")
    assert response.json() == {"decision": case["expected"]}


@pytest.mark.parametrize("case", _cases(TODO, "evaluations", "todo-batch"))
def test_todo_evaluations(todo_server: str, case: dict[str, Any]) -> None:
    response = _ask(todo_server, "/access/v1/evaluations", case["request"], "todo-batch")
    assert response.json() == {"evaluations": case["expected"]}


@pytest.mark.parametrize("case", _cases(GATEWAY, "evaluation", "gateway"))
def test_gateway_evaluation(gateway_server: str, case: dict[str, Any]) -> None:
    response = _ask(gateway_server, "/access/v1/evaluation", case["request"], "gw-single")
    assert response.json() == {"decision": case["expected"]}


@pytest.mark.parametrize("case", _cases(TODO, "evaluation", "todo-as-batch"))
def test_todo_single_cases_as_one_item_batches(todo_server: str, case: dict[str, Any]) -> None:
    """Every single case sent as a batch of one with the whole tuple as defaults."""
    request = {**case["request"], "evaluations": [{}]}
    response = _ask(todo_server, "/access/v1/evaluations", request, "todo-as-batch")
    assert response.json() == {"evaluations": [{"decision": case["expected"]}]}


@MISSING
@pytest.mark.parametrize("policy", ['permit "everything" when true', 'permit "nothing" when false'])
def test_the_vectors_tell_policies_apart(users: Any, policy: str) -> None:
    """Sanity of the harness: trivial policies must fail some vectors, or passing means nothing."""
    target = AuthZENApp(
        zt_policy.compile(policy), allow_anonymous=True, attribute_provider=users.lookup
    )

    async def decisions() -> list[bool]:
        transport = httpx.ASGITransport(app=target)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as client:
            answers = []
            for case in TODO["evaluation"] + GATEWAY["evaluation"]:
                response = await client.post("/access/v1/evaluation", json=case["request"])
                answers.append(response.json()["decision"] == case["expected"])
            return answers

    matches = asyncio.run(decisions())
    assert len(matches) == 65 and not all(matches)


@MISSING
def test_concurrent_callers_get_their_own_answers(todo_server: str) -> None:
    """200 overlapping requests on a real server: each answer matches its own vector and
    carries its own request id."""
    cases = TODO["evaluation"] * 5

    async def one(client: httpx.AsyncClient, number: int, case: dict[str, Any]) -> bool:
        rid = f"req-{number}"
        response = await client.post(
            "/access/v1/evaluation", json=case["request"], headers={"x-request-id": rid}
        )
        return response.headers["x-request-id"] == rid and response.json() == {
            "decision": case["expected"]
        }

    async def run() -> list[bool]:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(
            base_url=todo_server, headers=AUTH, limits=limits, timeout=30
        ) as client:
            return await asyncio.gather(*(one(client, n, c) for n, c in enumerate(cases)))

    results = asyncio.run(run())
    assert len(results) == 200 and all(results)
