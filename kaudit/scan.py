"""One scan: collect once (sources), evaluate pure (engine), build the Report.

The CLI only parses arguments and calls `run_scan`; everything here is
usable from Python (the in-cluster Job entry point, tests, benchmarks).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kaudit import __version__
from kaudit.catalog import Catalog
from kaudit.collect import ClusterSource, NodeSource, Progress, no_progress
from kaudit.engine import evaluate
from kaudit.gcpause import paused_gc
from kaudit.model import NODE, ClusterFacts, Facts, NodeFacts, Report, Result, ScanInfo


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class ScanRequest:
    catalog: Catalog
    cluster_source: ClusterSource | None
    node_source: NodeSource | None = None
    node_access: str = "none"
    only_checks: list[str] = field(default_factory=list)
    progress: Progress = no_progress


def collect(req: ScanRequest) -> Facts:
    cluster = req.cluster_source.collect(req.progress) if req.cluster_source else ClusterFacts()
    nodes: list[NodeFacts] = []
    if req.node_source is not None:
        nodes = req.node_source.collect(cluster, req.progress)
    return Facts(cluster=cluster, nodes=nodes, node_access=req.node_access)


def build_report(catalog: Catalog, facts: Facts, results: list[Result], started: str,
                 finished: str | None = None, incomplete: list[str] | None = None) -> Report:
    cluster = facts.cluster
    collection_errors = list(cluster.load_errors)
    collection_errors += [f"{kind}: {why}" for kind, why in sorted(cluster.unavailable.items())]
    collection_errors += [f"configz of node {n}: {why}" for n, why in sorted(cluster.configz_errors.items())]
    for nf in facts.nodes:
        collection_errors += [f"node {nf.name}: {e}" for e in nf.errors]
    sources = [cluster.evidence_bundle] if cluster.evidence_bundle else []
    if cluster.source == "api":
        sources.append(f"Kubernetes API server {cluster.identity.api_server or ''}".strip())
        if cluster.kubelet_configz:
            sources.append(f"live kubelet configuration (configz) of {len(cluster.kubelet_configz)} node(s)")
    elif cluster.source in ("manifests", "demo"):
        sources.append(f"{'bundled demo cluster' if cluster.source == 'demo' else 'manifest files'}: "
                       f"{sum(len(v) for v in cluster.objects.values())} objects")
    inspected = [n.name for n in facts.nodes if not n.unreachable]
    unreachable = {n.name: n.unreachable for n in facts.nodes if n.unreachable}
    if facts.nodes:
        sources.append(f"node inspection ({facts.node_access}) of {len(inspected)} host(s)"
                       + (f", {len(unreachable)} unreachable" if unreachable else ""))
    reasons = list(incomplete or [])
    if unreachable:
        reasons.append(f"{len(unreachable)} node(s) could not be inspected")
    cut_short = [n.name for n in facts.nodes if not n.unreachable and n.cut_short]
    if cut_short:
        reasons.append(f"{len(cut_short)} node(s) only partly inspected (collector output cut short): "
                       f"{', '.join(cut_short[:5])}")
    if cluster.unavailable:
        reasons.append(f"{len(cluster.unavailable)} resource type(s) could not be read")
    unlisted = sum(len(nf.list_errors) for nf in facts.nodes)
    if unlisted:
        reasons.append(f"{unlisted} directory listing(s) on nodes could not be completed")
    reasons += completeness_reasons(cluster)
    if cluster.assumed_absent:
        sources.append("taken as not installed (no object or CustomResourceDefinition of their API group in the "
                       "input): " + ", ".join(sorted(cluster.assumed_absent)))
    scan = ScanInfo(
        started=started, finished=finished or utc_now(), benchmark=catalog.benchmark,
        benchmark_title=catalog.title, benchmark_version=catalog.version,
        cluster=cluster.identity, source=cluster.source, node_access=facts.node_access,
        nodes_inspected=inspected, nodes_unreachable=unreachable,
        complete=not reasons, incomplete_reasons=reasons,
        collection_errors=collection_errors, evidence_sources=sources)
    return Report(tool={"name": "kaudit", "version": __version__}, scan=scan, results=results)


def completeness_reasons(cluster: ClusterFacts) -> list[str]:
    """Why the cluster data the checks needed is not whole: kinds a check needed
    that the source never read, no Node objects, documents skipped."""
    reasons = []
    cluster.missing(NODE)       # every scan needs the node list (sections 1-4 and the cover)
    for kind, why in sorted(cluster.needed_missing.items()):
        if kind not in cluster.unavailable:      # those are counted above
            reasons.append(f"{kind} objects are {why}")
    if cluster.source in ("manifests", "demo") and cluster.load_errors:
        reasons.append(f"{len(cluster.load_errors)} document(s) of the input were skipped as malformed")
    return reasons


def run_scan(req: ScanRequest, on_facts: Callable[[Facts], None] | None = None) -> Report:
    started = utc_now()
    with paused_gc():      # large acyclic data: cycle detection only costs time (kaudit/gcpause.py)
        facts = collect(req)
        if on_facts:
            on_facts(facts)
        req.progress("evaluating checks")
        results = evaluate(req.catalog, facts, req.only_checks or None)
        return build_report(req.catalog, facts, results, started)


def save_facts(facts: Facts, directory: Path) -> None:
    """Write the node facts (one JSON per node) so the scan can be re-evaluated offline."""
    import json

    from kaudit.report import write_atomic
    for nf in facts.nodes:
        safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in nf.name)
        write_atomic(directory / f"{safe}.json", json.dumps(nf.to_json(), indent=1).encode())
