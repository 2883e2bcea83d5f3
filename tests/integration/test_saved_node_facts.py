"""`--node-facts DIR` with one bad file among good ones: that node is
unreachable with the file's reason, the other nodes are scanned. Run as an
unprivileged user so a mode-000 file really cannot be read."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from kaudit.collect.node.saved import SavedNodeFactsSource
from kaudit.model import ClusterFacts
from kaudit.resources import demo_dir

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir() -> Iterator[Path]:
    """Not under pytest's 0700 tmp: the unprivileged scan must reach it."""
    base = Path(tempfile.mkdtemp(prefix="kaudit-saved-"))
    base.chmod(0o777)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def facts_dir(base: Path) -> Path:
    d = base / "facts"
    shutil.copytree(demo_dir() / "nodes", d)
    d.chmod(0o755)
    for f in d.iterdir():
        f.chmod(0o644)
    return d


def test_one_unreadable_and_one_malformed_file_are_those_nodes_only(workdir):
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop privileges")
    d = facts_dir(workdir)
    (d / "worker-1.json").chmod(0o000)                               # unreadable
    w2 = json.loads((d / "worker-2.json").read_text())
    w2["files"]["/etc/kubernetes/kubelet.conf"] = {"exists": True, "mode": "rw-r--r--"}
    (d / "worker-2.json").write_text(json.dumps(w2))                 # malformed
    out = workdir / "out"
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "kaudit", "scan", "--manifests", str(demo_dir() / "manifests"),
                           "--node-facts", str(d), "--checks", "4", "--output-dir", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode != 2 and (out / "report.json").exists(), done.stderr
    scan = json.loads((out / "report.json").read_text())["scan"]
    assert scan["nodes_inspected"] == ["cp-1"]
    assert sorted(scan["nodes_unreachable"]) == ["worker-1", "worker-2"]
    assert scan["nodes_unreachable"]["worker-1"] == (f"{d}/worker-1.json: cannot read saved node facts: "
                                                     f"Permission denied")
    assert scan["nodes_unreachable"]["worker-2"].startswith(f"{d}/worker-2.json: not valid saved node facts: ")
    assert "mode: not an octal mode" in scan["nodes_unreachable"]["worker-2"]
    assert scan["complete"] is False
    results = json.loads((out / "report.json").read_text())["results"]
    for node in ("worker-1", "worker-2"):
        mine = {r["status"] for r in results if r["target"]["node"] == node}
        assert mine == {"ERROR"}, (node, mine)
    assert {r["status"] for r in results if r["target"]["node"] == "cp-1"} - {"ERROR"}


@pytest.mark.parametrize("content, reason", [
    ('{"schema": "kaudit.nodefacts/v1", "name": "worker-2", "files": {', "not valid JSON"),
    ("[" * 100000 + "]" * 100000, "JSON nested too deeply"),
    ('["a list"]', "not a JSON object"),
    ('{"schema": "kaudit.nodefacts/v2", "name": "worker-2"}', "unsupported NodeFacts schema"),
    ('{"schema": "kaudit.nodefacts/v1", "name": "worker-2", "roles": "worker"}', "roles: not a list"),
    ('{"schema": "kaudit.nodefacts/v1", "name": "worker-2", "processes": [{"pid": "1", "argv": []}]}',
     "processes[0]: no integer pid"),
    ('{"schema": "kaudit.nodefacts/v1", "name": "worker-2", "files": {"/x": {"exists": "yes"}}}',
     "no boolean exists"),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_malformed_documents_in_a_directory(workdir, content, reason):
    d = facts_dir(workdir)
    path = d / "worker-2.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    facts = {f.name: f for f in SavedNodeFactsSource([str(d)]).collect(ClusterFacts())}
    assert sorted(facts) == ["cp-1", "worker-1", "worker-2"]
    assert facts["cp-1"].unreachable is None and facts["worker-1"].unreachable is None
    assert reason in facts["worker-2"].unreachable and str(path) in facts["worker-2"].unreachable


def test_a_fifo_in_the_directory_does_not_block(workdir):
    d = facts_dir(workdir)
    (d / "worker-2.json").unlink()
    os.mkfifo(d / "worker-2.json")
    facts = {f.name: f for f in SavedNodeFactsSource([str(d)]).collect(ClusterFacts())}
    assert facts["worker-2"].unreachable.endswith("not a regular file")
