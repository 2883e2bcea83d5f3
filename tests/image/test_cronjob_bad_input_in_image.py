"""What the CronJob's pod does in the built image when its input is wrong:
the Job's log says so in one line, the exit status is one a Job is judged by
(2: configuration error, 3: the scan could not complete; never 1, which
means findings), and a report marked incomplete is written where it can be."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from apiserver import KUBE_SYSTEM_UID
from nodes import free_port
from pod import run_dirs, run_pod, scanner_container

pytestmark = pytest.mark.e2e


def log_lines(proc) -> list[str]:
    return [l for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]


def assert_one_line_failure(proc, status: int, *words: str) -> str:
    lines = log_lines(proc)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], lines[0]
    assert proc.returncode == status, (proc.returncode, lines)
    return lines[0]


def test_waivers_configmap_without_its_key(image, rootfs, tmp_path, api, reports):
    # kubectl create configmap kaudit-waivers --from-file=waivers.yml: the key the
    # CronJob's --waivers names is missing, so the mounted file is.
    proc = run_pod(image, rootfs, tmp_path, api, reports, "nokey",
                   configmaps={"kaudit-waivers": {"waivers.yml": "waivers: []\n"}})
    assert_one_line_failure(proc, 2, "/etc/kaudit/waivers.yaml")


# Found by these tests, left for the exit-status/top-level-handler rework
# ("runsafety"); not strict, so that rework landing first does not fail CI:
# an XPASS here means the marker can go.
@pytest.mark.xfail(reason="PermissionError from the reports volume escapes as a traceback, exit 1")
def test_reports_volume_not_writable(image, rootfs, tmp_path, api, reports):
    # A volume whose ownership the kubelet could not hand to fsGroup: root's, 755.
    proc = run_pod(image, rootfs, tmp_path, api, reports, "rovol", apply_fs_group=False)
    assert_one_line_failure(proc, 3, "/reports")
    assert list(reports.iterdir()) == []


@pytest.mark.xfail(reason="unreachable API server: one line and exit 3, but no incomplete report is written")
def test_api_server_unreachable(image, rootfs, tmp_path, api, reports):
    # Reports of an earlier run are on the volume: the incomplete one joins them.
    first = run_pod(image, rootfs, tmp_path, api, reports, "ok")
    assert first.returncode == 0, first.stderr
    container = scanner_container(image, rootfs, tmp_path / "down", api_host="127.0.0.1", api_port=free_port(),
                                  token=api.sa_token, ca_file=api.ca_file, reports=reports)
    proc = container.run(tmp_path / "down")
    line = assert_one_line_failure(proc, 3)
    cluster_dir = reports / KUBE_SYSTEM_UID
    runs = run_dirs(cluster_dir)
    assert len(runs) == 2 and os.readlink(cluster_dir / "latest") == runs[-1].name, line
    report = json.loads((runs[-1] / "report.json").read_text())
    assert report["scan"]["complete"] is False and report["scan"]["incomplete_reasons"]
    assert all(r["status"] == "ERROR" for r in report["results"])


@pytest.mark.xfail(reason="a run directory retention cannot delete escapes as a traceback, exit 1, "
                          "after the new run and latest were written")
def test_old_run_the_scanner_cannot_delete(image, rootfs, tmp_path, api, reports):
    first = run_pod(image, rootfs, tmp_path, api, reports, "ok")
    assert first.returncode == 0, first.stderr
    cluster_dir = reports / KUBE_SYSTEM_UID
    (run1,) = run_dirs(cluster_dir)
    # Someone copied a run in by hand, as root: the scanner (uid 10001) cannot
    # delete its files when retention (--keep=8) wants it gone.
    for year in range(8):
        old = cluster_dir / f"20{10 + year}0101T060000Z"
        old.mkdir()
        (old / "report.json").write_bytes((run1 / "report.json").read_bytes())
    proc = run_pod(image, rootfs, tmp_path, api, reports, "prune")
    runs = run_dirs(cluster_dir)
    assert os.readlink(cluster_dir / "latest") == runs[-1].name != run1.name
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
