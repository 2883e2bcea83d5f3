"""Faulty SSH nodes through the CLI, with a real sshd: a node that refuses,
hangs, presents a changed host key, cuts the collector's output short or
drops the connection mid-handshake is one line on stderr and an unreachable
node in the report; never a traceback, never an inspected node with lost
results."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from kaudit.collect.node.inventory import InventoryNode
from kaudit.collect.node.ssh import SshCollector, SshOptions
from nodes import SshdServer, client_key, etcd_pki, free_port, pause_exe, sshd  # noqa: F401
from test_node_ssh import cluster_nodes, keys  # noqa: F401

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _listener(handle) -> tuple[int, socket.socket]:
    """A TCP server on loopback whose every connection goes to `handle`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1], server


@pytest.fixture
def forwarder(sshd: SshdServer) -> Iterator[int]:
    """Another port onto the same sshd: known_hosts can hold a different key for it."""
    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle(conn: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", sshd.port))
        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()
        pipe(conn, upstream)

    port, server = _listener(handle)
    yield port
    server.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (no SSH banner)."""
    held: list[socket.socket] = []
    port, server = _listener(held.append)
    yield port
    server.close()
    for conn in held:
        conn.close()


@pytest.fixture
def garbage_server() -> Iterator[int]:
    """Answers with an SSH banner, then bytes that are no SSH packet, and hangs up."""
    def handle(conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n" + b"\x00\x00\x00\x10not an ssh packet" * 4)
        conn.close()
    port, server = _listener(handle)
    yield port
    server.close()


def _forced(sshd: SshdServer, directory: Path, name: str, script: str) -> Path:
    """A key whose sessions run `script` (with the collector's command in $SSH_ORIGINAL_COMMAND)."""
    key = client_key(directory, name)
    command = directory / f"{name}.sh"
    command.write_text("#!/bin/sh\n" + script + "\n")
    command.chmod(0o755)
    sshd.authorize(key.with_suffix(".pub"), command=str(command))
    return key


def test_faulty_nodes_are_one_line_each_and_unreachable(sshd, cluster_nodes, forwarder, garbage_server,
                                                        tmp_path):
    _, worker_key = cluster_nodes["worker-1"]
    # The collector runs, but only its first 5 lines get through (a record boundary), exit 0.
    cut_key = _forced(sshd, tmp_path, "cut", '/bin/sh -c "$SSH_ORIGINAL_COMMAND" | head -n 6')
    hang_key = _forced(sshd, tmp_path, "hang", "sleep 30")
    inventory = tmp_path / "nodes.yaml"
    inventory.write_text(f"""
defaults: {{port: {sshd.port}, user: root}}
nodes:
  - {{name: worker-1, address: 127.0.0.1, key: {worker_key}}}
  - {{name: refuses, address: 127.0.0.1, port: {free_port()}, key: {worker_key}}}
  - {{name: hangs, address: 127.0.0.1, key: {hang_key}}}
  - {{name: impostor, address: 127.0.0.1, port: {forwarder}, key: {worker_key}}}
  - {{name: cut-short, address: 127.0.0.1, key: {cut_key}}}
  - {{name: hangs-up, address: 127.0.0.1, port: {garbage_server}, key: {worker_key}}}
""")
    other = client_key(tmp_path, "other-host-key").with_suffix(".pub").read_text().split()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_key_pub}\n"
                           f"[127.0.0.1]:{forwarder} {other[0]} {other[1]}\n"
                           f"[127.0.0.1]:{garbage_server} {sshd.host_key_pub}\n")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system, uid: abc}\n")
    done = subprocess.run([sys.executable, "-m", "kaudit", "scan", "--manifests", str(cluster),
                           "--nodes", "ssh", "--inventory", str(inventory), "--known-hosts", str(known_hosts),
                           "--ssh-timeout", "3", "--checks", "4", "--output-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    err = done.stderr
    assert "Traceback" not in err and "paramiko" not in err and "Exception (client)" not in err, err
    lines = err.splitlines()
    expected = {
        "refuses": "cannot connect to 127.0.0.1",
        "hangs": "collector did not finish within 3 s",
        "impostor": "has CHANGED",
        "cut-short": "collector output cut short after 5 records (no END record)",
        "hangs-up": "closed the connection during the SSH handshake",
    }
    port = {"refuses": None, "impostor": forwarder, "hangs-up": garbage_server}
    for name, why in expected.items():
        mine = [ln for ln in lines if ln.startswith(f"kaudit: node {name} (127.0.0.1:")]
        assert len(mine) == 1, (name, err)
        assert why in mine[0], (name, mine[0])
        if port.get(name):
            assert mine[0].startswith(f"kaudit: node {name} (127.0.0.1:{port[name]}): ")
    assert not [ln for ln in lines if "worker-1" in ln]

    scan = json.loads((tmp_path / "out" / "report.json").read_text())["scan"]
    assert scan["nodes_inspected"] == ["worker-1"] and scan["complete"] is False
    assert sorted(scan["nodes_unreachable"]) == sorted(expected)
    assert scan["nodes_unreachable"]["cut-short"].startswith("collector output cut short after 5 records")
    assert done.returncode in (1, 3), err


def test_a_silent_server_is_a_handshake_timeout(silent_server, tmp_path, capfd):
    node = InventoryNode(name="mute", address="127.0.0.1", port=silent_server)
    facts = SshCollector(SshOptions(known_hosts=str(tmp_path / "known_hosts"), connect_timeout=1)).collect([node])
    assert facts[0].unreachable == (f"ssh to root@127.0.0.1:{silent_server} failed: "
                                    f"the SSH handshake did not complete within 1 s")
    err = capfd.readouterr().err
    assert err == f"kaudit: node mute (127.0.0.1:{silent_server}): {facts[0].unreachable}\n"


def test_hostile_stderr_stays_on_one_line(sshd, tmp_path, capfd):
    key = _forced(sshd, tmp_path, "noisy", "printf 'boom\\n\\033]0;owned\\007\\nScore: 100%%\\n' >&2; exit 7")
    node = InventoryNode(name="noisy", address="127.0.0.1", port=sshd.port, key=str(key))
    options = SshOptions(known_hosts=str(sshd.known_hosts(tmp_path / "known_hosts")), connect_timeout=5)
    facts = SshCollector(options).collect([node])
    assert "exited 7" in facts[0].unreachable
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "\033" not in err and "\x07" not in err
    assert err.startswith(f"kaudit: node noisy (127.0.0.1:{sshd.port}): ")
