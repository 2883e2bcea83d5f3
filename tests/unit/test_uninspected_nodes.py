"""Node checks the user chose not to run: one result per check, not one ERROR per node (issue 15)."""
from __future__ import annotations

from kaudit.catalog import load_catalog
from kaudit.engine import evaluate
from kaudit.model import NodeFacts, Status
from kaudit.scan import build_report
from tests.unit import factories as f


def _node(name: str, role: str = "worker") -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"uid-{name}",
                         "labels": {"node-role.kubernetes.io/control-plane": ""} if role == "cp" else {}},
            "status": {"nodeInfo": {"kubeletVersion": "v1.30.4"}}}


def _cluster(n_workers: int):
    return f.cluster(*f.control_plane_pods(), _node("cp-1", "cp"),
                     *[_node(f"w-{i:03d}") for i in range(n_workers)])


def test_nodes_none_gives_one_result_per_node_check_not_one_error_per_node():
    catalog = load_catalog("cis-1.12")
    facts = f.facts(_cluster(40))
    facts.node_access = "none"
    results = evaluate(catalog, facts, ["4"])
    per_check: dict[str, list] = {}
    for r in results:
        per_check.setdefault(r.check, []).append(r)
    assert per_check, "section 4 evaluated"
    for check, rs in per_check.items():
        node_rows = [r for r in rs if r.target.kind == "Node"]
        assert not node_rows, f"{check}: {len(node_rows)} per-node rows for nodes nobody asked to inspect"
    collapsed = [r for r in results if "node inspection not requested" in r.message]
    assert collapsed, "the reason says the user did not request node inspection"
    for r in collapsed:
        assert r.status is Status.ERROR           # fail closed: undecided, never PASS
        assert "41 nodes" in r.message
        assert r.target.kind == "Cluster"


def test_unreachable_nodes_stay_one_error_per_node():
    catalog = load_catalog("cis-1.12")
    facts = f.facts(_cluster(3), nodes=[NodeFacts(name=n, transport="ssh", unreachable="connection refused")
                                        for n in ("cp-1", "w-000", "w-001", "w-002")])
    facts.node_access = "ssh"
    results = [r for r in evaluate(catalog, facts, ["4.2.1"])]
    assert {r.target.node for r in results} == {"cp-1", "w-000", "w-001", "w-002"}
    assert all(r.status is Status.ERROR and "connection refused" in r.message for r in results)


def test_nodes_none_is_stated_in_the_scope():
    catalog = load_catalog("cis-1.12")
    facts = f.facts(_cluster(4))
    facts.node_access = "none"
    report = build_report(catalog, facts, evaluate(catalog, facts, ["4.2"]), "2026-01-01T00:00:00Z")
    assert report.scan.nodes_not_inspected == 5
    assert any("node inspection not requested" in s for s in report.scan.evidence_sources)
    assert report.scan.complete   # documented in docs/reports.md: nothing the user asked for failed
