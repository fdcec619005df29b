"""The semantics of every operator at run time, shared by generated code and the interpreter.

Each helper either returns a value or raises `Fail`, which the engine turns into a reported error
that fails closed (a permit does not match, a forbid does). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn, cast

from pydantic import BaseModel

from ._diagnostics import Span
from ._values import IpAddr, IpNet, LikePattern, parse_ip


class Absent:
    """Stands in for a value that could not be read: missing, or under something that is no map.

    Instances are interned (`Absent.of`), so identity is equality and hashing costs nothing on the
    hot path, where MISSING sits in cache and index keys.
    """

    __slots__ = ("detail", "why")
    _interned: ClassVar[dict[tuple[str, str], Absent]] = {}

    def __init__(self, why: str, detail: str = "") -> None:
        self.why = why
        self.detail = detail

    @classmethod
    def of(cls, why: str, detail: str = "") -> Absent:
        found = cls._interned.get((why, detail))
        if found is None:
            found = cls._interned.setdefault((why, detail), cls(why, detail))
        return found

    def __repr__(self) -> str:
        return "<missing>" if self.why == "missing" else f"<not a map: {self.detail}>"


MISSING = Absent.of("missing")


class Site:
    """Where in the policy text an error can arise; kept as a constant of the generated code."""

    __slots__ = ("span", "text")

    def __init__(self, text: str, span: Span) -> None:
        self.text = text
        self.span = span


class Fail(Exception):
    """An evaluation error: carries a stable code, a message and the site it came from."""

    def __init__(self, code: str, message: str, site: Site, help: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.site = site
        self.help = help


def kind(v: object) -> str:
    if v is True or v is False:
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list | tuple | set | frozenset):
        return "list"
    if isinstance(v, Mapping):
        return "map"
    if isinstance(v, IpAddr):
        return "ip"
    if isinstance(v, IpNet):
        return "cidr"
    if isinstance(v, Absent):
        return "missing"
    return type(v).__name__


def missing(site: Site, v: Absent) -> NoReturn:
    if v.why == "missing":
        raise Fail("ZT301", f"`{site.text}` is missing", site,
                   f"guard it: `... has ...` before reading `{site.text}`")
    raise Fail("ZT302", f"cannot read `{site.text}`: {v.detail}", site)


def type_error(site: Site, what: str, v: object) -> NoReturn:
    raise Fail("ZT303", f"`{site.text}`: {what}, got {kind(v)} {_show(v)}", site)


def _show(v: object) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def step(cur: object, key: str) -> object:
    """One step down a dynamic path; never raises, the use site reports what went wrong."""
    if isinstance(cur, Absent):
        return cur
    if isinstance(cur, Mapping):
        v = cur.get(key)
        return MISSING if v is None else v
    if isinstance(cur, BaseModel) and key in type(cur).model_fields:
        v = getattr(cur, key)
        return MISSING if v is None else v
    return Absent.of("notmap", f"it is a {kind(cur)}, not a map")


def truth(v: object, site: Site) -> bool:
    if v is True or v is False:
        return v
    if isinstance(v, Absent):
        missing(site, v)
    type_error(site, "a condition must be true or false", v)


def eq(a: object, b: object) -> bool:
    """Equality without coercion: values of different kinds are never equal (`1 == true` is false)."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        if isinstance(a, IpAddr) and isinstance(b, str):
            return parse_ip(b) == (a.version, a.value)
        if isinstance(b, IpAddr) and isinstance(a, str):
            return parse_ip(a) == (b.version, b.value)
        return False
    if ka == "list":
        la, lb = list(a), list(b)  # type: ignore[call-overload]
        return len(la) == len(lb) and all(eq(x, y) for x, y in zip(la, lb, strict=False))
    if ka == "map":
        ma, mb = a, b
        assert isinstance(ma, Mapping) and isinstance(mb, Mapping)
        return ma.keys() == mb.keys() and all(eq(ma[k], mb[k]) for k in ma)
    return a == b


def member(x: object, coll: object, site: Site) -> bool:
    if isinstance(coll, IpNet):
        return in_net(x, coll, site)
    if not isinstance(coll, list | tuple | set | frozenset):
        type_error(site, "`in` needs a list on its right", coll)
    for e in coll:
        if isinstance(e, IpNet):
            if isinstance(x, str | IpAddr) and in_net(x, e, site):
                return True
        elif eq(x, e):
            return True
    return False


def in_net(x: object, net: IpNet, site: Site) -> bool:
    if isinstance(x, IpAddr):
        return x.version == net.version and net.lo <= x.value <= net.hi
    if not isinstance(x, str):
        type_error(site, "`in cidr(...)` needs an ip address", x)
    parsed = parse_ip(x)
    if parsed is None:
        raise Fail("ZT304", f"`{site.text}`: {x[:60]!r} is not an IP address", site)
    return parsed in net


def contains(a: object, b: object, site: Site) -> bool:
    if isinstance(a, str):
        if not isinstance(b, str):
            type_error(site, "`contains` on a string needs a string", b)
        return b in a
    if isinstance(a, list | tuple | set | frozenset):
        return any(eq(e, b) for e in a)
    type_error(site, "`contains` needs a list or a string", a)


def contains_any(a: object, b: object, site: Site) -> bool:
    la, lb = _lists(a, b, site, "contains_any")
    return any(eq(x, y) for y in lb for x in la)


def contains_all(a: object, b: object, site: Site) -> bool:
    la, lb = _lists(a, b, site, "contains_all")
    return all(any(eq(x, y) for x in la) for y in lb)


def _lists(a: object, b: object, site: Site, op: str) -> tuple[Any, Any]:
    for v in (a, b):
        if not isinstance(v, list | tuple | set | frozenset):
            type_error(site, f"`{op}` needs lists on both sides", v)
    return a, b


def like(s: object, pattern: LikePattern, site: Site) -> bool:
    if not isinstance(s, str):
        type_error(site, "`like` matches strings", s)
    return pattern.match(s)


def _num(v: object) -> bool:
    """A number that can be ordered: not a bool, and not NaN (every comparison with NaN is false,
    which would quietly switch off a `forbid ... when x > N`)."""
    return isinstance(v, int | float) and v is not True and v is not False and v == v


def order(a: object, b: object, op: str, site: Site) -> bool:
    for v in (a, b):
        if not _num(v):
            nan = " and NaN orders nothing" if isinstance(v, float) else ""
            type_error(site, f"`{op}` compares numbers{nan}", v)
    x, y = cast(float, a), cast(float, b)
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def presence(target: object, key: str, defaulted: bool) -> object:
    """Whether `target has key`: True/False, or the Absent that makes the question unanswerable.

    ``defaulted`` is set when the schema gives the attribute a default, so it always has a value.
    """
    if isinstance(target, Absent):
        return target
    if isinstance(target, Mapping):
        return defaulted or target.get(key) is not None
    if isinstance(target, BaseModel):
        return defaulted or getattr(target, key, None) is not None
    return Absent.of("notmap", f"it is a {kind(target)}, not a map")


def has_result(p: object, site: Site) -> bool:
    if p is True or p is False:
        return p
    assert isinstance(p, Absent)
    missing(site, p)


_UNHASHABLE: list[object] = []  # in a cache key, makes the key unhashable: the cache is bypassed


def dyn_sig(v: object) -> object:
    """The part of a cache key that tells a dynamic value's type (Python says `True == 1`)."""
    cls = v.__class__
    return _UNHASHABLE if cls is tuple or cls is frozenset else cls


def list_sig(v: object) -> object:
    """For a typed list, whose elements are not validated: None when all are strings (the
    usual case, checked at C speed), else the element types."""
    try:
        "".join(v)  # type: ignore[arg-type]
    except TypeError:
        return tuple(dyn_sig(e) for e in v) if isinstance(v, tuple) else _UNHASHABLE
    return None
