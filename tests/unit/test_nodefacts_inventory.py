"""Inventory validation: errors name the line and field; API nodes pick an address."""
from __future__ import annotations

import pytest

from kaudit.collect.node.inventory import InventoryError, nodes_from_cluster, parse_inventory
from kaudit.model import ClusterFacts, KObject


def test_defaults_jump_by_name_and_roles():
    nodes = parse_inventory("""
defaults: {user: ubuntu, port: 2222, key: keys/id}
nodes:
  - {name: bastion, address: 1.2.3.4, scan: false, user: jump}
  - name: cp-1
    address: 10.0.0.1
    role: control-plane
    jump: bastion
  - {name: etcd-1, address: 10.0.0.9, roles: [etcd], user: root, jump: {address: 5.6.7.8}}
""", "/inv/inventory.yaml")
    assert [n.name for n in nodes] == ["cp-1", "etcd-1"]
    cp, etcd = nodes
    assert (cp.user, cp.port, cp.key, cp.use_sudo) == ("ubuntu", 2222, "/inv/keys/id", True)
    assert (cp.jump.address, cp.jump.user) == ("1.2.3.4", "jump")
    assert etcd.roles == ("etcd",) and not etcd.use_sudo and etcd.jump.port == 22


@pytest.mark.parametrize("text, where", [
    ("nodes:\n  - {name: a, address: x, prot: 22}\n", ":2: nodes[0].prot: unknown field"),
    ("nodes:\n  - name: a\n    address: x\n    port: 70000\n", ":4: nodes[0].port: must be a port"),
    ("nodes:\n  - {name: a}\n", ":2: nodes[0].address: required"),
    ("nodes:\n  - {name: a, address: x}\n  - {name: a, address: y}\n", ":3: nodes[1].name: duplicate"),
    ("nodes:\n  - {name: a, address: x, jump: nowhere}\n", ":2: nodes[0].jump: no inventory entry"),
    ("nodes:\n  - {name: a, address: x, role: master}\n", "nodes[0].role: unknown role"),
    ("nodes: [\n", "not valid YAML"),
    ("defaults: {sudo: maybe}\nnodes: [{name: a, address: x}]\n", ":1: defaults.sudo"),
    ("hosts: []\n", ":1: inventory.hosts: unknown field"),
])
def test_errors_name_line_and_field(text, where):
    with pytest.raises(InventoryError) as e:
        parse_inventory(text, "inv.yaml")
    assert e.value.exit_code == 2
    assert where in str(e.value) and str(e.value).startswith("inv.yaml")


def _node(name, addresses):
    return KObject(kind="Node", api_version="v1", name=name, namespace=None, uid=None, labels={},
                   annotations={}, owners=(), body={"status": {"addresses": addresses}})


def test_nodes_from_cluster_prefers_internal_ip_and_rejects_hostile_addresses():
    cluster = ClusterFacts()
    cluster.add(_node("a", [{"type": "Hostname", "address": "a"}, {"type": "ExternalIP", "address": "1.1.1.1"},
                            {"type": "InternalIP", "address": "10.0.0.1"}]))
    cluster.add(_node("b", [{"type": "Hostname", "address": "b.example"}]))
    cluster.add(_node("c", [{"type": "InternalIP", "address": "-oProxyCommand=x"},
                            {"type": "Hostname", "address": "x;rm -rf"}]))
    nodes, skipped = nodes_from_cluster(cluster, user="admin")
    assert [(n.name, n.address, n.user) for n in nodes] == [("a", "10.0.0.1", "admin"), ("b", "b.example", "admin")]
    assert "no usable address" in skipped["c"]
