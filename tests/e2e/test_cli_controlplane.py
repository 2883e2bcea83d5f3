"""The CLI on saved control-plane node facts: a FAIL next to an ERROR on
the same check still fails the scan (exit 1), and the report says so."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kaudit.model import FileInfo
from tests.unit import factories as fx

ROOT = Path(__file__).resolve().parents[2]


def test_unreadable_super_admin_conf_does_not_hide_a_world_readable_admin_conf(tmp_path):
    cp = fx.node_facts("cp-1")
    cp.files["/etc/kubernetes/admin.conf"] = FileInfo("/etc/kubernetes/admin.conf", True, "file", 0o644, 0, 0,
                                                      "root", "root")
    cp.files["/etc/kubernetes/super-admin.conf"] = FileInfo("/etc/kubernetes/super-admin.conf", True,
                                                            error="permission denied")
    (tmp_path / "cp-1.json").write_text(json.dumps(cp.to_json()))
    manifests = tmp_path / "pods.yaml"
    manifests.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": fx.control_plane_pods()}))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "kaudit", "scan", "--manifests", str(manifests),
                           "--node-facts", str(tmp_path / "cp-1.json"), "--checks", "1.1.13",
                           "--output-dir", str(out), "--format", "json", "-q"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    data = json.loads((out / "report.json").read_text())
    # A FAIL, in a report that is incomplete (a pod dump proves no kind empty): exit 3, not 1.
    assert proc.returncode == 3 and data["scan"]["complete"] is False, proc.stderr
    [result] = data["results"]
    assert result["status"] == "FAIL"
    assert "/etc/kubernetes/admin.conf" in result["message"] and "permission denied" in result["message"]
