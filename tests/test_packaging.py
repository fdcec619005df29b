"""The wheel carries the core and the adapters, importable as `zt_policy.adapters.<name>`."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_adapters_and_imports_them(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"),
                    str(ROOT)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("zt_policy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "zt_policy/adapters/asgi.py" in names
    assert "zt_policy/grammar.lark" in names
    assert "zt_policy/py.typed" in names
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    code = ("import zt_policy, zt_policy.adapters.asgi as a\n"
            "print(zt_policy.__file__)\nprint(a.__file__)\n"
            "ps = zt_policy.compile('permit \"p\" when identity.mfa')\n"
            "assert ps.decide(identity={'mfa': True}).allowed")
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path)
    core, adapter = out.stdout.split()
    assert core.startswith(str(env_dir)) and adapter.startswith(str(env_dir))


def test_editable_install_maps_adapters() -> None:
    import zt_policy.adapters

    assert Path(zt_policy.adapters.__file__).parent == ROOT / "adapters"
