"""Compile-time diagnostics as data.

Errors are values with stable codes so tools, tests and users can match on them; the human rendering
(file:line:col, the source line, a caret, a help hint) is derived from the value, never the other way.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A source range; lines and columns are 1-based, offsets 0-based into the file text."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found while building a policy set.

    ``code`` is stable across releases (ZT1xx syntax, ZT2xx schema and types); ``message`` and ``help``
    are for people and may be reworded.
    """

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    source_line: str | None = field(default=None, compare=False)

    @property
    def file(self) -> str | None:
        return self.span.file if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def render(self) -> str:
        """Render in the style of rustc/Cedar: header, location, source line, caret, help."""
        out = [f"error[{self.code}]: {self.message}"]
        if self.span is not None:
            out.append(f"  --> {self.span}")
            if self.source_line is not None:
                num = str(self.span.line)
                pad = " " * len(num)
                text = self.source_line.rstrip("\r\n").expandtabs(1)
                start = max(self.span.column - 1, 0)
                if self.span.end_line == self.span.line:
                    width = max(self.span.end_column - self.span.column, 1)
                else:
                    width = max(len(text) - start, 1)
                out.append(f" {pad} |")
                out.append(f" {num} | {text}")
                out.append(f" {pad} | {' ' * start}{'^' * width}")
        if self.help:
            out.append(f"  help: {self.help}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "help": self.help,
        }


class PolicyError(Exception):
    """Raised when policy text cannot be built; carries every diagnostic found, not only the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = sorted(
            diagnostics,
            key=lambda d: (d.file or "", d.line or 0, d.column or 0, d.code),
        )
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.diagnostics)
        body = "\n\n".join(d.render() for d in self.diagnostics)
        return f"{body}\n\n{n} error{'s' if n != 1 else ''} found"

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]
