"""Lark parse tree -> AST nodes with file spans; string escapes and durations decoded here.

Recursion is bounded: nesting depth is checked before parsing, and `not` chains are capped.
"""

from __future__ import annotations

import re
from typing import Any

from . import _ast as A
from ._diagnostics import Diagnostic, Span


class BuildError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}


class Builder:
    """Lark tree -> AST nodes with file spans. Recursion is bounded by the depth check above."""

    def __init__(self, name: str, line_offset: int, max_depth: int) -> None:
        self.name = name
        self.off = line_offset
        self.max_depth = max_depth

    def span(self, node: Any) -> Span:
        meta = getattr(node, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            return Span(self.name, meta.line + self.off, meta.column,
                        meta.end_line + self.off, meta.end_column)
        return Span(self.name, node.line + self.off, node.column,
                    node.end_line + self.off, node.end_column)

    def string(self, tok: Any) -> str:
        raw = str(tok)[1:-1]
        if "\\" not in raw:
            return raw
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2 : i + 6]):
                out.append(chr(int(raw[i + 2 : i + 6], 16)))
                i += 6
            else:
                sp = self.span(tok)
                col = sp.column + 1 + i
                raise BuildError(Diagnostic(
                    "ZT104", f"invalid escape sequence `\\{nxt}` in string",
                    Span(self.name, sp.line, col, sp.line, col + 2),
                    help='valid escapes are \\" \\\\ \\n \\t \\r \\/ and \\uXXXX',
                ))
        return "".join(out)

    def statement(self, t: Any) -> A.Statement:
        if t.data == "limit_stmt":
            return self.limit(t)
        if t.data == "let_stmt":
            _, name, expr = t.children
            return A.Let(str(name), self.expr(expr), self.span(t), self.span(name))
        effect_tree, id_tok, *clauses = t.children
        when = unless = None
        reason = None
        for c in clauses:
            if c.data == "when_clause":
                when = self.expr(c.children[1])
            elif c.data == "unless_clause":
                unless = self.expr(c.children[1])
            else:
                reason = self.string(c.children[1])
        return A.Policy(str(effect_tree.children[0]), self.string(id_tok), when, unless, reason,
                        self.span(t), self.span(id_tok))

    def limit(self, t: Any) -> A.Limit:
        _, id_tok, amount, _, window, _, *rest = t.children
        keys = []
        when = None
        reason = None
        for c in rest:
            if c.data == "path":
                keys.append(self.expr(c))
            elif c.data == "when_clause":
                when = self.expr(c.children[1])
            else:
                reason = self.string(c.children[1])
        seconds = self.literal(window, self.span(window)).value
        assert isinstance(seconds, int | float)
        return A.Limit(self.string(id_tok), int(str(amount)), seconds, tuple(keys), when, reason,
                       self.span(t), self.span(id_tok), self.span(amount))

    def expr(self, t: Any) -> A.Expr:
        from lark import Token

        if isinstance(t, Token):  # pragma: no cover - the grammar wraps every token
            raise BuildError(Diagnostic("ZT101", f"unexpected `{t}`", self.span(t)))
        kind = t.data
        sp = self.span(t)
        if kind == "or_expr":
            return A.Or(tuple(self.expr(c) for c in t.children if not isinstance(c, Token)), sp)
        if kind == "and_expr":
            return A.And(tuple(self.expr(c) for c in t.children if not isinstance(c, Token)), sp)
        if kind == "negation":
            *nots, operand = t.children
            if len(nots) > self.max_depth:
                raise BuildError(Diagnostic(
                    "ZT111", f"more than {self.max_depth} `not` in a row (max_depth)", sp,
                    help="`not not x` is `x`; remove pairs of `not`"))
            node = self.expr(operand)
            for _ in nots:
                node = A.Not(node, sp)
            return node
        if kind == "binary":
            left, op, right = t.children
            return A.Binary(str(op.children[0]), self.expr(left), self.expr(right), sp)
        if kind == "has":
            target, _, key = t.children
            k = self.string(key) if key.type == "STRING" else str(key)
            return A.Has(self.expr(target), k, sp)
        if kind == "path":
            root, *accessors = t.children
            keys = tuple(str(a.children[0]) if a.data == "dot" else self.string(a.children[0])
                         for a in accessors)
            return A.Path(str(root), keys, sp)
        if kind == "list":
            return A.ListLit(tuple(self.expr(c) for c in t.children if c is not None), sp)
        if kind == "call":
            name, arg = t.children
            return A.Call(str(name), self.string(arg), sp)
        if kind == "literal":
            return self.literal(t.children[0], sp)
        raise BuildError(Diagnostic("ZT101", f"unexpected {kind}", sp))  # pragma: no cover

    def literal(self, tok: Any, sp: Span) -> A.Literal:
        kind = tok.type
        text = str(tok)
        if kind == "STRING":
            return A.Literal(self.string(tok), sp)
        if kind == "INT":
            if len(text.lstrip("-")) > 18:  # beyond 64 bits (and Python's digit limit): refuse
                raise BuildError(Diagnostic("ZT106", f"number {text[:20]}... is too large", sp,
                                            help="numbers are limited to 18 digits"))
            return A.Literal(int(text), sp)
        if kind == "FLOAT":
            return A.Literal(float(text), sp)
        if kind == "DURATION":
            m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text)
            assert m is not None
            n, unit = int(m.group(1)), m.group(2)
            seconds: int | float = n / 1000 if unit == "ms" else n * _UNITS[unit]
            return A.Literal(seconds, sp, "duration")
        return A.Literal(kind == "TRUE", sp)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
