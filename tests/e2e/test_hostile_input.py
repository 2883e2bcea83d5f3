"""Hostile input files: refused quickly, with one short line, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "kaudit" / "demo"
# A few hundred bytes that expand to ~500 million nodes ("billion laughs").
BOMB_ANCHORS = "  a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"  {n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def kaudit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kaudit", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def one_short_line(stderr: str, limit: int = 2100) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and len(lines[0]) < limit, stderr[:3000]
    return lines[0]


def test_deeply_nested_json_manifest_is_a_load_error_not_a_traceback(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    proc = kaudit("scan", "--manifests", str(deep), "-q")
    assert proc.returncode == 2
    assert "nested too deeply" in one_short_line(proc.stderr)


def test_deeply_nested_node_facts_are_a_load_error_not_a_traceback(tmp_path):
    (tmp_path / "facts").mkdir()
    (tmp_path / "facts" / "cp-1.json").write_text('{"name": "cp-1", "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    proc = kaudit("scan", "--demo", "--node-facts", str(tmp_path / "facts"), "-q",
                  "--output-dir", str(tmp_path / "out"))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 3, proc.stderr        # that node is not inspected; the scan goes on
    scan = json.loads((tmp_path / "out" / "report.json").read_text())["scan"]
    assert "nested too deeply" in scan["nodes_unreachable"]["cp-1"]


def test_alias_bomb_in_a_pod_is_skipped_and_the_rest_is_scanned(tmp_path):
    dump = tmp_path / "dump.yaml"
    dump.write_text((DEMO / "manifests" / "00-cluster.yaml").read_text()
                    + "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: bomb, namespace: default}\n"
                    + "spec:\n" + BOMB_ANCHORS.replace("  ", "    ").replace("    a:", "  x:\n    a:", 1)
                    + "  containers: [{name: c, image: i}]\n")
    proc = kaudit("scan", "--manifests", str(dump), "--checks", "5.2", "--output-dir", str(tmp_path / "out"), "-q")
    assert "Traceback" not in proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert any("excessive aliasing" in e for e in report["scan"]["collection_errors"])
    assert not any(r["target"]["name"] == "bomb" for r in report["results"])


def test_alias_bomb_kubeconfig_is_refused_in_one_short_line(tmp_path):
    cfg = tmp_path / "kubeconfig"
    cfg.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncurrent-context: x\n"
                   "contexts:\n- name: x\n  context: {cluster: c, user: u}\npreferences:\n" + BOMB_ANCHORS)
    assert len(cfg.read_bytes()) < 700
    proc = kaudit("scan", "--kubeconfig", str(cfg), "-q")
    assert proc.returncode == 2
    assert "excessive aliasing" in one_short_line(proc.stderr, limit=400)


@pytest.mark.parametrize("option, name", [("--kubeconfig", "kubeconfig"), ("--inventory", "inventory"),
                                          ("--waivers", "waiver file")])
def test_huge_configuration_files_are_refused_unread(tmp_path, option, name):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(200 * 2**20)                 # sparse: 200 MB of NULs, nothing written
    args = ["scan", "--demo", option, str(big), "-q"]
    if option == "--inventory":
        args[2:2] = ["--nodes", "ssh"]
    if option == "--kubeconfig":
        args = ["scan", option, str(big), "-q"]
    proc = kaudit(*args)
    assert proc.returncode == 2, proc.stderr
    line = one_short_line(proc.stderr, limit=400)
    assert "200.0 MiB" in line and name in line
