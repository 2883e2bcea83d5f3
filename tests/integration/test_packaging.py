"""Building kaudit as `pip install` does (an isolated build with whatever
setuptools pyproject.toml's build-system allows) is clean: no deprecation
warnings from the backend, and the wheel's metadata states the licence as an
SPDX expression."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_isolated_build_has_no_backend_warnings_and_an_spdx_licence(tmp_path: Path) -> None:
    # Build from a copy of what the image build copies: an in-place build would
    # leave build/ in the repository.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("kaudit", "checks", "templates"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "--wheel-dir", str(wheels), str(src)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert not [l for l in out.splitlines() if "deprecated" in l.lower()]
    (wheel,) = wheels.glob("kaudit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (meta_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = zf.read(meta_name).decode()
    assert "License-Expression: Apache-2.0" in meta.splitlines()
