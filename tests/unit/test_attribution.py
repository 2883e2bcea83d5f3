"""The recorded command line never carries a secret; older reports still load (issue 15)."""
from __future__ import annotations

from kaudit.attribution import image_of_pod, redact_command_line
from kaudit.model import ScanInfo


def test_secrets_are_redacted_from_the_command_line():
    argv = ["kaudit", "scan", "--token", "abc123", "--password=hunter2", "--sign-key", "/keys/audit",
            "--sign-key-passphrase", "pp", "KAUDIT_SIGN_KEY_PASSPHRASE=pp2", "--kubeconfig", "/k/config",
            "--server", "https://bob:pw@api.example:6443"]
    out = " ".join(redact_command_line(argv))
    for secret in ("abc123", "hunter2", "pp ", "pp2", ":pw@"):
        assert secret not in out + " "
    assert "/keys/audit" in out and "/k/config" in out and "bob" in out and "api.example:6443" in out


def test_image_digest_from_the_pods_own_status():
    pod = {"status": {"containerStatuses": [
        {"name": "sidecar", "imageID": "docker.io/x@sha256:11"},
        {"name": "kaudit", "imageID": "docker-pullable://ghcr.io/kaudit/kaudit@sha256:22"}]}}
    assert image_of_pod(pod) == "ghcr.io/kaudit/kaudit@sha256:22"
    assert image_of_pod({"status": {}}) is None


def test_reports_without_attribution_still_load():
    scan = ScanInfo.from_json({"started": "2025-01-01T00:00:00Z", "cluster": {"name": "x"}})
    assert scan.operator == "unknown" and scan.image == "unknown" and scan.command_line == []
    assert scan.catalog_sha256 == "unknown"
