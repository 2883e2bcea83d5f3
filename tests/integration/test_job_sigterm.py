"""The in-cluster entry point receiving SIGTERM (the Job's deadline) in a real
process, against the wire-level test API server: it writes an incomplete
report instead of nothing, exits 3, and cleans up what it created."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from apiserver import Hang, PodOutcome, sample_cluster

ROOT = Path(__file__).resolve().parents[2]


def start_scan(kubeconfig: str, reports: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kaudit", "scan", "--kubeconfig", kubeconfig, "--reports-root", str(reports),
         "--checks", "4.1.1,5.1.3", "--fail-on", "never", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the scan never reached the expected stage"
        time.sleep(0.05)


def latest_report(reports: Path) -> dict:
    """The one (interrupted) run: kept and flagged, and never what `latest` names."""
    (cluster_dir,) = [p for p in reports.iterdir() if p.is_dir()]
    (run,) = [p for p in cluster_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    assert "SIGTERM" in (run / "INCOMPLETE").read_text()
    assert not (cluster_dir / "latest.txt").exists() and not (cluster_dir / "latest").exists()
    return json.loads((run / "report.json").read_text())


def test_sigterm_while_reading_the_api_writes_an_incomplete_report(make_api_server, kubeconfig_for, tmp_path):
    server = make_api_server(sample_cluster())
    for node in ("cp-1", "worker-1", "worker-2"):
        server.configz[node] = Hang(3.0)          # the kubelets answer slowly: the scan stalls here
    proc = start_scan(kubeconfig_for(server), tmp_path)
    wait_for(lambda: any(r.path.endswith("/proxy/configz") for r in list(server.requests)))
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert time.monotonic() - started < 10          # well within a 60 s termination grace period
    assert "SIGTERM" in err and "incomplete report written" in err
    report = latest_report(tmp_path)
    assert report["scan"]["complete"] is False
    assert "SIGTERM" in report["scan"]["incomplete_reasons"][0]
    by_check = {r["check"]: r for r in report["results"]}
    # Everything was listed before the signal: RBAC (5.1.3) is still decided from it ...
    assert by_check["5.1.3"]["status"] in ("PASS", "FAIL")
    # ... while what needed node evidence is ERROR, never PASS.
    assert by_check["4.1.1"]["status"] == "ERROR"
    assert any("interrupted" in e for e in report["scan"]["collection_errors"])  # configz not read
    assert "Score" in out                           # the summary still reaches kubectl logs


def test_sigterm_before_anything_was_listed_is_all_error(make_api_server, kubeconfig_for, tmp_path):
    server = make_api_server(sample_cluster())
    server.add_fault(r"^/version$", 429, times=5, retry_after="5")   # told to come back later
    proc = start_scan(kubeconfig_for(server), tmp_path)
    wait_for(lambda: any(r.path == "/version" for r in list(server.requests)))
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    report = latest_report(tmp_path)
    assert report["scan"]["complete"] is False
    assert {r["status"] for r in report["results"]} == {"ERROR"}


def test_sigterm_while_the_collector_daemonset_runs(make_api_server, kubeconfig_for, tmp_path):
    server = make_api_server(sample_cluster())
    server.default_pod_outcome = lambda node: PodOutcome(exit_code=None)   # collectors never finish
    proc = start_scan(kubeconfig_for(server), tmp_path, "--nodes", "daemonset")
    wait_for(lambda: bool(server.created_daemonsets))
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert server.objects_of("daemonsets", "apps") == []       # the collector was deleted
    report = latest_report(tmp_path)
    scan = report["scan"]
    assert scan["complete"] is False and "inspecting nodes" in " ".join(scan["incomplete_reasons"])
    assert sorted(scan["nodes_unreachable"]) == ["cp-1", "worker-1", "worker-2"]
    statuses = {}
    for r in report["results"]:
        statuses.setdefault(r["check"], set()).add(r["status"])
    assert statuses["4.1.1"] <= {"ERROR", "SKIP"}   # node files not inspected: never PASS
    assert statuses["5.1.3"] & {"PASS", "FAIL"}                # decided: the cluster facts were evaluated
