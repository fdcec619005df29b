"""Import rules: `import zt_policy` is light, the run side never loads the build side, adapters
use only the public API."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ["starlette", "fastapi", "flask", "werkzeug", "django", "mcp", "fastmcp", "uvicorn",
              "httpx", "jwt", "lark"]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_loads_no_framework_and_no_lark() -> None:
    loaded = _modules_after("import zt_policy")
    assert not {m.split(".")[0] for m in loaded} & set(FRAMEWORKS)
    assert "zt_policy._parser" not in loaded


def test_lark_loads_only_when_text_is_parsed() -> None:
    loaded = _modules_after("import zt_policy\nzt_policy.compile('permit \"a\"')")
    assert "lark" in loaded


def test_deciding_loads_nothing_new() -> None:
    code = ("import sys, zt_policy\nps = zt_policy.compile('permit \"a\" when identity.mfa')\n"
            "before = set(sys.modules)\nps.decide(identity={'mfa': True}, explain=True)\n"
            "ps.may_allow(identity={})\nnew = set(sys.modules) - before\n"
            "assert not new, new")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_contracts() -> None:
    """The layered contracts in pyproject.toml (run side vs build side, no frameworks in core)."""
    out = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_adapters_use_only_the_public_api() -> None:
    public = {"zt_policy", "zt_policy.adapters", "zt_policy.testing"}
    offenders = []
    for path in sorted((ROOT / "adapters").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("zt_policy") and not (
                    name in public or name.startswith("zt_policy.adapters.")
                ):
                    offenders.append(f"{path.name}: {name}")
    assert not offenders


def test_import_contracts_cover_every_core_module() -> None:
    """A new module must be named in the framework contract, or it would escape the check."""
    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if "framework" in c["name"])
    listed = set(contract["source_modules"])
    modules = {f"zt_policy.{f.stem}" for f in (ROOT / "src" / "zt_policy").glob("*.py")
               if f.stem not in ("__init__", "__main__")}
    assert modules <= listed, sorted(modules - listed)
