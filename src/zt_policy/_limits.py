"""Bounds on policy input, so no text can exhaust memory or recursion while building."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """``max_file_bytes`` per policy file; ``max_depth`` of nested parentheses and brackets."""

    max_file_bytes: int = 1_048_576
    max_depth: int = 64
