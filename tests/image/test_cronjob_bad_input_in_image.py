"""What the CronJob's pod does in the built image when its input or its
volume is wrong, as an operator meets it: the Job's status (the exit status,
docs/reports.md#exit-status: 2 configuration error, 3 the scan could not
complete, 4 kaudit failed, e.g. the reports could not be written; never 1,
which means findings), one `kaudit:` line in the pod's log naming the cause
and no traceback, the short summary after it once the scan has started, a
report marked incomplete where the volume allows one, and `latest` still
naming the last complete run."""
from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from apiserver import KUBE_SYSTEM_UID
from kaudit.incluster import WRITER_LOCK_FILE
from nodes import free_port
from pod import cronjob, run_dirs, run_pod, scanner_container
from test_cronjob_in_image import RUN_FILES, check_run_dir

pytestmark = pytest.mark.e2e

ARGS = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
KEEP = int(next(a.split("=", 1)[1] for a in ARGS if a.startswith("--keep=")))
# The summary is bounded (kaudit.report.summary: header, score, why incomplete,
# nodes, counts, the ten worst findings, the report's path): a log a person reads.
SHORT_LOG = 25


def log_lines(proc) -> list[str]:
    """What `kubectl logs` shows: both streams."""
    return [l for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]


def the_line(proc, status: int, *words: str) -> str:
    """The exit status, and the one line saying what went wrong, naming `words`."""
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    said = [l for l in proc.stderr.splitlines() if l.startswith("kaudit:")]
    assert len(said) == 1, proc.stderr
    for w in words:
        assert w in said[0], said[0]
    assert proc.returncode == status, (proc.returncode, said[0])
    assert len(log_lines(proc)) <= SHORT_LOG, log_lines(proc)
    return said[0]


def test_waivers_configmap_without_its_key(image, rootfs, tmp_path, api, reports):
    # kubectl create configmap kaudit-waivers --from-file=waivers.yml: the key the
    # CronJob's --waivers names is missing, so the mounted file is.
    proc = run_pod(image, rootfs, tmp_path, api, reports, "nokey",
                   configmaps={"kaudit-waivers": {"waivers.yml": "waivers: []\n"}})
    the_line(proc, 2, "/etc/kaudit/waivers.yaml")
    # Nothing was scanned: the log is that line alone, and no report is filed.
    assert len(log_lines(proc)) == 1, log_lines(proc)
    assert list(reports.iterdir()) == []


def test_reports_volume_not_writable(image, rootfs, tmp_path, api, reports):
    # A volume whose ownership the kubelet could not hand to fsGroup: root's, 755.
    proc = run_pod(image, rootfs, tmp_path, api, reports, "rovol", apply_fs_group=False)
    # The scan ran; its reports could not be written: kaudit failed (4), not "findings".
    the_line(proc, 4, "cannot write the reports to /reports/", "Permission denied")
    assert "Score:" in proc.stdout            # the result is still in the Job's log
    assert list(reports.iterdir()) == []      # nothing half-written left on the volume


def test_api_server_unreachable(image, rootfs, tmp_path, api, reports):
    # Reports of an earlier run are on the volume: the incomplete one joins them.
    first = run_pod(image, rootfs, tmp_path, api, reports, "ok")
    assert first.returncode == 0, first.stderr
    cluster_dir = reports / KUBE_SYSTEM_UID
    (complete,) = run_dirs(cluster_dir)
    port = free_port()
    container = scanner_container(image, rootfs, tmp_path / "down", api_host="127.0.0.1", api_port=port,
                                  token=api.sa_token, ca_file=api.ca_file, reports=reports)
    proc = container.run(tmp_path / "down")
    line = the_line(proc, 3, f"cannot reach the API server https://127.0.0.1:{port}", "incomplete report written to")
    assert "SCAN INCOMPLETE" in proc.stdout
    # An incomplete run beside the complete one, in the cluster's directory (no identity
    # came back, so the volume's only cluster directory), named in the line.
    runs = run_dirs(cluster_dir)
    assert len(runs) == 2 and runs[0] == complete
    incomplete = runs[1]
    assert line.endswith(f"/reports/{KUBE_SYSTEM_UID}/{incomplete.name}")
    report = check_run_dir(incomplete)
    assert RUN_FILES | {"INCOMPLETE"} == {p.name for p in incomplete.iterdir()}
    assert report["scan"]["complete"] is False
    assert any(f"127.0.0.1:{port}" in r for r in report["scan"]["incomplete_reasons"])
    assert (incomplete / "INCOMPLETE").read_text().splitlines() == report["scan"]["incomplete_reasons"]
    assert {r["status"] for r in report["results"]} == {"ERROR"}      # nothing unverified passes
    # `latest` keeps naming the last complete run.
    assert os.readlink(cluster_dir / "latest") == complete.name
    assert (cluster_dir / "latest.txt").read_text().strip() == complete.name


def test_old_run_the_scanner_cannot_delete(image, rootfs, tmp_path, api, reports):
    first = run_pod(image, rootfs, tmp_path, api, reports, "ok")
    assert first.returncode == 0, first.stderr
    cluster_dir = reports / KUBE_SYSTEM_UID
    (run1,) = run_dirs(cluster_dir)
    # Someone copied runs in by hand, as root: the scanner (uid 10001) cannot delete
    # their files when retention (--keep) wants them gone.
    for year in range(KEEP):
        old = cluster_dir / f"20{10 + year}0101T060000Z"
        old.mkdir()
        (old / "report.json").write_bytes((run1 / "report.json").read_bytes())
    doomed = len(run_dirs(cluster_dir)) - (KEEP - 1)
    proc = run_pod(image, rootfs, tmp_path, api, reports, "prune")
    # Retention is housekeeping: the audit is still filed, and the Job succeeds
    # (--fail-on never), with one line saying what retention had to leave.
    line = the_line(proc, 0, f"warning: retention could not delete {doomed} old run(s)", "Permission denied",
                    "20100101T060000Z")
    assert "Score:" in proc.stdout
    runs = run_dirs(cluster_dir)
    new = runs[-1]
    assert new != run1 and f"reports written to /reports/{KUBE_SYSTEM_UID}/{new.name}" in proc.stderr, line
    assert check_run_dir(new)["scan"]["complete"] is True
    assert os.readlink(cluster_dir / "latest") == new.name
    assert all((cluster_dir / f"20{10 + year}0101T060000Z" / "report.json").is_file() for year in range(KEEP))


def test_two_runs_at_once_each_file_their_own_run(image, rootfs, tmp_path, api, reports):
    # The schedule fires while a `kubectl create job --from=cronjob/kaudit` runs (a
    # ReadWriteOnce volume is shared by pods on its node): two pods, one volume. Runs
    # started in the same second get `-1`; tests/unit/test_job_incluster.py forces that.
    with ThreadPoolExecutor(2) as pool:
        procs = list(pool.map(lambda name: run_pod(image, rootfs, tmp_path, api, reports, name), ("a", "b")))
    cluster_dir = reports / KUBE_SYSTEM_UID
    named = []
    for proc in procs:
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        (said,) = re.findall(rf"^reports written to /reports/{KUBE_SYSTEM_UID}/(\S+)$", proc.stderr, re.M)
        named.append(said)
    # Each Job's log names its own run directory, holding its own complete, checksummed set.
    assert len(set(named)) == 2 and sorted(named) == [p.name for p in run_dirs(cluster_dir)]
    for name in named:
        report = check_run_dir(cluster_dir / name)
        assert report["scan"]["complete"] is True
        started = re.sub(r"[-:]", "", report["scan"]["started"])
        assert name.split("-")[0] == started
    assert os.readlink(cluster_dir / "latest") in named
    assert [p.name for p in cluster_dir.iterdir() if p.name.startswith(".")] == [WRITER_LOCK_FILE]
