"""Deterministic zero-trust workloads shared by every engine in the benchmark.

Why generated and seeded: the comparison is only meaningful when every engine
(zt-policy, the hand-written floor, cedarpy, pycasbin, regorus) sees exactly the
same rules and exactly the same request contexts, and when a rerun on another
machine measures the same thing. The rules are the ``Permit`` records and the
fixed ``FORBIDS`` below; each engine module encodes them in its own language.

The expected answer of every context comes from ``reference_decide``: a
deliberately naive linear scan written straight from the rule records, so that
the indexed floor and every engine are checked against something that shares
none of their tricks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Ctx = dict[str, Any]

TOOLS_CALL = "tools/call"
INFERENCE = "inference"
BLOCKED_SUBJECTS = ("svc-legacy", "intern-42")
LOW_POSTURE = 20  # inference from a device below this posture is forbidden
POSTURE_STEPS = (40, 50, 60, 70, 80)
SIZES = (10, 100, 1000)
SEED = 20240611


@dataclass(frozen=True)
class Permit:
    """One generated permit: who (group) may do what (action, target) from where."""

    id: str
    action: str  # TOOLS_CALL or INFERENCE
    target: str  # tool name for TOOLS_CALL, model name for INFERENCE
    group: str
    min_posture: int  # 0 means "no posture condition"
    need_mfa: bool
    need_managed: bool


# The global forbids, written once in every engine's language (see FORBIDS_ZTP).
FORBIDS_ZTP = f"""\
forbid "unmanaged-tools" when request.action == "{TOOLS_CALL}" and not device.managed
  reason "tool calls need a managed device"
forbid "blocked-subjects" when identity.subject in ["{BLOCKED_SUBJECTS[0]}", "{BLOCKED_SUBJECTS[1]}"]
forbid "low-posture-inference" when request.action == "{INFERENCE}" and device.posture < {LOW_POSTURE}
"""


@dataclass
class Workload:
    """N permits (plus the global forbids) and the contexts to decide on."""

    n: int
    permits: list[Permit]
    contexts: list[Ctx]  # each: {"identity": ..., "device": ..., "request": ...}
    expected: list[bool] = field(default_factory=list)
    text: str = ""

    @property
    def n_groups(self) -> int:
        return max(4, self.n // 10)


def _ztp_permit(p: Permit) -> str:
    target_attr = "tool" if p.action == TOOLS_CALL else "model"
    clauses = [
        f'request.action == "{p.action}"',
        f'request.{target_attr} == "{p.target}"',
        f'"{p.group}" in identity.groups',
    ]
    if p.min_posture:
        clauses.append(f"device.posture >= {p.min_posture}")
    if p.need_mfa:
        clauses.append("identity.mfa")
    if p.need_managed:
        clauses.append("device.managed")
    return f'permit "{p.id}" when ' + " and ".join(clauses)


def to_ztp(permits: list[Permit]) -> str:
    """The workload as .ztp source text (forbids first, then one permit a line)."""
    return FORBIDS_ZTP + "\n".join(_ztp_permit(p) for p in permits) + "\n"


def generate_permits(n: int, rng: random.Random) -> list[Permit]:
    """70% tool permits (posture + usually MFA), 30% model permits (managed device).

    About two permits share each target so that an index bucket holds more than
    one candidate, as in a real deployment where several groups reach one tool.
    """
    n_tools = max(2, n * 7 // 20)
    n_models = max(1, n * 3 // 20)
    n_groups = max(4, n // 10)
    permits: list[Permit] = []
    for i in range(n):
        group = f"group-{rng.randrange(n_groups)}"
        if i % 10 < 7:
            permits.append(Permit(
                id=f"p{i}", action=TOOLS_CALL, target=f"tool-{rng.randrange(n_tools)}",
                group=group, min_posture=rng.choice(POSTURE_STEPS),
                need_mfa=rng.random() < 0.7, need_managed=False,
            ))
        else:
            permits.append(Permit(
                id=f"m{i}", action=INFERENCE, target=f"model-{rng.randrange(n_models)}",
                group=group, min_posture=0, need_mfa=False, need_managed=True,
            ))
    return permits


def forbidden(identity: Ctx, device: Ctx, request: Ctx) -> bool:
    """True when one of the global forbids matches (naive reference)."""
    action = request.get("action")
    if action == TOOLS_CALL and not device.get("managed", False):
        return True
    if identity.get("subject") in BLOCKED_SUBJECTS:
        return True
    return action == INFERENCE and device.get("posture", 0) < LOW_POSTURE


def _permit_matches(p: Permit, identity: Ctx, device: Ctx, request: Ctx) -> bool:
    target_attr = "tool" if p.action == TOOLS_CALL else "model"
    return (
        request.get("action") == p.action
        and request.get(target_attr) == p.target
        and p.group in identity.get("groups", [])
        and device.get("posture", 0) >= p.min_posture
        and (not p.need_mfa or identity.get("mfa", False) is True)
        and (not p.need_managed or device.get("managed", False) is True)
    )


def reference_decide(permits: list[Permit], ctx: Ctx) -> bool:
    """Default deny; any forbid denies; else any permit allows. Linear, obvious."""
    identity, device, request = ctx["identity"], ctx["device"], ctx["request"]
    if forbidden(identity, device, request):
        return False
    return any(_permit_matches(p, identity, device, request) for p in permits)


def _groups(rng: random.Random, n_groups: int, must: str | None, avoid: str | None) -> list[str]:
    picked = {f"group-{rng.randrange(n_groups)}" for _ in range(rng.randint(1, 3))}
    picked.discard(avoid or "")
    if must:
        picked.add(must)
    return sorted(picked) or [f"group-{n_groups + 1}"]  # a group no permit names


def _context(rng: random.Random, wl_permits: list[Permit], n_groups: int) -> Ctx:
    """One context aimed at a permit, then possibly spoiled in one way.

    The spoilers (wrong group, low posture, no MFA, unmanaged device, blocked
    subject, unknown target, other action) give the mix of allowed, denied and
    forbidden answers; the true answer is always computed, never assumed.
    """
    p = rng.choice(wl_permits)
    roll = rng.random()
    subject = f"user-{rng.randrange(5000)}"
    if 0.90 <= roll < 0.95:
        subject = rng.choice(BLOCKED_SUBJECTS)
    groups = _groups(rng, n_groups, None if 0.45 <= roll < 0.55 else p.group,
                     p.group if 0.45 <= roll < 0.55 else None)
    posture = rng.randint(max(p.min_posture, LOW_POSTURE), 100)
    if 0.55 <= roll < 0.62:
        posture = rng.randint(0, max(p.min_posture, LOW_POSTURE) - 1)
    mfa = p.need_mfa or rng.random() < 0.5
    if 0.62 <= roll < 0.68:
        mfa = False
    managed = not (0.80 <= roll < 0.90)
    target = p.target
    if 0.68 <= roll < 0.76:
        target = f"{'tool' if p.action == TOOLS_CALL else 'model'}-unknown-{rng.randrange(99)}"
    action = p.action
    if 0.76 <= roll < 0.80:
        action = rng.choice(("resources/read", "prompts/get", "tools/list"))
    request: Ctx = {"action": action}
    request["tool" if p.action == TOOLS_CALL else "model"] = target
    return {
        "identity": {"subject": subject, "groups": groups, "mfa": mfa, "authenticated": True},
        "device": {"id": f"dev-{rng.randrange(9999)}", "managed": managed, "posture": posture},
        "request": request,
    }


def generate(n: int, n_contexts: int = 256, seed: int = SEED) -> Workload:
    """The workload of ``n`` permits with ``n_contexts`` distinct request contexts."""
    rng = random.Random(seed * 7919 + n)
    permits = generate_permits(n, rng)
    n_groups = max(4, n // 10)
    contexts = [_context(rng, permits, n_groups) for _ in range(n_contexts)]
    wl = Workload(n=n, permits=permits, contexts=contexts, text=to_ztp(permits))
    wl.expected = [reference_decide(permits, c) for c in contexts]
    return wl


def outcome_mix(wl: Workload) -> dict[str, int]:
    """How many contexts are allowed, denied (no permit) and forbidden."""
    mix = {"allowed": 0, "denied": 0, "forbidden": 0}
    for ctx, ok in zip(wl.contexts, wl.expected, strict=True):
        if ok:
            mix["allowed"] += 1
        elif forbidden(ctx["identity"], ctx["device"], ctx["request"]):
            mix["forbidden"] += 1
        else:
            mix["denied"] += 1
    return mix


def _copy(ctx: Ctx) -> Ctx:
    """A new dict tree with the same values."""
    identity = dict(ctx["identity"], groups=list(ctx["identity"]["groups"]))
    return {"identity": identity, "device": dict(ctx["device"]), "request": dict(ctx["request"])}


@dataclass
class Stream:
    """A request stream where most contexts repeat (see ``repeating_stream``)."""

    contexts: list[Ctx]
    fresh: list[int]  # positions of the contexts that must be new in every round

    def refresh(self, round_no: int) -> None:
        """Give the fresh positions subjects never seen before, in place.

        In place, so that preparing a round allocates no containers: building
        thousands of dicts between timed rounds makes the garbage collector scan
        them on the time of whichever engine allocates next.
        """
        for i in self.fresh:
            self.contexts[i]["identity"]["subject"] = f"fresh-{round_no}-{i}"


def repeating_stream(wl: Workload, length: int = 2048, hot: int = 32,
                     fresh_share: float = 0.05) -> Stream:
    """``hot`` popular contexts make up most of the stream; about ``fresh_share`` are new.

    Every element is its own dict (copies, never the same object twice), as when
    a server builds dicts per request: a cache must key on values. The new ones
    get a new subject (an attribute the policies read) at every ``refresh``, so
    they miss a cache even when the stream is replayed; their decisions do not
    change, since no blocked subject is ever renamed.
    """
    rng = random.Random(SEED + length + wl.n)
    hot_set = wl.contexts[:hot]
    cold = [c for c in wl.contexts[hot:] if c["identity"]["subject"] not in BLOCKED_SUBJECTS]
    contexts: list[Ctx] = []
    fresh: list[int] = []
    for i in range(length):
        if rng.random() < fresh_share:
            fresh.append(i)
            contexts.append(_copy(rng.choice(cold)))
        else:
            contexts.append(_copy(rng.choice(hot_set)))
    stream = Stream(contexts, fresh)
    stream.refresh(-1)
    return stream


def triples(contexts: list[Ctx]) -> Iterator[tuple[Ctx, Ctx, Ctx]]:
    """(identity, device, request) per context, the calling shape every engine gets."""
    for c in contexts:
        yield c["identity"], c["device"], c["request"]
