"""Node collection over SSH at scale: 50 inventory entries against one real
sshd on loopback, default concurrency; and the collector's own run time.

    .venv/bin/python benchmarks/bench_ssh.py [--nodes 50]

Needs root (sshd logs in as root), /usr/sbin/sshd and ssh-keygen.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kaudit.collect.node.inventory import InventoryNode  # noqa: E402
from kaudit.collect.node.local import collect_local  # noqa: E402
from kaudit.collect.node.ssh import DEFAULT_CONCURRENCY, SshCollector, SshOptions  # noqa: E402
from tests.integration.nodes import free_port, wait_port  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=50)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="kaudit-bench-"))
    d.chmod(0o755)
    for name in ("host_key", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-m", "PEM", "-f", str(d / name)],
                       check=True)
    (d / "ak").mkdir()
    (d / "ak/root").write_text((d / "client.pub").read_text())
    port = free_port()
    os.makedirs("/run/sshd", exist_ok=True)
    (d / "cfg").write_text(textwrap.dedent(f"""\
        Port {port}
        ListenAddress 127.0.0.1
        HostKey {d}/host_key
        AuthorizedKeysFile {d}/ak/%u
        StrictModes no
        UsePAM no
        PermitRootLogin prohibit-password
        MaxStartups 200:30:400
        LogLevel ERROR
        """))
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "cfg")])
    try:
        wait_port(port)
        host_key = (d / "host_key.pub").read_text().split()
        (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        nodes = [InventoryNode(name=f"node-{i:03d}", address="127.0.0.1", port=port, key=str(d / "client"))
                 for i in range(args.nodes)]
        collector = SshCollector(SshOptions(known_hosts=str(d / "known_hosts")))
        started = time.monotonic()
        facts = collector.collect(nodes)
        wall = time.monotonic() - started
        bad = [f"{f.name}: {f.unreachable}" for f in facts if f.unreachable]
        print(f"ssh: {len(nodes)} nodes, concurrency {DEFAULT_CONCURRENCY}: {wall:.2f} s wall "
              f"({len(bad)} unreachable)")
        for line in bad[:5]:
            print("  ", line)
    finally:
        sshd.terminate()
        sshd.wait()
        subprocess.run(["rm", "-rf", str(d)])

    runs = []
    for _ in range(10):
        t = time.monotonic()
        collect_local("/")
        runs.append(time.monotonic() - t)
    print(f"collector locally (sh + parse), 10 runs: median {statistics.median(runs) * 1000:.0f} ms, "
          f"max {max(runs) * 1000:.0f} ms")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
