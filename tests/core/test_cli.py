from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zt_policy", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_check_ok_and_errors(tmp_path: Path) -> None:
    ok = run("check", "examples/policies")
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 5 policies")
    (tmp_path / "bad.ztp").write_text('permit "a" when identity.grups\nforbid "b" when ((\n')
    bad = run("check", str(tmp_path))
    assert bad.returncode == 1
    assert "error[ZT201]" in bad.stderr and "error[ZT103]" in bad.stderr
    assert "2 errors found" in bad.stderr
    js = run("check", str(tmp_path), "--format", "json")
    assert [e["code"] for e in json.loads(js.stdout)["errors"]] == ["ZT201", "ZT103"]


def test_eval_example_text_and_json() -> None:
    text = run("eval", "examples/policies", "--input", "examples/requests.jsonl")
    assert text.returncode == 0
    assert "analyst searches from a managed laptop: ALLOW by analysts-use-search-tools" in text.stdout
    assert "not matched at `device.posture >= 70` (via trusted_device) saw device.posture=50" in text.stdout
    js = run("eval", "examples/policies", "--input", "examples/requests.jsonl", "--format", "json")
    rows = [json.loads(line) for line in js.stdout.splitlines()]
    assert [r["allowed"] for r in rows] == [True, False, True, False, True, False]
    assert rows[5]["policies"] == ["blocked-subjects"]


def test_eval_stdin_bad_lines_and_json_array() -> None:
    out = run("eval", "examples/policies", "-i", "-", "--no-explain",
              stdin='{"identity": {"subject": "x"}}\nnot json\n[1]\n')
    assert out.returncode == 2
    assert "request 1: DENY" in out.stdout
    assert "line 2: invalid JSON" in out.stderr
    arr = run("eval", "examples/policies", "-i", "-", "--format", "json",
              stdin='[{"identity": {"subject": "a"}}, {"request": "oops"}]')
    rows = [json.loads(line) for line in arr.stdout.splitlines()]
    assert rows[1]["errors"][0]["code"] == "ZT310"


def test_missing_input_file() -> None:
    out = run("eval", "examples/policies", "-i", "/nonexistent.jsonl")
    assert out.returncode == 2 and "cannot read" in out.stderr
