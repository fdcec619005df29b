"""Reading attributes out of a context, with schema defaults and up-front type validation.

A value of the wrong type in a schema-typed attribute the policies read makes the whole decision
deny (ZT311): the caller handed over a malformed context, and no policy can be trusted to mean
anything on it. Values inside dynamic maps are checked later, by the operator that uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from . import _ast as A
from ._runtime import MISSING, Absent, kind, step
from ._types import Type


def root_mapping(name: str, value: object) -> Mapping[str, Any] | str:
    """A root as a mapping, or a message saying why it cannot be one."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        if value.__class__ is dict:
            return value
        try:
            return dict(value)
        except Exception as exc:  # a caller's mapping that cannot be read: refuse, never raise
            return f"context root `{name}` could not be read: {type(exc).__name__}: {exc}"
    if isinstance(value, BaseModel):
        return dict(value.__dict__)
    return f"context root `{name}` must be a mapping or a pydantic model, got {type(value).__name__}"


def check_type(t: Type, v: object) -> object:
    """The value in canonical form (lists as tuples, addresses as text), or raise TypeError."""
    k = t.kind
    if k == "str":
        if isinstance(v, str):
            return v if v.__class__ is str else str(v)
    elif k == "bool":
        if v is True or v is False:
            return v
    elif k == "int":
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    elif k == "float":
        if isinstance(v, int | float) and not isinstance(v, bool) and v == v:  # NaN orders nothing
            return v
    elif k == "list":
        if isinstance(v, list | tuple | set | frozenset):
            return tuple(v)
    elif k == "ip":
        if isinstance(v, str):
            return v
        if type(v).__module__ == "ipaddress":
            return str(v)
    elif k in ("map", "record"):
        if isinstance(v, Mapping | BaseModel):
            return v
    else:
        return v
    raise TypeError(f"`{{path}}` must be {_expect(t)}, got {kind(v)}")


def _expect(t: Type) -> str:
    return {"str": "a string", "bool": "true or false", "int": "an integer", "float": "a number",
            "list": f"a list ({t})", "ip": "an ip address string", "map": "a map",
            "record": "a mapping"}.get(t.kind, str(t))


def read(attr: A.Attr, roots: Mapping[str, Mapping[str, Any]]) -> object:
    """Value of `attr` (or an Absent); raises TypeError for a malformed typed value."""
    fields = attr.step_types
    cur: object = roots[attr.path[0]]
    for i, key in enumerate(attr.path[1:]):
        if i + 1 < attr.typed_len:
            if isinstance(cur, Absent):
                return cur
            v = cur.get(key) if isinstance(cur, Mapping) else getattr(cur, key, None)
            t = fields[i]
            assert isinstance(t, Type)
            if v is None:
                default = attr.default if i + 2 == attr.typed_len else None
                cur = MISSING if default is None else default
                continue
            try:
                cur = check_type(t, v)
            except TypeError as exc:
                raise TypeError(str(exc).replace("{path}", ".".join(attr.path[: i + 2]))) from None
        else:
            cur = step(cur, key)
    return cur
