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
from typing import TYPE_CHECKING

from . import _ast as A
from ._diagnostics import Diagnostic, Span
from ._limits import Limits
from ._parse_errors import syntax_error
from ._parse_tree import Builder, BuildError

if TYPE_CHECKING:
    from lark import Lark

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
        builder = Builder(name, first_line - 1, limits.max_depth)
        try:
            tree = _get_parser().parse(chunk)
        except Exception as exc:  # lark.exceptions.* only; anything else is reported the same way
            diags.append(syntax_error(name, chunk, first_line, exc, _get_parser()))
            continue
        for child in tree.children:
            try:
                statements.append(builder.statement(child))
            except BuildError as err:
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
