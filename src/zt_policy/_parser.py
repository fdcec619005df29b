"""Policy text -> AST, with every syntax problem reported (not only the first).

Lark's LALR parser is built once per process on first use (never ``cache=True``: that unpickles from
a shared temp path). To report all syntax errors without cascades, a file is cut into chunks at lines
that begin with a statement keyword, which cannot occur inside a string or an expression, and each
chunk is parsed on its own: one error per broken statement, the rest of the file still checked.
"""

from __future__ import annotations

import re
import threading
from importlib import resources
from typing import TYPE_CHECKING, Any

from . import _ast as A
from ._diagnostics import Diagnostic, Span
from ._limits import Limits

if TYPE_CHECKING:
    from lark import Lark

KEYWORDS = frozenset(
    ["permit", "forbid", "let", "when", "unless", "reason", "and", "or", "not", "in", "has", "like", "contains", "contains_any", "contains_all", "true", "false",
     "limit", "per", "by"]
)
_STATEMENT_START = re.compile(r"^[ \t]*(permit|forbid|let|limit)\b")


_lock = threading.Lock()
_parser: Lark | None = None


def _get_parser() -> Lark:
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                from lark import Lark

                grammar = resources.files(__package__).joinpath("grammar.lark").read_text("utf-8")
                _parser = Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True)
    return _parser


def decode(name: str, data: bytes, limits: Limits) -> tuple[str | None, list[Diagnostic]]:
    """Bytes -> text, refusing oversized and non-UTF-8 input with a position."""
    if len(data) > limits.max_file_bytes:
        return None, [_too_large(name, len(data), limits)]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        span = Span(name, line, col, line, col + 1)
        return None, [
            Diagnostic(
                "ZT112",
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                span,
                help="policy files are UTF-8 text; is this a binary file?",
            )
        ]


def _too_large(name: str, size: int, limits: Limits) -> Diagnostic:
    return Diagnostic(
        "ZT110",
        f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes (max_file_bytes)",
        Span(name, 1, 1, 1, 2),
        help="split the policies into several files, or raise Limits(max_file_bytes=...)",
    )


def parse(name: str, text: str, limits: Limits | None = None) -> tuple[A.SourceFile, list[Diagnostic]]:
    limits = limits or Limits()
    lines = text.splitlines(keepends=True)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_file_bytes:
        return A.SourceFile(name, "", ()), [_too_large(name, size, limits)]
    statements: list[A.Statement] = []
    diags: list[Diagnostic] = []
    for first_line, chunk in _chunks(lines):
        depth_diag = _check_depth(name, chunk, first_line, limits)
        if depth_diag is not None:
            diags.append(depth_diag)
            continue
        builder = _Builder(name, first_line - 1, limits.max_depth)
        try:
            tree = _get_parser().parse(chunk)
        except Exception as exc:  # lark.exceptions.* only; anything else is reported the same way
            diags.append(_syntax_error(name, chunk, first_line, exc))
            continue
        for child in tree.children:
            try:
                statements.append(builder.statement(child))
            except _BuildError as err:
                diags.append(err.diagnostic)
    source = A.SourceFile(name, text, tuple(statements))
    return source, [_with_line(d, lines) for d in diags]


def _with_line(d: Diagnostic, lines: list[str]) -> Diagnostic:
    if d.span is None or not 0 < d.span.line <= len(lines):
        return d
    return Diagnostic(d.code, d.message, d.span, d.help, lines[d.span.line - 1])


def _chunks(lines: list[str]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    start = 0
    for i, line in enumerate(lines):
        if i > start and _STATEMENT_START.match(line):
            out.append((start + 1, "".join(lines[start:i])))
            start = i
    if start < len(lines):
        out.append((start + 1, "".join(lines[start:])))
    return out


def _check_depth(name: str, chunk: str, first_line: int, limits: Limits) -> Diagnostic | None:
    """Refuse deep nesting before parsing, so that no later recursive pass can overflow."""
    depth = 0
    line, col = first_line, 0
    in_str = in_comment = escaped = False
    for ch in chunk:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            in_comment = in_str = False
            continue
        if in_comment:
            continue
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
            continue
        if ch == "#":
            in_comment = True
        elif ch == '"':
            in_str = True
        elif ch in "([":
            depth += 1
            if depth > limits.max_depth:
                return Diagnostic(
                    "ZT111",
                    f"expression nested more than {limits.max_depth} levels deep (max_depth)",
                    Span(name, line, col, line, col + 1),
                    help="flatten the expression with `let` conditions, or raise Limits(max_depth=...)",
                )
        elif ch in ")]":
            depth = max(depth - 1, 0)
    return None


_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "DURATION": "a duration",
    "RELOP": "a comparison (`==`, `<`, ...)",
    "$END": "end of input",
}


def _describe(term: str) -> str:
    if term in _TOKEN_NAMES:
        return _TOKEN_NAMES[term]
    try:
        pattern = _get_parser().get_terminal(term).pattern
    except KeyError:
        return term.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else term.lower()


def _syntax_error(name: str, chunk: str, first_line: int, exc: Exception) -> Diagnostic:
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    def span_at(line: int, col: int, width: int = 1) -> Span:
        return Span(name, first_line + line - 1, col, first_line + line - 1, col + width)

    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = chunk[pos] if pos < len(chunk) else ""
        span = span_at(exc.line, exc.column)
        if ch == '"':
            return Diagnostic("ZT102", "unterminated string", span,
                              help='close the string with `"` on the same line')
        hint = {
            "'": 'strings use double quotes: "like this"',
            "&": "use `and` to combine conditions",
            "|": "use `or` for alternatives",
            "!": "use `not` to negate a condition, `!=` to compare",
            "=": "use `==` to compare",
        }.get(ch, "remove it, or put it inside a string")
        return Diagnostic("ZT100", f"unexpected character {ch!r}", span, help=hint)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = sorted({_describe(t) for t in exc.expected})
        if tok.type == "$END":
            last = chunk.rstrip().splitlines() or [""]
            line = len(last)
            span = span_at(line, len(last[-1]) + 1)
            return Diagnostic("ZT103", "unexpected end of input, expected "
                              + _summary(expected), span, help=_help_for_end(expected))
        width = len(str(tok.value)) or 1
        span = span_at(tok.line or 1, tok.column or 1, width)
        value = str(tok.value)
        if value in KEYWORDS and "a name" in expected:
            return Diagnostic(
                "ZT105", f"`{value}` is a reserved keyword and cannot be used as a name", span,
                help=f'write a map key that is a keyword as a string: `request.arguments["{value}"]`',
            )
        return Diagnostic("ZT101", f"unexpected `{value}`, expected " + _summary(expected), span,
                          help=_help_for(value, tok.type, expected))
    return Diagnostic("ZT101", f"cannot parse: {exc}", Span(name, first_line, 1, first_line, 2))


def _summary(expected: list[str]) -> str:
    """Long LALR expectation sets read as noise; say what kind of thing may come instead."""
    if len(expected) <= 6:
        return _one_of(expected)
    if "a comparison (`==`, `<`, ...)" in expected:
        return "an operator (`==`, `in`, `like`, ...), `and`, `or`, or the end of the statement"
    if "a name" in expected and "a string" in expected:
        return "a value: an attribute, a string, a number, a list, `true` or `false`"
    return _one_of(expected[:6]) + ", ..."


def _one_of(expected: list[str]) -> str:
    return expected[0] if len(expected) == 1 else "one of " + ", ".join(expected)


def _help_for(value: str, kind: str, expected: list[str]) -> str | None:
    if value == "=":
        return "use `==` to compare"
    if "a string" in expected and kind == "NAME" and len(expected) == 1:
        return f'policy ids and reasons are strings: write "{value}"'
    if value in ("&&", "||"):
        return "use `and` / `or`"
    if "`when`" in expected or "`unless`" in expected:
        return "a policy reads: permit \"id\" when <condition> unless <condition> reason \"...\""
    return None


def _help_for_end(expected: list[str]) -> str | None:
    if "a name" in expected or "a string" in expected:
        return "the statement stops before it is complete"
    return None


class _BuildError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}


class _Builder:
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
                raise _BuildError(Diagnostic(
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
            raise _BuildError(Diagnostic("ZT101", f"unexpected `{t}`", self.span(t)))
        kind = t.data
        sp = self.span(t)
        if kind == "or_expr":
            return A.Or(tuple(self.expr(c) for c in t.children if not isinstance(c, Token)), sp)
        if kind == "and_expr":
            return A.And(tuple(self.expr(c) for c in t.children if not isinstance(c, Token)), sp)
        if kind == "negation":
            *nots, operand = t.children
            if len(nots) > self.max_depth:
                raise _BuildError(Diagnostic(
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
        raise _BuildError(Diagnostic("ZT101", f"unexpected {kind}", sp))  # pragma: no cover

    def literal(self, tok: Any, sp: Span) -> A.Literal:
        kind = tok.type
        text = str(tok)
        if kind == "STRING":
            return A.Literal(self.string(tok), sp)
        if kind == "INT":
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
