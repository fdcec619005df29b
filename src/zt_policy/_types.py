"""Static types of attributes, derived from the pydantic models of a schema."""

from __future__ import annotations

import collections.abc
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .models import IPAddressText


@dataclass(frozen=True, slots=True)
class Type:
    """A static type. ``dyn`` values (inside dynamic maps) are checked at run time instead."""

    kind: str  # str int float bool list map dyn record ip cidr
    elem: Type | None = None
    fields: tuple[tuple[str, FieldInfo], ...] = ()
    name: str = ""

    def field(self, key: str) -> FieldInfo | None:
        for k, f in self.fields:
            if k == key:
                return f
        return None

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list[{self.elem}]"
        if self.kind == "record":
            return self.name or "record"
        if self.kind == "ip":
            return "ip address"
        return {"dyn": "any", "float": "number", "int": "int"}.get(self.kind, self.kind)


@dataclass(frozen=True, slots=True)
class FieldInfo:
    type: Type
    optional: bool  # may be absent or None at run time: reading it unguarded can fail
    default: Any = field(default=None, compare=False)


STR = Type("str")
INT = Type("int")
FLOAT = Type("float")
BOOL = Type("bool")
DYN = Type("dyn")
MAP = Type("map", DYN)
IP = Type("ip")
CIDR = Type("cidr")
NUMERIC = frozenset({"int", "float"})


def is_numeric(t: Type) -> bool:
    return t.kind in NUMERIC or t.kind == "dyn"


def record_type(model: type[BaseModel]) -> Type:
    fields: list[tuple[str, FieldInfo]] = []
    for name, info in model.model_fields.items():
        t, nullable = _from_annotation(info.annotation, info.metadata)
        if info.is_required():
            optional, default = nullable, None
        else:
            default = info.get_default(call_default_factory=True)
            optional = default is None
        if isinstance(default, list | set | frozenset):
            default = tuple(default)
        fields.append((name, FieldInfo(t, optional, default)))
    return Type("record", fields=tuple(fields), name=model.__name__)


def _from_annotation(ann: Any, metadata: list[Any] | None = None) -> tuple[Type, bool]:
    if any(isinstance(m, IPAddressText) for m in metadata or ()):
        return IP, False
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Annotated:
        return _from_annotation(args[0], list(args[1:]))
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        nullable = len(inner) != len(args)
        if len(inner) == 1:
            t, n = _from_annotation(inner[0])
            return t, nullable or n
        return DYN, nullable
    if ann is bool:
        return BOOL, False
    if ann is int:
        return INT, False
    if ann is float:
        return FLOAT, False
    if ann is str:
        return STR, False
    if origin in (list, set, frozenset, tuple) or ann in (list, set, frozenset, tuple):
        elem = _from_annotation(args[0])[0] if args else DYN
        return Type("list", elem), False
    if origin in (dict, collections.abc.Mapping) or ann is dict:
        return MAP, False
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return record_type(ann), False
    return DYN, False
