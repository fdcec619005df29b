"""Size of a condition with its `let`s expanded, computed in linear time."""

from __future__ import annotations

from collections.abc import Mapping

from . import _ast as A


def expanded_size(e: A.Expr | None, lets: Mapping[str, A.Let], memo: dict[str, int]) -> int:
    """Node count with lets expanded (memoised per let, so it is computed in linear time)."""
    if e is None:
        return 0
    if isinstance(e, A.LetRef):
        if e.name not in memo:
            memo[e.name] = 0  # cycles are refused by the checker; this only guards recursion
            let = lets.get(e.name)  # absent while a cycle is being reported
            memo[e.name] = expanded_size(let.expr, lets, memo) if let is not None else 1
        return memo[e.name]
    if isinstance(e, A.And | A.Or | A.ListLit):
        return 1 + sum(expanded_size(i, lets, memo) for i in e.items)
    if isinstance(e, A.Binary):
        return 1 + expanded_size(e.left, lets, memo) + expanded_size(e.right, lets, memo)
    if isinstance(e, A.Not):
        return 1 + expanded_size(e.operand, lets, memo)
    if isinstance(e, A.Has):
        return 1 + expanded_size(e.target, lets, memo)
    return 1
