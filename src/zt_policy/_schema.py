"""The typed schema policies are checked against: one pydantic model per context root."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from ._types import Type, record_type
from .models import Device, Identity, Request, Signals

DEFAULT_ROOTS = ("identity", "device", "request")


class Schema:
    """Context roots and their models. Pass subclasses to add attributes, or extra keyword roots.

    >>> class MyIdentity(Identity):
    ...     department: str | None = None
    >>> Schema(identity=MyIdentity)  # doctest: +ELLIPSIS
    Schema(...)
    """

    def __init__(
        self,
        *,
        identity: type[BaseModel] = Identity,
        device: type[BaseModel] = Device,
        request: type[BaseModel] = Request,
        signals: type[BaseModel] = Signals,
        **roots: type[BaseModel],
    ) -> None:
        models: dict[str, type[BaseModel]] = {
            "identity": identity, "device": device, "request": request, "signals": signals,
            **roots,
        }
        for name, model in models.items():
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"schema root {name!r} must be a pydantic model class, got {model!r}")
            if not name.isidentifier():
                raise ValueError(f"schema root name {name!r} is not an identifier")
        self.models: Mapping[str, type[BaseModel]] = models
        self.roots: Mapping[str, Type] = {n: record_type(m) for n, m in models.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={m.__name__}" for k, m in self.models.items())
        return f"Schema({inner})"


DEFAULT_SCHEMA = Schema()
