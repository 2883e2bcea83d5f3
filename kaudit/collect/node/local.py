"""Run the node collector on this machine (`kaudit node-facts`, --nodes local).

The same collect.sh the ssh transport sends, run with /bin/sh as a
subprocess; `root` lets a container inspect the host filesystem mounted at
e.g. /host (the paths reported are the host's, without the prefix).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
from importlib import resources

from kaudit.collect import NodeSource, Progress, SourceError, no_progress
from kaudit.collect.node.parse import parse_collector_output
from kaudit.model import ClusterFacts, NodeFacts

DEFAULT_TIMEOUT = 60.0
# What the collector needs on PATH; the caller's PATH may be minimal (cron, a pod).
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def collector_script() -> bytes:
    """The bytes of collect.sh (shipped as package data)."""
    return resources.files("kaudit.collect.node").joinpath("collect.sh").read_bytes()


def collect_local(root: str = "/", node_name: str | None = None, *,
                  proc: str | None = None, shell: str = "/bin/sh",
                  timeout: float = DEFAULT_TIMEOUT) -> NodeFacts:
    """Run the collector here and parse its record. A collector that cannot
    run (no shell, timeout, garbage output) raises SourceError: there is no
    other host to fall back on."""
    env = {"PATH": os.environ.get("PATH", _PATH) + ":" + _PATH, "KAUDIT_ROOT": root}
    if proc:
        env["KAUDIT_PROC"] = proc
    try:
        done = subprocess.run([shell, "-s"], input=collector_script(), env=env,
                              capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise SourceError(f"cannot run the node collector: {shell} not found") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"node collector did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()[-500:]
        raise SourceError(f"node collector failed (exit {done.returncode}): {stderr}")
    try:
        facts = parse_collector_output(done.stdout, node_name or "", "local")
    except ValueError as exc:
        raise SourceError(f"node collector output unreadable: {exc}") from None
    facts.name = node_name or facts.hostname or socket.gethostname()
    return facts


def node_facts_main(root: str = "/", node_name: str | None = None, proc: str | None = None) -> str:
    """`kaudit node-facts [--root /host] [--node-name N]`: this node's
    NodeFacts as JSON (what SavedNodeFactsSource reads back)."""
    return json.dumps(collect_local(root, node_name, proc=proc).to_json(), indent=2, sort_keys=False) + "\n"


class LocalSource(NodeSource):
    """--nodes local: the machine kaudit runs on is the one node inspected."""
    name = "local"

    def __init__(self, root: str = "/", node_name: str | None = None) -> None:
        self.root = root
        self.node_name = node_name

    def collect(self, cluster: ClusterFacts, progress: Progress = no_progress) -> list[NodeFacts]:
        progress("collecting node facts locally")
        return [collect_local(self.root, self.node_name)]
