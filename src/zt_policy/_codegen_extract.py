"""Generated code that reads a context into the slot tuple (and, in `front`, looks the index up).

Reading validates every schema-typed attribute the policies use, so the conditions can trust
their types; a malformed value denies the whole decision (ZT311) with every problem listed.
"""

from __future__ import annotations

from . import _runtime as R
from ._codegen import Slot, _Gen
from ._types import Type


def slot_kind(s: Slot) -> str:
    """How far a slot's value is pinned down: "typed" (a validated scalar), "list" (a validated
    list of unvalidated elements) or "dyn" (anything). Cache keys must tell `True` from `1`
    wherever the type is not pinned down, since Python's equality does not."""
    if s.has_key is not None:
        return "typed"  # True, False or an interned Absent
    kind = getattr(s.attr.type, "kind", "dyn")
    if not s.attr.typed or kind in ("dyn", "map", "record"):
        return "dyn"
    return "list" if kind == "list" else "typed"


_FAST = {
    "str": "v.__class__ is str",
    "ip": "v.__class__ is str",
    "bool": "v is True or v is False",
    "int": "v.__class__ is int",
    "float": "v.__class__ is int or (v.__class__ is float and v == v)",
    "list": "v.__class__ is list or v.__class__ is tuple",
    "map": "v.__class__ is dict",
    "record": "v.__class__ is dict",
    "dyn": "v is not None",
}


def extractor(gen: _Gen, freeze: bool = True, key_slots: tuple[int, ...] | None = None) -> list[str]:
    """`extract(roots) -> slots | problems`; with ``key_slots``, `front(roots)` instead, which
    also looks the rule index up: `(slots, candidates)`, or `(problems, None)`."""
    params = ", ".join(f"r_{r}" for r in gen.roots)
    front = key_slots is not None
    out = [f"def {'front' if front else 'extract'}({params}):"]
    if not front:
        out.append("    bad = None")
    names = []
    for s, i in sorted(gen.slots.items(), key=lambda kv: kv[1]):
        names.append(f"s{i}")
        # front gives up on the first malformed value and lets `extract` collect them all
        bail = f"return extract({params}), None" if front else None
        out.extend("    " + line for line in read_slot(gen, s, f"s{i}", freeze, bail))
    slots = f"({''.join(n + ', ' for n in names)})"
    if key_slots is None:
        out += ["    if bad is not None:", "        return bad", f"    return {slots}"]
        return out
    if freeze:  # with a cache: `(slots, cache key)`; the index is looked up only on a miss
        sig = []
        for s, i in sorted(gen.slots.items(), key=lambda kv: kv[1]):
            kind = slot_kind(s)
            if kind == "dyn":
                sig.append(f"_dyn_sig(s{i})")
            elif kind == "list":
                sig.append(f"_list_sig(s{i})")
        ck = f"(x, ({''.join(x + ', ' for x in sig)}))" if sig else "x"
        out += [f"    x = {slots}", f"    return x, {ck}"]
        return out
    key = "".join(f"_n{j}.get(s{slot}), " for j, slot in enumerate(key_slots))
    out += [f"    k = ({key})", "    c = _memo_get(k)",
            f"    return {slots}, (c if c is not None else _compute(k))"]
    return out

def read_slot(gen: _Gen, s: Slot, var: str, freeze: bool, bail: str | None = None) -> list[str]:
    """Code reading one slot. A malformed value is added to `bad`, or with ``bail``,
    handled by that statement instead."""
    attr = s.attr
    on_error = [f"    {bail}"] if bail else [
        f"    {var}, bad = _MISSING, [*(bad or ()), str(exc)]"]
    if s.has_key is not None:
        target = gen.const(attr, ("attr", attr))
        return [
            "try:",
            f"    {var} = _presence(_read({target}, {roots_dict(gen)}), "
            f"{s.has_key!r}, {s.defaulted})",
            "except TypeError as exc:",
            *on_error,
        ]
    if len(attr.path) == 2 and attr.typed:
        t = attr.type
        assert isinstance(t, Type)
        default = gen.const(attr.default if attr.default is not None else R.MISSING)
        fast = _FAST.get(t.kind, "False")
        ttype = gen.const(t, ("type", t))
        return [
            f"v = r_{attr.path[0]}.get({attr.path[1]!r})",
            f"if {fast}:",  # the common case first: a value of the right type
            f"    {var} = {'tuple(v)' if t.kind == 'list' and freeze else 'v'}",
            "elif v is None:",
            f"    {var} = {default}",
            "else:",
            *([f"    {var}, b = _check({ttype}, v, {attr.dotted!r}, None)",
               "    if b is not None:", f"        {bail}"] if bail else
              [f"    {var}, bad = _check({ttype}, v, {attr.dotted!r}, bad)"]),
        ]
    target = gen.const(attr, ("attr", attr))
    return [
        "try:",
        f"    {var} = _read({target}, {roots_dict(gen)})",
        "except TypeError as exc:",
        *on_error,
    ]

def roots_dict(gen: _Gen) -> str:
    return "{" + ", ".join(f"{r!r}: r_{r}" for r in gen.roots) + "}"
