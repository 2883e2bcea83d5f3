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
    cluster_name: str | None = None      # --cluster-name: overrides the context / API host name
    command_line: list[str] = field(default_factory=list)   # redacted (kaudit.attribution)


def collect(req: ScanRequest) -> Facts:
    cluster = req.cluster_source.collect(req.progress) if req.cluster_source else ClusterFacts()
    if req.cluster_name:
        cluster.identity.name = req.cluster_name
    nodes: list[NodeFacts] = []
    if req.node_source is not None:
        nodes = req.node_source.collect(cluster, req.progress)
    facts = Facts(cluster=cluster, nodes=nodes, node_access=req.node_access)
    canonical_node_names(facts)
    return facts


def canonical_node_names(facts: Facts) -> None:
    """Name each inspected host after its Node object, so a node's targets
    have the same key (trends, waivers, JUnit names) whether it was reached
    over ssh (inventory name), daemonset (spec.nodeName), local or saved
    facts (the host name, often a FQDN). A name is changed only when exactly
    one Node matches it (by name, its kubernetes.io/hostname label, or the
    first label of a FQDN) and no other host already has that name."""
    by_name = {n.name: n for n in facts.cluster.of_kind(NODE)}
    if not by_name:
        return
    taken = {nf.name for nf in facts.nodes}
    for nf in facts.nodes:
        if nf.name in by_name:
            continue
        seen = {h for h in (nf.name, nf.hostname) if h}
        seen |= {h.split(".", 1)[0] for h in list(seen)}
        matches = {name for name, node in by_name.items()
                   if name in seen or node.labels.get("kubernetes.io/hostname") in seen}
        if len(matches) == 1:
            (name,) = matches
            if name not in taken:
                taken.discard(nf.name)
                taken.add(name)
                nf.name = name


def build_report(catalog: Catalog, facts: Facts, results: list[Result], started: str,
                 finished: str | None = None, incomplete: list[str] | None = None,
                 command_line: list[str] | None = None) -> Report:
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
    inspected_names = {n.name for n in facts.nodes}
    not_inspected = sum(1 for n in cluster.of_kind(NODE) if n.name not in inspected_names)
    if not_inspected and facts.node_access == "none":
        # A scope the user chose, not a failure: the scan stays complete (docs/reports.md).
        sources.append(f"node inspection not requested (--nodes none): {not_inspected:,} node(s) "
                       f"not inspected; their file and process checks are ERROR, one per check")
    elif not_inspected:
        sources.append(f"{not_inspected:,} node(s) of the cluster not covered by node access "
                       f"({facts.node_access}); their file and process checks are ERROR, one per check")
    reasons = list(incomplete or [])
    if unreachable:
        reasons.append(f"{len(unreachable)} node(s) could not be inspected")
    cut_short = [n.name for n in facts.nodes if not n.unreachable and n.cut_short]
    if cut_short:
        reasons.append(f"{len(cut_short)} node(s) only partly inspected (collector output cut short): "
                       f"{', '.join(cut_short[:5])}")
    if cluster.unavailable:
        reasons.append(f"{len(cluster.unavailable)} resource type(s) could not be read")
    if cluster.configz_errors:
        reasons.append(f"the live kubelet configuration (configz) of {len(cluster.configz_errors)} node(s) "
                       f"could not be read")
    if cluster.source == "api" and not cluster.identity.version:
        reasons.append("the API server's version (/version) could not be read")
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
        nodes_inspected=inspected, nodes_unreachable=unreachable, nodes_not_inspected=not_inspected,
        complete=not reasons, incomplete_reasons=reasons,
        collection_errors=collection_errors, evidence_sources=sources,
        operator=cluster.operator or "unknown", command_line=list(command_line or ()),
        image=cluster.image or "unknown", catalog_sha256=catalog.sha256)
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
        return build_report(req.catalog, facts, results, started, command_line=req.command_line)


def save_facts(facts: Facts, directory: Path) -> None:
    """Write the node facts (one JSON per node) so the scan can be re-evaluated offline."""
    import json

    from kaudit.report import write_atomic
    for nf in facts.nodes:
        safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in nf.name)
        write_atomic(directory / f"{safe}.json", json.dumps(nf.to_json(), indent=1).encode())
