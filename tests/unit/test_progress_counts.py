"""Progress says how far the scan is: files and objects read, nodes inspected N of M (issue 15)."""
from __future__ import annotations

import socket

from kaudit.collect.manifests import ManifestSource
from kaudit.collect.node.inventory import InventoryNode
from kaudit.collect.node.ssh import SshCollector, SshOptions


def test_ssh_progress_counts_nodes_inspected(tmp_path):
    with socket.socket() as s:          # a port nothing listens on: every node unreachable, fast
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nodes = [InventoryNode(name=f"n{i}", address="127.0.0.1", port=port, user="root") for i in range(3)]
    messages: list[str] = []
    SshCollector(SshOptions(known_hosts=str(tmp_path / "kh"), concurrency=2,
                            connect_timeout=2)).collect(nodes, messages.append)
    counted = sorted(m.split(":")[0] for m in messages if m.startswith("nodes inspected"))
    assert counted == ["nodes inspected 1 of 3", "nodes inspected 2 of 3", "nodes inspected 3 of 3"]


def test_manifest_progress_counts_files_and_objects(tmp_path):
    for i in range(2):
        (tmp_path / f"{i}.yaml").write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{i}}}\n")
    messages: list[str] = []
    ManifestSource([tmp_path]).collect(messages.append)
    assert any(m.startswith("reading file 1 of 2 (0 objects so far)") for m in messages)
    assert any(m.startswith("reading file 2 of 2 (1 objects so far)") for m in messages)
