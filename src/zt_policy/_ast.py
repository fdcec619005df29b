"""The policy AST: plain immutable data shared by the build side and the explaining interpreter.

Every node keeps its source span so that compile-time diagnostics, run-time errors and explanations
can all point back at the text a person wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._diagnostics import Span

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Literal:
    value: object  # str | int | float | bool | IPv4Address | IPv6Address | IPv4Network | IPv6Network
    span: Span
    kind: str = ""  # "", "duration", "cidr", "ip": how it was written, for messages


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """`cidr("...")` or `ip("...")`; the checker validates the text and folds it into a Literal."""

    name: str
    arg: str
    span: Span


@dataclass(frozen=True, slots=True)
class Path:
    """`root.key.key["key"]`; a bare name with no keys may also be a `let` reference."""

    root: str
    keys: tuple[str, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join((self.root, *self.keys))


@dataclass(frozen=True, slots=True)
class LetRef:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    """Comparison and membership operators: == != < <= > >= in contains contains_any contains_all like."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Has:
    target: Expr
    key: str
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Attr:
    """A checked attribute reference (the checker turns `Path`s into these).

    ``typed_len`` is how many leading path steps are schema fields; steps after it go through a
    dynamic map and are only known at run time. ``optional`` says the value may be absent.
    """

    path: tuple[str, ...]
    span: Span
    type: object = field(compare=False)  # _types.Type
    optional: bool = field(compare=False)
    default: object = field(compare=False)
    typed_len: int = field(compare=False)
    step_types: tuple[object, ...] = field(default=(), compare=False)  # types of the typed steps

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def typed(self) -> bool:
        return self.typed_len == len(self.path)


Expr = Literal | ListLit | Call | Path | LetRef | Binary | Has | Not | And | Or | Attr


@dataclass(frozen=True, slots=True)
class Policy:
    effect: str  # "permit" | "forbid"
    id: str
    when: Expr | None
    unless: Expr | None
    reason: str | None
    span: Span
    id_span: Span


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    expr: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Limit:
    """`limit "id" N per WINDOW by key, ... when ...`: a rate limit applied after a permit."""

    id: str
    amount: int
    window: float  # seconds
    keys: tuple[Expr, ...]
    when: Expr | None
    reason: str | None
    span: Span
    id_span: Span
    amount_span: Span


Statement = Policy | Let | Limit


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A parsed file: its statements plus the text, kept for carets in diagnostics and explanations."""

    name: str
    text: str
    statements: tuple[Statement, ...]

    def line(self, n: int) -> str:
        lines = self.text.splitlines()
        return lines[n - 1] if 0 < n <= len(lines) else ""

