"""Verify every example in the docs by running it.

Conventions in the markdown:
  ```pycon        doctest session (shared namespace per file)
  ```python       executed in the same namespace
  ```console      `$ cmd` lines run with bash; following lines are the expected stdout+stderr
  <!-- file: NAME -->          before a fenced block: write it to NAME in the work dir (not run)
  <!-- diagnostics: NAME -->   before a ```text block: expected rendered diagnostics of load(NAME)
  <!-- skip -->                before a fenced block: not checked
"""
from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"(?:<!-- (file|diagnostics|skip|same-as):? ?(\S*) -->\n)?```(\w*)\n(.*?)```", re.S)


def check(path: str) -> int:
    text = Path(path).read_text(encoding="utf-8")
    work = tempfile.mkdtemp(prefix="ztdocs-")
    os.symlink(ROOT / "examples", os.path.join(work, "examples"))
    old = os.getcwd()
    os.chdir(work)
    globs: dict[str, Any] = {"__name__": "__docs__"}
    fails = 0
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    parser = doctest.DocTestParser()
    try:
        for m in FENCE.finditer(text):
            kind, arg, lang, body = m.groups()
            line = text.count("\n", 0, m.start()) + 1
            where = f"{path}:{line}"
            if kind == "skip":
                continue
            if kind == "same-as":
                if (ROOT / arg).read_text(encoding="utf-8") != body:
                    fails += 1
                    print(f"FAIL {where}: block differs from {arg}")
                continue
            if kind == "file":
                with open(arg, "w", encoding="utf-8") as f:
                    f.write(body)
                continue
            if kind == "diagnostics":
                import zt_policy
                try:
                    zt_policy.load(arg)
                    got = "(no error)\n"
                except zt_policy.PolicyError as e:
                    got = "\n\n".join(d.render() for d in e.diagnostics) + "\n"
                if got != body:
                    fails += 1
                    print(f"FAIL {where} diagnostics of {arg}:\n--- expected\n{body}--- got\n{got}")
                continue
            if lang == "pycon":
                test = parser.get_doctest(body, globs, where, path, line)
                r = runner.run(test, clear_globs=False)
                globs.update(test.globs)
                fails += r.failed
            elif lang == "python":
                try:
                    exec(compile(body, where, "exec"), globs)
                except Exception as exc:
                    fails += 1
                    print(f"FAIL {where}: {type(exc).__name__}: {exc}")
            elif lang == "console":
                fails += run_console(body, where)
    finally:
        os.chdir(old)
        shutil.rmtree(work, ignore_errors=True)
    return fails


def run_console(body: str, where: str) -> int:
    fails = 0
    chunks = re.split(r"^\$ ", body, flags=re.M)[1:]
    for chunk in chunks:
        cmd, _, expected = chunk.partition("\n")
        p = subprocess.run(["bash", "-c", "{ " + cmd + "\n} 2>&1"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
        got = p.stdout
        if got != expected:
            fails += 1
            print(f"FAIL {where} $ {cmd}\n--- expected\n{expected}--- got\n{got}")
    return fails
