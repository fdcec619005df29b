"""Lark's parse errors turned into diagnostics people can act on.

LALR expectation sets are long and read as noise; these messages say what kind of thing may come
instead, and the hints name the usual slips (`=` for `==`, single quotes, keywords as names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._diagnostics import Diagnostic, Span
from ._keywords import KEYWORDS

if TYPE_CHECKING:
    from lark import Lark


_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "DURATION": "a duration",
    "RELOP": "a comparison (`==`, `<`, ...)",
    "$END": "end of input",
}


def _describe(term: str, parser: Lark) -> str:
    if term in _TOKEN_NAMES:
        return _TOKEN_NAMES[term]
    try:
        pattern = parser.get_terminal(term).pattern
    except KeyError:
        return term.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else term.lower()


def syntax_error(
    name: str, chunk: str, first_line: int, exc: Exception, parser: Lark
) -> Diagnostic:
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
        expected = sorted({_describe(t, parser) for t in exc.expected})
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
