"""The reserved words of the language (they cannot be attribute names or `let` names)."""

from __future__ import annotations

KEYWORDS = frozenset(
    ["permit", "forbid", "let", "when", "unless", "reason", "and", "or", "not", "in", "has", "like", "contains", "contains_any", "contains_all", "true", "false",
     "limit", "per", "by"]
)
