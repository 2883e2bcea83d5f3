"""What the built image holds: exactly the locked Python packages and kaudit
in /opt/kaudit, nothing to install more with, and an SBOM (written by
`make image` beside it) that lists exactly what the image's interpreter sees."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from container import Container

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "job" / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[norm(name)] = version
    return pins


def installed_in_image(image, rootfs: Path, tmp_path: Path) -> dict[str, str]:
    probe = Container(rootfs=rootfs, uid=10001, gid=10001, env=dict(image.env), workdir="/", argv=[
        "python3", "-c", "import json, importlib.metadata as m; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"])
    out = probe.run(tmp_path)
    assert out.returncode == 0, out.stderr
    return {norm(n): v for n, v in json.loads(out.stdout).items()}


def test_the_venv_holds_the_lock_and_kaudit_only(image, rootfs, tmp_path):
    assert image.entrypoint == ("kaudit",) and image.user.split(":")[0] == "10001"
    from kaudit import __version__
    assert installed_in_image(image, rootfs, tmp_path) == {**locked(), "kaudit": __version__}
    assert not (rootfs / "opt/build").exists()            # the build stage's tools stay there
    assert not list((rootfs / "opt/kaudit/bin").glob("pip*"))


def test_the_sbom_lists_what_the_image_holds(image, rootfs, tmp_path):
    sbom_file = ROOT / "build" / "image" / (image.name.rsplit("/", 1)[-1].replace(":", "-") + ".cdx.json")
    assert sbom_file.is_file(), f"{sbom_file} missing: `make image` writes it"
    sbom = json.loads(sbom_file.read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    listed = {norm(c["name"]): c["version"] for c in sbom["components"]}
    assert listed == installed_in_image(image, rootfs, tmp_path)
    purls = {c.get("purl") for c in sbom["components"]}
    assert "pkg:pypi/kubernetes@" + listed["kubernetes"] in purls
