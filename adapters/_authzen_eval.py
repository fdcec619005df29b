"""Deciding AuthZEN evaluations: the attribute provider (PIP), one decision, and a batch.

Fails closed at every step: an attribute provider that raises or is too slow, a context the core
rejects, or an unexpected exception all give `decision: false`, never an allow and never a 500.
The response `context` never contains policy text or policy ids; the policy author's `reason`
strings are added only when the app opts in (`include_reasons=True`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

import zt_policy

from ._authzen_mapping import (
    BadEvaluation,
    Evaluation,
    build_context,
    merge_defaults,
    parse_evaluation,
)

logger = logging.getLogger("zt_policy.adapters.authzen")

#: `provider(subject_type, subject_id)` -> the subject's attributes, or None when unknown.
#: May be a plain or an async function.
AttributeProvider = Callable[
    [str, str], "Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None"
]

SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")


class ProviderFailed(Exception):
    """The attribute provider raised, timed out or returned something that is not a mapping."""


@dataclass
class Evaluator:
    """Everything needed to decide: the policies, the PIP and what the answers may reveal."""

    policies: zt_policy.PolicySet
    provider: AttributeProvider | None = None
    provider_timeout: float = 5.0
    include_reasons: bool = False

    async def attributes(
        self, key: tuple[str, str], cache: dict[tuple[str, str], Mapping[str, Any] | None]
    ) -> Mapping[str, Any] | None:
        """Look a subject up once per HTTP request (a batch often repeats one subject)."""
        if self.provider is None:
            return None
        if key in cache:
            return cache[key]
        try:
            found = self.provider(*key)
            if inspect.isawaitable(found):
                # Only awaitables can be bounded; a plain provider runs inline (keep it fast).
                with anyio.fail_after(self.provider_timeout):
                    found = await found
        except TimeoutError:
            raise ProviderFailed("attribute provider timed out") from None
        except Exception:
            logger.exception("attribute provider failed for subject type %r", key[0])
            raise ProviderFailed("attribute provider failed") from None
        if found is not None and not isinstance(found, Mapping):
            raise ProviderFailed("attribute provider returned no mapping")
        cache[key] = found
        return found

    def _answer(self, decision: zt_policy.Decision) -> dict[str, Any]:
        answer: dict[str, Any] = {"decision": bool(decision.allowed)}
        if self.include_reasons and decision.reasons:
            # A Reason Object (AuthZEN 1.0): `id` is required and scoped to this response.
            answer["context"] = {"id": "0", "reason_user": {"en": "; ".join(decision.reasons)}}
        return answer

    async def decide(
        self, evaluation: Evaluation, cache: dict[tuple[str, str], Mapping[str, Any] | None]
    ) -> dict[str, Any]:
        """One evaluation -> `{"decision": bool, ...}`; errors become a denial with a reason."""
        try:
            attributes = await self.attributes(evaluation.subject_key, cache)
        except ProviderFailed as exc:
            return denial(503, str(exc))
        try:
            context = build_context(evaluation, attributes)
            decision = self.policies.decide(
                identity=context["identity"], device=context["device"], request=context["request"]
            )
        except Exception:
            logger.exception("deciding an AuthZEN evaluation failed")
            return denial(500, "the decision could not be made")
        if decision.errors:
            logger.debug("evaluation errors: %s", [e.to_dict() for e in decision.errors])
        return self._answer(decision)

    async def decide_batch(
        self, document: Mapping[str, Any], items: list[Any], semantic: str
    ) -> list[dict[str, Any]]:
        """The `evaluations` array, in order, under the chosen short-circuit semantic.

        An item that is not a valid 4-tuple is denied with an error context (status 400) and
        counts as a denial for `deny_on_first_deny`, as the spec's error section describes.
        """
        cache: dict[tuple[str, str], Mapping[str, Any] | None] = {}
        results: list[dict[str, Any]] = []
        for item in items:
            try:
                evaluation = parse_evaluation(merge_defaults(document, item))
            except BadEvaluation as exc:
                result = denial(400, str(exc))
            else:
                result = await self.decide(evaluation, cache)
            results.append(result)
            if semantic == "deny_on_first_deny" and not result["decision"]:
                break
            if semantic == "permit_on_first_permit" and result["decision"]:
                break
        return results


def denial(status: int, message: str) -> dict[str, Any]:
    """A fail-closed per-evaluation answer in the shape of the spec's error example."""
    return {"decision": False, "context": {"error": {"status": status, "message": message}}}


def batch_semantic(options: Any) -> str:
    """`options.evaluations_semantic`, defaulting to execute_all; raises `BadEvaluation`."""
    if options is None:
        return "execute_all"
    if not isinstance(options, dict):
        raise BadEvaluation("`options` must be a JSON object")
    semantic = options.get("evaluations_semantic", "execute_all")
    if semantic not in SEMANTICS:
        raise BadEvaluation("`options.evaluations_semantic` must be one of " + ", ".join(SEMANTICS))
    return str(semantic)
