"""`kaudit scan --nodes ssh` end to end: real sshd, real namespaced nodes, the CLI.

The same results must come from the saved facts of that scan (`--node-facts`).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nodes import SshdServer, etcd_pki, free_port, pause_exe, sshd  # noqa: F401
from test_node_ssh import cluster_nodes, keys  # noqa: F401

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def kaudit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kaudit", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=180)


def by_check_and_node(report: Path) -> dict[tuple[str, str], str]:
    results = json.loads(report.read_text())["results"]
    return {(r["check"], r["target"]["node"] or r["target"]["name"]): r["status"]
            for r in results if r["check"][0] in "1234"}


def test_ssh_scan_reports_each_node_and_matches_saved_facts(sshd, cluster_nodes, tmp_path):
    (_, cp_key), (_, worker_key) = cluster_nodes["cp-1"], cluster_nodes["worker-1"]
    inventory = tmp_path / "nodes.yaml"
    inventory.write_text(f"""
defaults: {{port: {sshd.port}, user: root}}
nodes:
  - {{name: cp-1, address: 127.0.0.1, key: {cp_key}}}
  - {{name: worker-1, address: 127.0.0.1, key: {worker_key}}}
  - {{name: worker-9, address: 127.0.0.1, port: {free_port()}, key: {worker_key}, role: worker}}
""")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system, uid: abc}\n")
    known_hosts = sshd.known_hosts(tmp_path / "known_hosts")
    live = kaudit("scan", "--manifests", str(cluster), "--nodes", "ssh", "--inventory", str(inventory),
                  "--known-hosts", str(known_hosts), "--checks", "1,2,3,4",
                  "--save-facts", str(tmp_path / "facts"), "--output-dir", str(tmp_path / "live"))
    assert live.returncode == 3, live.stderr           # FAILs found, but worker-9 was not inspected
    got = by_check_and_node(tmp_path / "live" / "report.json")

    # The evidence the namespaced nodes were built with decides each verdict.
    assert got[("2.2", "cp-1")] == "PASS"          # real etcd runs with --client-cert-auth
    assert got[("1.1.12", "cp-1")] == "PASS"       # /var/lib/etcd owned by etcd:etcd
    assert got[("1.1.11", "cp-1")] == "PASS"       # ... mode 700
    assert got[("1.1.1", "cp-1")] == "FAIL"        # kube-apiserver manifest at 0640
    assert got[("1.2.2", "cp-1")] == "FAIL"        # --token-auth-file is set
    assert got[("1.2.15", "cp-1")] == "PASS"       # --profiling=false
    assert got[("1.2.28", "cp-1")] == "PASS"       # aescbc first (secret redacted on the node)
    assert got[("4.2.1", "worker-1")] == "PASS"    # anonymous auth off in the config file
    assert got[("4.1.9", "worker-1")] == "PASS"    # config file at 0600
    assert got[("4.1.8", "worker-1")] == "FAIL"    # client CA group is gid 4242
    # the unreachable host is an ERROR on its checks, not an absence
    assert got[("4.2.1", "worker-9")] == "ERROR" and got[("4.1.9", "worker-9")] == "ERROR"
    report = json.loads((tmp_path / "live" / "report.json").read_text())
    assert "worker-9" in report["scan"]["nodes_unreachable"] and report["scan"]["complete"] is False

    saved = kaudit("scan", "--manifests", str(cluster), "--node-facts", str(tmp_path / "facts"),
                   "--checks", "1,2,3,4", "--output-dir", str(tmp_path / "saved"))
    assert saved.returncode == 3, saved.stderr         # the saved facts say worker-9 was unreachable
    assert by_check_and_node(tmp_path / "saved" / "report.json") == got
