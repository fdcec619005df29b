"""The build side: parse -> check -> index -> generate, producing an immutable `PolicySet`.

A build either succeeds completely or raises `PolicyError` with every diagnostic; there is no
half-built policy set, so a bad policy can never replace a good one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from . import _ast as A
from ._checker import Checker
from ._codegen_extract import slot_kind
from ._codegen_module import finish, key_function, prepare
from ._diagnostics import Diagnostic, PolicyError, Span
from ._index import Index
from ._indexer import plan
from ._limits import Limits
from ._parser import decode, parse
from ._policyset import PolicySet
from ._schema import DEFAULT_SCHEMA, Schema

DEFAULT_CACHE_SIZE = 4096


def _never(x: tuple[object, ...]) -> tuple[int, ...]:
    return ()


def compile_sources(
    texts: Iterable[tuple[str, str]],
    *,
    schema: Schema | None = None,
    cache_size: int | None = None,
    limits: Limits | None = None,
) -> PolicySet:
    schema = schema or DEFAULT_SCHEMA
    files: list[A.SourceFile] = []
    diags: list[Diagnostic] = []
    for name, text in texts:
        f, d = parse(name, text, limits)
        files.append(f)
        diags.extend(d)
    checked = Checker(schema).check(files)
    lines = {f.name: f.text.splitlines() for f in files}
    for c in checked.diagnostics:
        src = None
        if c.span is not None and 0 < c.span.line <= len(lines.get(c.span.file, [])):
            src = lines[c.span.file][c.span.line - 1]
        diags.append(Diagnostic(c.code, c.message, c.span, c.help, src))
    if diags:
        raise PolicyError(diags)
    sources = {f.name: f.text for f in files}
    roots = tuple(schema.roots)
    prep = prepare(checked.policies, checked.lets, sources, roots, checked.limits)
    slot_of = {s: i for i, s in enumerate(prep.slots)}
    iplan = plan(checked.policies, checked.lets, slot_of)
    probe = Index(iplan.key_slots, iplan.known, iplan.keys, iplan.forbid,
                  [_never] * len(checked.policies))
    size = DEFAULT_CACHE_SIZE if cache_size is None else cache_size
    if cache_size is None and not _worth_caching(checked.policies, checked.lets, probe):
        size = 0
    if cache_size is None and checked.limits:
        size = DEFAULT_CACHE_SIZE  # an allowed decision with limits builds its hits: worth keeping
    if cache_size is None and any(s.attr.path[0] == "signals" for s in prep.slots):
        size = 0  # signals change with every request: a cache would only churn
    index = Index(iplan.key_slots, iplan.known, iplan.keys, iplan.forbid, [])
    gen = finish(prep, iplan.residual_whens, freeze=size > 0, index=index,
                 buckets=index.buckets(iplan.safe))
    index.set_conditions(gen.conditions, gen.residuals, gen.fused)
    index.key_fn = key_function(index.key_slots, index.normalizers)
    return PolicySet(
        policies=checked.policies,
        lets=checked.lets,
        sources=sources,
        roots=roots,
        args=gen.args,
        limits=[(lim, cond, keys) for lim, (cond, keys) in zip(checked.limits, gen.limits,
                                                                strict=True)],
        extract=gen.extract,
        front=gen.front,
        conditions=gen.conditions,
        slot_names=[s.name for s in gen.slots],
        slot_paths=[s.attr.path for s in gen.slots],
        slot_kinds=[slot_kind(s) for s in gen.slots],
        index=index,
        cache_size=size,
        source=gen.source,
    )


# Measured on the 2-core reference machine (benchmarks/): a cache hit costs about as much as
# evaluating ~25 simple condition nodes (building the key is shared by both paths, the LRU lookup
# under its lock is not). Below that, deciding again is cheaper than remembering.
CACHE_WORTH_NODES = 25


def _worth_caching(policies: list[A.Policy], lets: dict[str, A.Let], index: Index) -> bool:
    """Whether the decision cache pays for itself: the worst candidate set must cost more to
    evaluate than a cache lookup."""
    memo: dict[str, int] = {}
    costs = [_cost(p.when, lets, memo) + _cost(p.unless, lets, memo) for p in policies]
    worst = index.worst_candidates()
    return sum(costs[i] for i in worst) > CACHE_WORTH_NODES


_HEAVY = {"like": 3, "contains": 2, "contains_any": 3, "contains_all": 3}


def _cost(e: A.Expr | None, lets: dict[str, A.Let], memo: dict[str, int]) -> int:
    if e is None:
        return 0
    if isinstance(e, A.LetRef):
        if e.name not in memo:
            memo[e.name] = _cost(lets[e.name].expr, lets, memo)
        return memo[e.name]
    if isinstance(e, A.And | A.Or):
        return sum(_cost(i, lets, memo) for i in e.items)
    if isinstance(e, A.Not):
        return 1 + _cost(e.operand, lets, memo)
    if isinstance(e, A.Binary):
        heavy = _HEAVY.get(e.op, 1)
        if e.op == "in" and isinstance(e.right, A.Literal):  # cidr
            heavy = 3
        return heavy + _cost(e.left, lets, memo) + _cost(e.right, lets, memo)
    if isinstance(e, A.Attr):
        return 1 if e.typed else 2
    if isinstance(e, A.Has):
        return 2
    return 0


def compile(
    text: str,
    *,
    filename: str = "<string>",
    schema: Schema | None = None,
    cache_size: int | None = None,
    limits: Limits | None = None,
) -> PolicySet:
    """Build a policy set from policy text."""
    if not isinstance(text, str):
        raise TypeError(f"policy text must be str, got {type(text).__name__}")
    return compile_sources([(filename, text)], schema=schema, cache_size=cache_size, limits=limits)


def load(
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    schema: Schema | None = None,
    cache_size: int | None = None,
    limits: Limits | None = None,
) -> PolicySet:
    """Build a policy set from a .ztp file, a directory of them (recursively), or several paths."""
    limits = limits or Limits()
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    files: list[Path] = []
    diags: list[Diagnostic] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.rglob("*.ztp")))
        elif p.exists():
            files.append(p)
        else:
            diags.append(Diagnostic("ZT113", f"no such file or directory: {p}", None,
                                    "pass a .ztp file or a directory containing .ztp files"))
    texts: list[tuple[str, str]] = []
    for f in files:
        try:
            size = f.stat().st_size
            if size > limits.max_file_bytes:
                diags.append(Diagnostic(
                    "ZT110", f"file is {size} bytes, over the limit of {limits.max_file_bytes} "
                    "bytes (max_file_bytes)", Span(str(f), 1, 1, 1, 2),
                    "split the policies into several files, or raise Limits(max_file_bytes=...)"))
                continue
            data = f.read_bytes()
        except OSError as exc:
            diags.append(Diagnostic("ZT113", f"cannot read {f}: {exc.strerror or exc}", None))
            continue
        text, d = decode(str(f), data, limits)
        diags.extend(d)
        if text is not None:
            texts.append((str(f), text))
    if not files and not diags:
        diags.append(Diagnostic("ZT113", f"no .ztp files found in {', '.join(map(str, paths))}",
                                None, "policy files end in .ztp"))
    if diags:
        try:
            compile_sources(texts, schema=schema, cache_size=cache_size, limits=limits)
        except PolicyError as more:
            diags.extend(more.diagnostics)
        raise PolicyError(diags)
    return compile_sources(texts, schema=schema, cache_size=cache_size, limits=limits)
