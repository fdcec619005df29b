"""The floor: what a careful engineer would hand-write for this one workload.

A dict from (action, target) to the permit checks of that bucket, and the
global forbids inlined as plain ``if`` statements. It returns a bare bool and
stops at the first matching permit. No general-purpose engine can do less work
per decision in CPython, so zt-policy's cost is reported as a ratio to this
function measured in the same run (which also cancels out machine speed).
"""

from __future__ import annotations

from collections.abc import Callable

from workload import BLOCKED_SUBJECTS, INFERENCE, LOW_POSTURE, TOOLS_CALL, Ctx, Workload

Decide = Callable[[Ctx, Ctx, Ctx], bool]
Check = tuple[str, int, bool, bool]  # group, min posture, needs MFA, needs managed device


def build_floor(wl: Workload) -> Decide:
    """Index the permits once; return the hand-written decision function."""
    index: dict[tuple[object, object], list[Check]] = {}  # (action, tool or model) -> checks
    for p in wl.permits:
        index.setdefault((p.action, p.target), []).append(
            (p.group, p.min_posture, p.need_mfa, p.need_managed)
        )
    lookup = index.get
    blocked = frozenset(BLOCKED_SUBJECTS)

    def decide(identity: Ctx, device: Ctx, request: Ctx) -> bool:
        if identity.get("subject") in blocked:
            return False
        action = request.get("action")
        managed = device.get("managed", False) is True
        posture = device.get("posture", 0)
        if action == TOOLS_CALL:
            if not managed:
                return False
            checks = lookup((action, request.get("tool")))
        elif action == INFERENCE:
            if posture < LOW_POSTURE:
                return False
            checks = lookup((action, request.get("model")))
        else:
            return False
        if not checks:
            return False
        groups = identity.get("groups", ())
        mfa = identity.get("mfa", False) is True
        for group, min_posture, need_mfa, need_managed in checks:
            if (group in groups and posture >= min_posture
                    and (mfa or not need_mfa) and (managed or not need_managed)):
                return True
        return False

    return decide
