"""A node's targets have the same key whichever transport collected it (issue 15)."""
from __future__ import annotations

import copy

from kaudit.catalog import load_catalog
from kaudit.engine import evaluate
from kaudit.model import Facts
from kaudit.scan import canonical_node_names
from tests.unit import kubeadm_node as kn

CATALOG = load_catalog("cis-1.12")


def _keys(transport: str, name: str, hostname: str | None) -> set[tuple[str, str]]:
    nf = copy.deepcopy(kn.worker("worker-1"))
    nf.name, nf.hostname, nf.transport = name, hostname, transport
    node = kn.node_object("worker-1")
    node["metadata"]["labels"] = {"kubernetes.io/hostname": "worker-1"}
    facts = Facts(cluster=kn.cluster(node), nodes=[nf], node_access=transport)
    canonical_node_names(facts)
    return {(r.check, r.target.key()) for r in evaluate(CATALOG, facts, ["4"])}


def test_same_node_same_keys_over_ssh_daemonset_local_and_saved():
    ssh = _keys("ssh", "worker-1", "worker-1")                       # inventory entry named like the Node
    daemonset = _keys("daemonset", "worker-1", "worker-1")           # spec.nodeName
    local = _keys("local", "worker-1.corp.example", "worker-1.corp.example")   # the host's FQDN
    saved = _keys("saved", "worker-1.corp.example", "worker-1.corp.example")
    assert ssh == daemonset == local == saved
    assert all(key.endswith("/worker-1/worker-1") or key.startswith("Cluster/") for _, key in ssh)


def test_ambiguous_or_unknown_host_names_are_left_alone():
    nf = copy.deepcopy(kn.worker("gpu-7.corp.example"))
    facts = Facts(cluster=kn.cluster(kn.node_object("worker-1")), nodes=[nf], node_access="local")
    canonical_node_names(facts)
    assert facts.nodes[0].name == "gpu-7.corp.example"
