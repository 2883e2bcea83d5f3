"""SIGTERM writes an incomplete report within seconds in every mode, not only
with --reports-root: a real process, the wire-level test API server, a real
sshd whose second node hangs."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apiserver import Hang, PodOutcome, sample_cluster
from nodes import SshdServer, client_key, sshd  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the scan never reached the expected stage"
        time.sleep(0.05)


def test_sigterm_with_output_dir_writes_an_incomplete_report(make_api_server, kubeconfig_for, tmp_path):
    server = make_api_server(sample_cluster())
    for node in ("cp-1", "worker-1", "worker-2"):
        server.configz[node] = Hang(30.0)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "kaudit", "scan", "--kubeconfig", kubeconfig_for(server),
                             "--checks", "4.2.1,5.1.3", "--output-dir", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(r.path.endswith("/proxy/configz") for r in list(server.requests)))
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: (out / "report.json").exists() or proc.poll() is not None)
    written = time.monotonic() - signalled
    stdout, stderr = proc.communicate(timeout=60)
    print(f"SIGTERM to a written report: {written:.2f} s, to exit: {time.monotonic() - signalled:.2f} s")
    assert proc.returncode == 3, stderr
    assert "SIGTERM" in stderr and "incomplete report written" in stderr
    report = json.loads((out / "report.json").read_text())
    assert report["scan"]["complete"] is False and "SIGTERM" in report["scan"]["incomplete_reasons"][0]
    statuses = {r["check"]: r["status"] for r in report["results"]}
    assert statuses["5.1.3"] in ("PASS", "FAIL")        # listed before the signal: still decided
    assert statuses["4.2.1"] == "ERROR"                 # the kubelet config was never read
    assert "Score:" in stdout


@pytest.mark.integration
def test_sigterm_with_a_hung_ssh_node_keeps_the_nodes_read(sshd: SshdServer, tmp_path):
    good, hung = client_key(tmp_path, "good"), client_key(tmp_path, "hung")
    sshd.authorize(good.with_suffix(".pub"), command="sh -s")        # this machine, read for real
    started = tmp_path / "hung-node-started"
    sshd.authorize(hung.with_suffix(".pub"), command=f"touch {started}; exec sleep 600")
    inventory = tmp_path / "nodes.yaml"
    inventory.write_text(f"defaults: {{port: {sshd.port}, user: root}}\nnodes:\n"
                         f"  - {{name: good, address: 127.0.0.1, key: {good}}}\n"
                         f"  - {{name: hung, address: 127.0.0.1, key: {hung}}}\n")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system, uid: abc}\n")
    out = tmp_path / "out"
    # One session at a time: the hung node is contacted only once the good one is read.
    proc = subprocess.Popen([sys.executable, "-m", "kaudit", "scan", "--manifests", str(cluster),
                             "--nodes", "ssh", "--inventory", str(inventory), "--ssh-concurrency", "1",
                             "--ssh-timeout", "600", "--known-hosts", str(sshd.known_hosts(tmp_path / "kh")),
                             "--checks", "4", "--output-dir", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(started.exists)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    elapsed = time.monotonic() - signalled
    print(f"SIGTERM to a written report and exit (hung SSH node): {elapsed:.2f} s")       # pytest -s
    assert proc.returncode == 3, stderr
    assert elapsed < 30, f"SIGTERM took {elapsed:.1f} s: the hung session was waited for"
    scan = json.loads((out / "report.json").read_text())["scan"]
    assert scan["complete"] is False
    assert scan["nodes_inspected"] == ["good"]                       # read before the signal: kept
    assert "interrupted" in scan["nodes_unreachable"]["hung"]
    assert "Score:" in stdout


def test_sigterm_with_a_hung_daemonset_collector_keeps_the_nodes_read(make_api_server, kubeconfig_for, tmp_path):
    """--nodes daemonset: two collectors finish, the third never does. A SIGTERM
    keeps the two nodes read, reports the third as not inspected, and the
    collector DaemonSet is still deleted."""
    server = make_api_server(sample_cluster())
    server.default_pod_outcome = lambda node: PodOutcome(
        logs=json.dumps({"schema": "kaudit.nodefacts/v1", "name": node}))
    server.pod_outcomes["worker-2"] = PodOutcome(exit_code=None)          # hangs in ContainerCreating
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "kaudit", "scan", "--kubeconfig", kubeconfig_for(server),
                             "--nodes", "daemonset", "--checks", "4", "--output-dir", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def both_logs_read_and_polled_again() -> bool:
        # A pod list sent after both finished collectors' logs were fetched: kaudit
        # has parsed those logs and moved on to waiting for the third node.
        assert proc.poll() is None, proc.communicate()
        seen: set[str] = set()
        for r in list(server.requests):
            if r.method == "GET" and r.path.startswith("/api/v1/namespaces/kaudit/pods/") and r.path.endswith("/log"):
                pod = next(p for p in server.objects_of("pods") if p["metadata"]["name"] == r.path.split("/")[-2])
                seen.add(pod["spec"]["nodeName"])
            elif seen == {"cp-1", "worker-1"} and r.method == "GET" and r.path == "/api/v1/namespaces/kaudit/pods":
                return True
        return False

    wait_for(both_logs_read_and_polled_again)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr
    assert "SIGTERM" in stderr and "incomplete report written" in stderr
    scan = json.loads((out / "report.json").read_text())["scan"]
    assert scan["complete"] is False and "SIGTERM" in scan["incomplete_reasons"][0]
    assert scan["nodes_inspected"] == ["cp-1", "worker-1"]             # read before the signal: kept
    assert list(scan["nodes_unreachable"]) == ["worker-2"]
    assert "not inspected: the scan was interrupted" in scan["nodes_unreachable"]["worker-2"]
    assert server.created_daemonsets and server.objects_of("daemonsets", "apps") == []
    assert "Score:" in stdout
