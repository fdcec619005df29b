"""Lint and types are part of the test run: ruff over everything, mypy --strict over the
library and the adapters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "adapters", "tests",
                          "benchmarks", "examples"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "src/zt_policy", "adapters"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
