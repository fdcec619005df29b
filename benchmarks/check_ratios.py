"""Check zt-policy's performance targets as *ratios* measured in one run; print the table.

Usage (what CI runs; the pytest run also applies the same checks by itself):

    python -m pytest benchmarks/ --benchmark-only --benchmark-json=bench.json
    python benchmarks/check_ratios.py bench.json            # exit 1 if a gated target is missed
    python benchmarks/check_ratios.py bench.json --markdown  # the tables only
    python benchmarks/check_ratios.py bench.json --update-docs docs/benchmarks.md

Why ratios: absolute times change with the machine; the floor (a hand-written
indexed Python function) and the peers run in the same process on the same
contexts, so "zt-policy / floor" moves only when zt-policy itself gets slower.
Compile time is an absolute target, so it is reported but only warns.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

N = 1000
FLOOR, ZT_UNCACHED, ZT_DEFAULT = "floor", "zt-policy uncached", "zt-policy default"
PEERS = ("regorus", "cedarpy", "pycasbin")
MAX_FLOOR_RATIO = 3.0  # the goal: uncached decide() within 3x of the floor (reported)
GATE_FLOOR_RATIO = 3.5  # the CI gate: fail when the ratio regresses past this
MIN_PEER_SPEEDUP = 5.0  # at least 5x faster than the fastest peer
MAX_CACHE_RATIO = 1.0  # default (cached) faster than uncached on a repeating stream
MAX_COMPILE_SECONDS = 1.0  # 1000 policies compile in under 1 s (warn only)


@dataclass(frozen=True)
class Verdict:
    name: str
    value: float | None  # None: not measured in this run
    target: str
    ok: bool
    gated: bool  # a missed gated target fails CI; others only warn

    @property
    def status(self) -> str:
        if self.value is None:
            return "not measured"
        if self.ok:
            return "PASS"
        return "FAIL" if self.gated else "WARN"


def _get(results: dict[str, float], kind: str, engine: str, n: int = N) -> float | None:
    return results.get(f"{kind}/{engine}/{n}")


def evaluate(results: dict[str, float], max_floor_ratio: float = GATE_FLOOR_RATIO,
             min_peer_speedup: float = MIN_PEER_SPEEDUP) -> list[Verdict]:
    """The verdict for each target, from per-decision medians of one run."""
    out = []
    zt, floor = _get(results, "decide", ZT_UNCACHED), _get(results, "decide", FLOOR)
    ratio = _get(results, "ratio-floor", ZT_UNCACHED) or (zt / floor if zt and floor else None)
    # The 3x goal is reported; it is not met yet (about 3.1x on the reference machine), so CI
    # guards against regressions at the gate (GATE_FLOOR_RATIO, last verdict) instead.
    out.append(Verdict(f"uncached decide() / floor, {N} policies", ratio,
                       f"<= {MAX_FLOOR_RATIO:g}x", ratio is not None and ratio <= MAX_FLOOR_RATIO,
                       gated=False))
    speedups = []  # per peer: the A/B ratio when measured, else the ratio of medians
    for e in PEERS:
        ab, peer = _get(results, "ratio-peer", e), _get(results, "decide", e)
        if ab or (peer and zt):
            speedups.append(ab or peer / zt)  # type: ignore[operator]
    speedup = min(speedups) if speedups else None
    out.append(Verdict(f"fastest peer / uncached decide(), {N} policies", speedup,
                       f">= {min_peer_speedup:g}x",
                       speedup is not None and speedup >= min_peer_speedup, gated=True))
    cached, uncached = _get(results, "stream", ZT_DEFAULT), _get(results, "stream", ZT_UNCACHED)
    cache_ratio = _get(results, "ratio-uncached", ZT_DEFAULT) or (
        cached / uncached if cached and uncached else None)
    out.append(Verdict(f"default / uncached on a repeating stream, {N} policies", cache_ratio,
                       f"< {MAX_CACHE_RATIO:g}x",
                       cache_ratio is not None and cache_ratio < MAX_CACHE_RATIO, gated=True))
    compile_s = _get(results, "compile", "zt-policy")
    out.append(Verdict(f"compile {N} policies (seconds, absolute)", compile_s,
                       f"< {MAX_COMPILE_SECONDS:g} s",
                       compile_s is not None and compile_s < MAX_COMPILE_SECONDS, gated=False))
    out.append(Verdict(f"uncached decide() / floor, {N} policies (CI regression gate)", ratio,
                       f"<= {max_floor_ratio:g}x", ratio is not None and ratio <= max_floor_ratio,
                       gated=True))
    return out


def failed(verdicts: list[Verdict]) -> list[Verdict]:
    """Gated targets that were measured and missed."""
    return [v for v in verdicts if v.gated and v.value is not None and not v.ok]


def _fmt_us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.2f}"


KINDS = ("decide", "stream", "compile", "memory-peak", "memory-retained", "ratio-floor",
         "ratio-uncached", "ratio-peer")


def _ours(k: str) -> bool:
    """A key of this suite: kind/engine/n (other benchmark files may record other keys)."""
    parts = k.split("/")
    return len(parts) == 3 and parts[0] in KINDS and parts[2].isdigit()


def _sizes(results: dict[str, float]) -> list[int]:
    return sorted({int(k.rsplit("/", 1)[1]) for k in results if _ours(k)}) or [N]


def render(results: dict[str, float], verdicts: list[Verdict] | None = None) -> str:
    """Markdown tables of every figure in ``results`` plus the target verdicts."""
    sizes = _sizes(results)
    head = "| engine | " + " | ".join(f"{n} policies" for n in sizes)
    lines = []
    for kind, title, unit, engines in (
        ("decide", "decide(), distinct contexts", "us/decision",
         (FLOOR, ZT_UNCACHED, ZT_DEFAULT, *PEERS)),
        ("stream", "decide(), repeating stream (most contexts repeat)", "us/decision",
         (FLOOR, ZT_DEFAULT, ZT_UNCACHED)),
        ("compile", "build from source text", "ms", ("zt-policy", *PEERS)),
    ):
        rows = [e for e in engines if any(_get(results, kind, e, n) for n in sizes)]
        if not rows:
            continue
        floor_n = _get(results, kind, FLOOR, max(sizes))
        ratio_col = kind != "compile" and floor_n is not None
        lines += ["", f"**{title}** ({unit}, median)", "",
                  head + (f" | x floor at {max(sizes)} |" if ratio_col else " |"),
                  "|---" * (len(sizes) + 1 + ratio_col) + "|"]
        for e in rows:
            vals = [_get(results, kind, e, n) for n in sizes]
            cells = [(f"{v * 1e3:.1f}" if v else "-") if kind == "compile" else _fmt_us(v)
                     for v in vals]
            if ratio_col:
                last = vals[-1]
                cells.append(f"{last / floor_n:.1f}x" if last and floor_n else "-")
            lines.append(f"| {e} | " + " | ".join(cells) + " |")
    if any(k.startswith("memory-") for k in results):
        lines.append("")
    for kind in ("memory-peak", "memory-retained"):
        for k, size in sorted(results.items()):
            if k.startswith(kind + "/") and _ours(k):
                _, engine, n = k.split("/")
                lines.append(f"- {kind.replace('-', ' ')} while compiling {n} policies "
                             f"({engine}, tracemalloc): {size / 2**20:.1f} MiB")
    if verdicts:
        lines += ["", "| target | measured | goal | status |", "|---|---|---|---|"]
        for v in verdicts:
            shown = "-" if v.value is None else f"{v.value:.2f}"
            lines.append(f"| {v.name} | {shown} | {v.target} | {v.status} |")
    return "\n".join(lines).lstrip("\n")


def load_json(path: Path) -> dict[str, float]:
    """Rebuild the results dict from a pytest-benchmark ``--benchmark-json`` file."""
    results: dict[str, float] = {}
    for bench in json.loads(path.read_text())["benchmarks"]:
        info = bench.get("extra_info", {})
        if _ours(str(info.get("key", ""))) and "decisions" in info:
            results[info["key"]] = bench["stats"]["median"] / info["decisions"]
        for k, v in info.items():
            if _ours(k) and isinstance(v, (int, float)):
                results[k] = float(v)
    return results


START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def _environment(json_path: Path) -> str:
    """One line saying where the figures come from, from pytest-benchmark's own records."""
    data = json.loads(json_path.read_text())
    cpu = data.get("machine_info", {}).get("cpu", {})
    commit = data.get("commit_info", {})
    versions = []
    for dist in ("cedarpy", "pycasbin", "gordon-to-regorus"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{dist} {metadata.version(dist)}")
    return (f"{cpu.get('count', '?')} CPUs ({cpu.get('brand_raw', 'unknown CPU')}), CPython "
            f"{data.get('machine_info', {}).get('python_version', '?')}, "
            f"{', '.join(versions) or 'no peers installed'}; commit "
            f"`{str(commit.get('id', 'unknown'))[:7]}`"
            f"{' with uncommitted changes' if commit.get('dirty') else ''}, "
            f"{str(commit.get('time', ''))[:16].replace('T', ' ')} UTC.")


def update_docs(doc: Path, json_path: Path, table: str) -> None:
    """Replace the figures between the START and END markers of ``doc``."""
    text = doc.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    if not rest or END not in rest:
        raise ValueError(f"{doc} has no {START} ... {END} block")
    block = (f"{START}\nMeasured with\n\n```\npython -m pytest benchmarks/ --benchmark-only "
             f"--benchmark-json=bench.json\npython benchmarks/check_ratios.py bench.json "
             f"--update-docs docs/benchmarks.md\n```\n\non {_environment(json_path)}\n\n"
             f"{table}\n{END}")
    doc.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("json", type=Path, help="file written by --benchmark-json")
    parser.add_argument("--markdown", action="store_true", help="print the tables only")
    parser.add_argument("--update-docs", type=Path, metavar="MD",
                        help="write the tables into MD between the figures markers")
    parser.add_argument("--max-floor-ratio", type=float, default=GATE_FLOOR_RATIO,
                        help="the CI regression gate (the 3x goal is reported separately)")
    parser.add_argument("--min-peer-speedup", type=float, default=MIN_PEER_SPEEDUP)
    args = parser.parse_args(argv)
    try:
        results = load_json(args.json)
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read benchmark results from {args.json}: {exc}", file=sys.stderr)
        return 2
    verdicts = evaluate(results, args.max_floor_ratio, args.min_peer_speedup)
    print(render(results, verdicts))
    if args.update_docs:
        update_docs(args.update_docs, args.json, render(results, verdicts))
    if args.markdown or args.update_docs:
        return 0
    missed = failed(verdicts)
    for v in missed:
        print(f"FAILED target: {v.name}: {v.value:.2f} (goal {v.target})", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
