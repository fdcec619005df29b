"""Every example in the core docs is run and its output compared (see _checkdocs.py for the
conventions: pycon sessions are doctests, console blocks are commands with their output)."""

from __future__ import annotations

import pytest

from tests.docs._checkdocs import ROOT, check

PAGES = ["index.md", "language.md", "errors.md", "api.md", "cli.md", "architecture.md"]


@pytest.mark.parametrize("page", PAGES)
def test_doc_examples_run_as_written(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    failures = check(str(ROOT / "docs" / page))
    assert failures == 0, capsys.readouterr().out


def test_readme_quick_start_runs(capsys: pytest.CaptureFixture[str]) -> None:
    failures = check(str(ROOT / "README.md"))
    out = capsys.readouterr().out
    assert failures == 0, out
    assert "False ('no policy permits this request',)" in out
    assert "device.posture >= 70" in out
