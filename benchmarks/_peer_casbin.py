"""pycasbin encoding of the workload, used the way pycasbin recommends for speed.

- ``FastEnforcer`` with ``cache_key_order=[0, 1]``: casbin's docs list it as the
  enforcer for large policy sets (rules indexed by their leading fields, here the action
  and the tool/model), instead of scanning every rule per ``enforce()``.
- ABAC matcher (casbin's documented way to test attributes of the request subject):
  one policy row per permit ``p = act, obj, grp, posture, mfa, managed``; the subject
  (identity) and device are passed as dicts and read as ``r.sub.groups`` etc.
- The global forbids are written into the matcher: casbin's deny-override effect only
  sees rows of the filtered bucket, so global deny rows would be filtered away.
- Policy values are strings, so the posture threshold goes through a registered matcher
  function (``add_function``), casbin's extension point for that.
"""

from __future__ import annotations

from typing import Any

import casbin
from casbin.model import FastModel
from casbin.persist.adapters.string_adapter import StringAdapter
from workload import BLOCKED_SUBJECTS, INFERENCE, LOW_POSTURE, TOOLS_CALL, Ctx, Workload

MODEL = f"""
[request_definition]
r = act, obj, sub, dev

[policy_definition]
p = act, obj, grp, posture, mfa, managed

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && r.obj == p.obj \
&& !(r.act == "{TOOLS_CALL}" && !r.dev.managed) \
&& !(r.sub.subject in ("{BLOCKED_SUBJECTS[0]}", "{BLOCKED_SUBJECTS[1]}")) \
&& !(r.act == "{INFERENCE}" && r.dev.posture < {LOW_POSTURE}) \
&& p.grp in r.sub.groups && at_least(r.dev.posture, p.posture) \
&& (p.mfa == "0" || r.sub.mfa) && (p.managed == "0" || r.dev.managed)
"""


def encode(wl: Workload) -> str:
    """The workload as casbin policy lines (CSV)."""
    return "\n".join(
        f"p, {p.action}, {p.target}, {p.group}, {p.min_posture}, {int(p.need_mfa)}, "
        f"{int(p.need_managed)}"
        for p in wl.permits
    )


def _at_least(value: Any, threshold: str) -> bool:
    return isinstance(value, int) and value >= int(threshold)


def prepare(rows: str) -> Any:
    """Load model and rows into an indexed FastEnforcer (the once-only step)."""
    model = FastModel([0, 1])
    model.load_model_from_text(MODEL.replace("\\\n", ""))
    enforcer = casbin.FastEnforcer(model, StringAdapter(rows), cache_key_order=[0, 1])
    enforcer.add_function("at_least", _at_least)
    return enforcer


def build(wl: Workload) -> Any:
    """Return decide(identity, device, request) -> bool over a prepared enforcer."""
    enforce = prepare(encode(wl)).enforce

    def decide(identity: Ctx, device: Ctx, request: Ctx) -> bool:
        action = request.get("action") or ""
        obj = request.get("tool" if action == TOOLS_CALL else "model") or ""
        sub = {"subject": identity.get("subject") or "",
               "groups": list(identity.get("groups", ())),
               "mfa": identity.get("mfa", False) is True}
        dev = {"managed": device.get("managed", False) is True,
               "posture": device.get("posture", 0)}
        return bool(enforce(action, obj, sub, dev))

    return decide
