"""A live policy set that can be reloaded, where a bad policy never replaces a good one."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from ._decision import Decision
from ._diagnostics import Diagnostic, PolicyError
from ._limits import Limits
from ._policyset import PolicySet
from ._schema import Schema

PathLike = str | os.PathLike[str]


class PolicyStore:
    """Holds the current `PolicySet` of some policy files and swaps it atomically on `reload()`.

    A reload that fails keeps serving the previous set and returns the diagnostics, so an operator
    pushing a broken file degrades nothing. `decide()` and `may_allow()` delegate to the current
    set, so a store can be handed to any adapter in place of a `PolicySet`.
    """

    def __init__(
        self,
        paths: PathLike | Iterable[PathLike],
        *,
        schema: Schema | None = None,
        cache_size: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._paths: list[PathLike] = (
            [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        )
        self._options: dict[str, Any] = {"schema": schema, "cache_size": cache_size,
                                         "limits": limits}
        self._lock = threading.Lock()
        self.generation = 0
        self.last_error: PolicyError | None = None
        self._current = self._build()  # the first load must succeed: there is nothing to keep

    def _build(self) -> PolicySet:
        from ._build import load

        return load(self._paths, **self._options)

    @property
    def current(self) -> PolicySet:
        return self._current

    def reload(self) -> Sequence[Diagnostic]:
        """Rebuild from the files; on success swap, on failure keep the old set. Returns the
        diagnostics of a failed reload (empty on success)."""
        with self._lock:
            try:
                fresh = self._build()
            except PolicyError as err:
                self.last_error = err
                return err.diagnostics
            self._current = fresh
            self.generation += 1
            self.last_error = None
            return []

    def decide(self, *args: Any, **kwargs: Any) -> Decision:
        return self._current.decide(*args, **kwargs)

    def may_allow(self, *args: Any, **kwargs: Any) -> bool:
        return self._current.may_allow(*args, **kwargs)

    @property
    def reads(self) -> frozenset[str]:
        return self._current.reads
