"""A plain tree-walking evaluator: the reference semantics, explanations and partial evaluation.

The generated code is the fast path; this is the slow, obvious one. Property tests hold the two to the
same answers, and explanations walk the tree here because they need to know *which* clause failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from . import _ast as A
from . import _runtime as R
from ._diagnostics import Span
from ._reading import read
from ._values import LikePattern

UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "<unknown>"})()


@lru_cache(maxsize=64)
def _lines(text: str) -> list[str]:
    return text.splitlines()


def span_text(sources: Mapping[str, str], span: Span) -> str:
    """The source text a span covers (joined onto one line), for messages and explanations."""
    lines = _lines(sources.get(span.file, ""))
    if not lines or span.line > len(lines):
        return "?"
    if span.line == span.end_line:
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    first = lines[span.line - 1][span.column - 1 :]
    middle = lines[span.line : span.end_line - 1]
    last = lines[span.end_line - 1][: span.end_column - 1]
    return " ".join(x.strip() for x in (first, *middle, last))


def defaulted(e: A.Has) -> bool:
    """`identity has groups` is always true when the schema gives `groups` a default."""
    t = e.target.type if isinstance(e.target, A.Attr) else None
    f = t.field(e.key) if t is not None and hasattr(t, "field") else None
    return f is not None and f.default is not None


class Interpreter:
    def __init__(
        self,
        lets: Mapping[str, A.Let],
        sources: Mapping[str, str],
        unknown: tuple[str, ...] = (),
        sites: dict[int, tuple[Any, R.Site]] | None = None,
    ) -> None:
        self.lets = lets
        self.sources = sources
        self.unknown = tuple(tuple(u.split(".")) for u in unknown)
        # keyed by node identity (nodes live as long as their policy set); may be shared between
        # interpreters of one policy set, since a node's site never changes
        self._sites: dict[int, tuple[Any, R.Site]] = {} if sites is None else sites
        self._patterns: dict[str, LikePattern] = {}
        self._let_memo: dict[tuple[str, int], tuple[object, R.Fail | None]] = {}

    def site(self, e: Any) -> R.Site:
        found = self._sites.get(id(e))
        if found is None:
            text = e.dotted if isinstance(e, A.Attr) else span_text(self.sources, e.span)
            found = self._sites[id(e)] = (e, R.Site(text, e.span))
        return found[1]

    def node_of(self, site: R.Site) -> Any:
        return next((n for n, s in self._sites.values() if s is site), None)

    def is_unknown(self, attr: A.Attr) -> bool:
        return any(attr.path[: len(u)] == u for u in self.unknown)

    def raw(self, e: A.Attr, roots: Mapping[str, Mapping[str, Any]]) -> object:
        if self.unknown and self.is_unknown(e):
            return UNKNOWN
        return read(e, roots)

    def value(self, e: A.Expr, roots: Mapping[str, Mapping[str, Any]]) -> object:
        """Evaluate; raises `Fail` on an error, may return UNKNOWN in partial mode."""
        if isinstance(e, A.Literal):
            return e.value
        if isinstance(e, A.Attr):
            v = self.raw(e, roots)
            if isinstance(v, R.Absent):
                R.missing(self.site(e), v)
            return v
        if isinstance(e, A.ListLit):
            items = tuple(self.value(i, roots) for i in e.items)
            return UNKNOWN if any(i is UNKNOWN for i in items) else items
        if isinstance(e, A.LetRef):
            return self.let_value(e.name, roots)
        if isinstance(e, A.Not):
            v = self.value(e.operand, roots)
            return UNKNOWN if v is UNKNOWN else not R.truth(v, self.site(e.operand))
        if isinstance(e, A.And | A.Or):
            stop = isinstance(e, A.Or)  # the value that settles the result
            unknown = False
            for item in e.items:
                try:
                    v = self.value(item, roots)
                    if v is UNKNOWN:
                        unknown = True
                    elif R.truth(v, self.site(item)) is stop:
                        return stop
                except R.Fail:
                    if unknown:  # an unknown item before it may settle the result first
                        return UNKNOWN
                    raise
            return UNKNOWN if unknown else not stop
        if isinstance(e, A.Has):
            if isinstance(e.target, A.Attr):
                target = self.raw(e.target, roots)
            else:
                target = self.value(e.target, roots)
            if target is UNKNOWN:
                return UNKNOWN
            return R.has_result(R.presence(target, e.key, defaulted(e)), self.site(e.target))
        if isinstance(e, A.Binary):
            return self.binary(e, roots)
        raise AssertionError(f"unresolved node {e!r}")  # pragma: no cover

    def let_value(self, name: str, roots: Mapping[str, Mapping[str, Any]]) -> object:
        """A `let` is evaluated once per context: lets may share sub-lets without blowing up."""
        key = (name, id(roots))
        found = self._let_memo.get(key)
        if found is None:
            try:
                found = (self.value(self.lets[name].expr, roots), None)
            except R.Fail as f:
                found = (None, f)
            self._let_memo[key] = found
        if found[1] is not None:
            raise found[1]
        return found[0]

    def binary(self, e: A.Binary, roots: Mapping[str, Mapping[str, Any]]) -> object:
        a = self.value(e.left, roots)
        b = self.value(e.right, roots)
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        op, site = e.op, self.site(e)
        if op == "==":
            return R.eq(a, b)
        if op == "!=":
            return not R.eq(a, b)
        if op in ("<", "<=", ">", ">="):
            return R.order(a, b, op, site)
        if op == "in":
            return R.member(a, b, site)
        if op == "contains":
            return R.contains(a, b, site)
        if op == "contains_any":
            return R.contains_any(a, b, site)
        if op == "contains_all":
            return R.contains_all(a, b, site)
        if op == "like":
            assert isinstance(b, str)
            pat = self._patterns.get(b)
            if pat is None:
                pat = self._patterns[b] = LikePattern(b)
            return R.like(a, pat, site)
        raise AssertionError(op)  # pragma: no cover

    def matches(self, p: A.Policy, roots: Mapping[str, Mapping[str, Any]]) -> object:
        """True/False (or UNKNOWN) for `when and not unless`; raises `Fail` on an error."""
        if p.when is not None:
            w = self.value(p.when, roots)
            if w is not UNKNOWN and not R.truth(w, self.site(p.when)):
                return False
        else:
            w = True
        if p.unless is not None:
            try:
                u = self.value(p.unless, roots)
            except R.Fail:
                if w is UNKNOWN:
                    return UNKNOWN
                raise
            if u is UNKNOWN:
                return UNKNOWN
            if R.truth(u, self.site(p.unless)):
                return False
        return w

    def attrs_in(self, e: A.Expr) -> list[A.Attr]:
        out: list[A.Attr] = []
        seen: set[str] = set()
        stack: list[Any] = [e]
        while stack:
            n = stack.pop()
            if isinstance(n, A.Attr):
                out.append(n)
            elif isinstance(n, A.LetRef):
                if n.name not in seen:
                    seen.add(n.name)
                    stack.append(self.lets[n.name].expr)
            elif isinstance(n, A.And | A.Or | A.ListLit):
                stack.extend(reversed(n.items))
            elif isinstance(n, A.Binary):
                stack.extend((n.right, n.left))
            elif isinstance(n, A.Not):
                stack.append(n.operand)
            elif isinstance(n, A.Has):
                stack.append(n.target)
        return out
