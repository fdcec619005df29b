"""The `zt-policy` command: check policy files, and evaluate requests against them.

    zt-policy check policies/                 exit 1 and every diagnostic when something is wrong
    zt-policy eval policies/ --input req.jsonl  one decision (with its explanation) per request
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import zt_policy


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zt-policy", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=zt_policy.__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check policy files and report every problem")
    check.add_argument("paths", nargs="+", help=".ztp files or directories")
    check.add_argument("--format", choices=("text", "json"), default="text")
    ev = sub.add_parser("eval", help="decide requests read as JSON or JSON lines")
    ev.add_argument("paths", nargs="+", help=".ztp files or directories")
    ev.add_argument("--input", "-i", required=True,
                    help="a file of JSON (an object or a list) or JSON lines, or - for stdin")
    ev.add_argument("--format", choices=("text", "json"), default="text")
    ev.add_argument("--no-explain", action="store_true", help="omit the per-policy explanation")
    args = parser.parse_args(argv)
    try:
        policies = zt_policy.load(args.paths)
    except zt_policy.PolicyError as err:
        if args.format == "json":
            json.dump({"ok": False, "errors": [d.to_dict() for d in err.diagnostics]}, sys.stdout,
                      indent=2)
            print()
        else:
            print(err.render(), file=sys.stderr)
        return 1
    if args.command == "check":
        if args.format == "json":
            print(json.dumps({"ok": True, "policies": list(policies.ids)}))
        else:
            print(f"ok: {len(policies)} policies, reading {len(policies.reads)} attributes")
        return 0
    return _eval(policies, args.input, args.format, not args.no_explain)


def _eval(policies: zt_policy.PolicySet, source: str, fmt: str, explain: bool) -> int:
    try:
        stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"error: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 2
    status = 0
    with stream:
        for n, item in enumerate(_contexts(stream), start=1):
            if isinstance(item, str):
                print(f"error: request {n}: {item}", file=sys.stderr)
                status = 2
                continue
            roots = {k: item.get(k) for k in ("identity", "device", "request")}
            extra = {k: v for k, v in item.items() if k not in roots and k not in ("name", "id")}
            label = str(item.get("name") or item.get("id") or f"request {n}")
            try:
                d = policies.decide(**roots, **extra, explain=explain)
            except zt_policy.ContextError as exc:
                print(f"error: {label}: {exc}", file=sys.stderr)
                status = 2
                continue
            if fmt == "json":
                print(json.dumps({"request": label, **d.to_dict()}))
            else:
                _print_text(label, d)
    return status


def _contexts(stream: TextIO) -> Iterator[dict[str, Any] | str]:
    text = stream.read()
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"line {line_no}: invalid JSON: {exc.msg} at column {exc.colno}"
                continue
            yield item if isinstance(item, dict) else f"line {line_no}: expected a JSON object"
        return
    items = whole if isinstance(whole, list) else [whole]
    for item in items:
        yield item if isinstance(item, dict) else "expected a JSON object"


def _print_text(label: str, d: zt_policy.Decision) -> None:
    verdict = "ALLOW" if d.allowed else "DENY"
    by = f" by {', '.join(d.policies)}" if d.policies else ""
    print(f"{label}: {verdict}{by}")
    for r in d.reasons:
        print(f"  reason: {r}")
    for e in d.errors:
        print(f"  error: {e}")
    for t in d.explanation or ():
        if t.outcome == "matched":
            print(f"  - {t.effect} {t.policy!r}: matched")
            continue
        seen = ", ".join(f"{k}={v!r}" for k, v in t.values.items())
        via = f" (via {' > '.join(t.via)})" if t.via else ""
        print(f"  - {t.effect} {t.policy!r}: {t.outcome} at `{t.clause}`{via}"
              f"{f' saw {seen}' if seen else ''} [{t.location}]")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
