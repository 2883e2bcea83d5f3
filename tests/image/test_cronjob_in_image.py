"""The built image runs the shipped CronJob's pod: its command and arguments
from job/cronjob.yaml on the image's ENTRYPOINT, as uid 10001 with a
read-only root filesystem, the service-account files and KUBERNETES_SERVICE_*
a pod gets (pointing at the wire-level test API server, which enforces the
shipped ClusterRole), the waivers ConfigMap where the CronJob mounts it, and
the reports volume."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from apiserver import KUBE_SYSTEM_UID
from kaudit.incluster import WRITER_LOCK_FILE
from pod import cronjob, run_dirs, run_pod, scanner_container

pytestmark = pytest.mark.e2e

_FILES = {"json": "report.json", "html": "report.html", "junit": "junit.xml", "pdf": "report.pdf"}
# What the CronJob asks for (its --format), plus the checksums.
RUN_FILES = {_FILES[f] for a in cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
             if a.startswith("--format=") for f in a.split("=", 1)[1].split(",")} | {"SHA256SUMS"}
assert "report.pdf" in RUN_FILES



def check_run_dir(run: Path) -> dict:
    assert RUN_FILES <= {p.name for p in run.iterdir()}, sorted(p.name for p in run.iterdir())
    for line in (run / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((run / name.lstrip("*")).read_bytes()).hexdigest() == digest, name
    for p in run.iterdir():
        assert p.stat().st_uid == 10001, f"{p.name} not written by the pod's user"
    return json.loads((run / "report.json").read_text())


def test_two_scheduled_runs_in_the_image(image, rootfs, tmp_path, api, reports):
    args = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    keep = int(next(a.split("=", 1)[1] for a in args if a.startswith("--keep=")))

    first = run_pod(image, rootfs, tmp_path, api, reports, "run1")
    # --fail-on never: findings do not fail the Job; only exit 2/3 would.
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    # In a pod every cluster is "in-cluster": the reports are filed under the kube-system UID.
    cluster_dir = reports / KUBE_SYSTEM_UID
    assert [p.name for p in reports.iterdir()] == [KUBE_SYSTEM_UID]
    (run1,) = run_dirs(cluster_dir)
    assert re.fullmatch(r"\d{8}T\d{6}Z", run1.name)
    assert f"reports written to /reports/{KUBE_SYSTEM_UID}/{run1.name}" in first.stderr
    report1 = check_run_dir(run1)
    assert report1["scan"]["complete"] is True, report1["scan"].get("incomplete_reasons")
    assert os.readlink(cluster_dir / "latest") == run1.name
    assert (cluster_dir / "latest.txt").read_text().strip() == run1.name
    # Read with the service account's token under the shipped ClusterRole: nothing was denied.
    assert not [r for r in api.requests if r.status == 403]
    assert any(r["check"] == "5.1.10" and r["status"] == "WAIVED" for r in report1["results"]), \
        "the shipped waivers ConfigMap did not apply"

    # The volume after two years: keep-1 older runs, and a file kaudit did not write.
    for year in range(keep - 1):
        old = shutil.copytree(run1, cluster_dir / f"20{20 + year}0101T060000Z", symlinks=True)
        for p in (old, *old.iterdir()):
            os.chown(p, 10001, 10001)      # written by earlier runs of the same pod
    (reports / "README.txt").write_text("not kaudit's\n")
    (cluster_dir / "notes.txt").write_text("not kaudit's either\n")

    second = run_pod(image, rootfs, tmp_path, api, reports, "run2")
    assert second.returncode == 0, second.stderr
    runs = run_dirs(cluster_dir)
    assert len(runs) == keep
    assert run1 in runs and (cluster_dir / "20200101T060000Z") not in runs   # the oldest was pruned
    run2 = runs[-1]
    assert run2 != run1
    assert os.readlink(cluster_dir / "latest") == run2.name
    assert (cluster_dir / "latest.txt").read_text().strip() == run2.name
    check_run_dir(run2)
    # The trend compares with the previous complete run, the first one.
    html = (run2 / "report.html").read_text()
    assert 'id="trend"' in html and report1["scan"]["started"] in html
    assert (reports / "README.txt").exists() and (cluster_dir / "notes.txt").exists()
    # No staging directory left behind; the one hidden file is the (released) writer lock.
    assert [p.name for p in cluster_dir.iterdir() if p.name.startswith(".")] == [WRITER_LOCK_FILE]


def test_the_root_filesystem_is_read_only_and_the_user_is_10001(image, rootfs, tmp_path, api, reports):
    """The harness itself: what the scan ran under is what the CronJob asks for."""
    container = scanner_container(image, rootfs, tmp_path / "probe", api_host="127.0.0.1", api_port=api.port,
                                  token=api.sa_token, ca_file=api.ca_file, reports=reports)
    container.argv = ["python3", "-c", (
        "import os, pathlib\n"
        "print(os.getuid(), os.getgid(), sorted(os.getgroups()))\n"
        "for p in ('/opt/kaudit/x', '/etc/x', '/reports/x', '/tmp/x', '/etc/kaudit/x'):\n"
        "    try:\n"
        "        pathlib.Path(p).write_text('x'); print(p, 'writable')\n"
        "    except OSError as e:\n"
        "        print(p, e.strerror)\n"
        "print(sorted(os.listdir('/var/run/secrets/kubernetes.io/serviceaccount')))\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
        "print(open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0])\n")]
    out = container.run(tmp_path / "probe")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "10001 10001 [10001]"
    assert lines[1:6] == ["/opt/kaudit/x Read-only file system", "/etc/x Read-only file system",
                          "/reports/x writable", "/tmp/x writable", "/etc/kaudit/x Read-only file system"]
    assert lines[6] == "['ca.crt', 'namespace', 'token']"
    assert lines[7] == "0000000000000000" and lines[8] == "1"
