"""Tests of the built image (`make image-test`, run by .ci/run after `make test`).

They need the image that `make image` builds, named by $KAUDIT_IMAGE; without
it every test here is skipped, so the default `make test` stays fast. With it
set, a missing image or tool is a failure, not a skip.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The wire-level test API server and the fake nodes live with the integration tests.
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from apiserver import FakeApiServer, sample_cluster  # noqa: E402
from container import ImageConfig, export_rootfs, have_tools  # noqa: E402
from pod import scanner_cluster_role_rules, shipped  # noqa: E402


PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
              "NO_PROXY", "no_proxy", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


@pytest.fixture(scope="session")
def image() -> ImageConfig:
    name = os.environ.get("KAUDIT_IMAGE")
    if not name:
        pytest.skip("the built image is tested by `make image-test` (set KAUDIT_IMAGE to run these)")
    why = have_tools()
    if why:
        pytest.fail(f"KAUDIT_IMAGE is set but the image cannot be run here: {why}")
    return ImageConfig.inspect(name)


@pytest.fixture(scope="session")
def rootfs(image: ImageConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield export_rootfs(image.name, tmp_path_factory.mktemp("image") / "rootfs")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test API server is on 127.0.0.1, whatever the developer's shell exports.
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    """The test API server with the cluster running kaudit as shipped (its
    ServiceAccount and ClusterRole exist); `api.sa_token` is the scanner's
    service-account token, allowed exactly the shipped ClusterRole."""
    objects = sample_cluster() + [d for d in shipped("rbac.yaml") if d["kind"] != "Namespace"]
    token = "sa-" + secrets.token_hex(16)
    server = FakeApiServer(objects, tokens={token: scanner_cluster_role_rules()}).start()
    server.sa_token = token
    yield server
    server.stop()


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """The reports PersistentVolume: an empty directory, root's, 755 (the
    kubelet applies fsGroup when it mounts it)."""
    d = tmp_path / "pvc"
    d.mkdir()
    d.chmod(0o755)
    return d
