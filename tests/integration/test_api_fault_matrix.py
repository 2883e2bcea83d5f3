"""Every API fault kind against every core kind, configz, /version and discovery.

One small cluster (tests/integration/apiserver.py::sample_cluster, pages of
2 so every list has later pages), one fault-free baseline scan, then one scan
per (fault, target) through the real client and the wire-level test API
server. Each scan must:

- give no PASS that the baseline does not also give;
- lose no result without an ERROR in its place: every result that differs
  from the baseline (a target gone, a FAIL turned into anything else) leaves
  an ERROR for that check, and a result the baseline does not have is
  never a PASS or a SKIP;
- say `complete` only when nothing failed: a fault that was hit makes the
  report incomplete; a fault that was never hit (a later-page fault on a
  one-page list) changes nothing at all.

Short limits keep it fast: 1 s per request, 2 attempts, pages of 2.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

from apiserver import FakeApiServer, sample_cluster
from kaudit.catalog import load_catalog
from kaudit.collect.api import ApiSource
from kaudit.model import Report, Status
from kaudit.scan import ScanRequest, run_scan

from conftest import PROXY_VARS

CATALOG = load_catalog("cis-1.12")

LIST_TARGETS = {
    "pods": r"^/api/v1/pods$",
    "nodes": r"^/api/v1/nodes$",
    "namespaces": r"^/api/v1/namespaces$",
    "serviceaccounts": r"^/api/v1/serviceaccounts$",
    "roles": r"^/apis/rbac\.authorization\.k8s\.io/v1/roles$",
    "clusterroles": r"^/apis/rbac\.authorization\.k8s\.io/v1/clusterroles$",
    "rolebindings": r"^/apis/rbac\.authorization\.k8s\.io/v1/rolebindings$",
    "clusterrolebindings": r"^/apis/rbac\.authorization\.k8s\.io/v1/clusterrolebindings$",
    "networkpolicies": r"^/apis/networking\.k8s\.io/v1/networkpolicies$",
    "workloads": r"^/apis/(apps|batch)/v1/[a-z]+$|^/api/v1/replicationcontrollers$",
    "webhooks": r"^/apis/admissionregistration\.k8s\.io/v1/(validating|mutating)webhookconfigurations$",
}
OTHER_TARGETS = {
    "configz": r"/proxy/configz$",
    "version": r"^/version$",
    "discovery-apis": r"^/apis$",
    "discovery-group": r"^/apis/rbac\.authorization\.k8s\.io/v1$",
}

# name -> (kind, keyword arguments of FakeApiServer.inject)
FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "403": ("status", {"status": 403}),
    "404": ("status", {"status": 404}),
    "429": ("status", {"status": 429}),
    "500": ("status", {"status": 500}),
    "not-a-list": ("body", {"body": {"kind": "Status", "apiVersion": "v1", "status": "Success"}}),
    "hang": ("hang", {"seconds": 3}),
    "trickle": ("trickle", {"seconds": 0.05}),
    "reset": ("reset", {}),
    "reset-mid-body": ("reset", {"after_bytes": 20}),
}
LIST_ONLY_FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "later-page-404": ("status", {"status": 404, "query": "continue="}),
    "later-page-not-a-list": ("body", {"body": {}, "query": "continue="}),
    "repeat-continue": ("repeat-continue", {}),
    "endless-continue": ("endless-continue", {}),
}

CASES = ([(t, f) for t in LIST_TARGETS for f in [*FAULTS, *LIST_ONLY_FAULTS]]
         + [(t, f) for t in OTHER_TARGETS for f in FAULTS])


@pytest.fixture(scope="module")
def server() -> Iterator[FakeApiServer]:
    saved = {v: os.environ.pop(v) for v in PROXY_VARS if v in os.environ}
    srv = FakeApiServer(sample_cluster(), record=False).start()
    try:
        yield srv
    finally:
        srv.stop()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def kubeconfig(server: FakeApiServer) -> str:
    return str(server.write_kubeconfig(server.tmpdir / "kubeconfig"))


def scan(kubeconfig: str) -> Report:
    source = ApiSource(kubeconfig, page_size=2, request_timeout=1, configz_timeout=1, deadline=60,
                       max_list_pages=20, max_attempts=2, backoff=0.01)
    return run_scan(ScanRequest(catalog=CATALOG, cluster_source=source))


def results(rep: Report) -> set[tuple[str, str, Status]]:
    return {(r.check, f"{r.target.kind}:{r.target.namespace or ''}/{r.target.name}@{r.target.node or ''}",
             r.status) for r in rep.results}


@pytest.fixture(scope="module")
def baseline(server: FakeApiServer, kubeconfig: str) -> Report:
    rep = scan(kubeconfig)
    assert rep.scan.complete and not rep.scan.collection_errors
    return rep


@pytest.mark.parametrize("target,fault", CASES, ids=[f"{t}-{f}" for t, f in CASES])
def test_fault(server: FakeApiServer, kubeconfig: str, baseline: Report, target: str, fault: str) -> None:
    kind, kw = {**FAULTS, **LIST_ONLY_FAULTS}[fault]
    server.faults.clear()
    injected = server.inject({**LIST_TARGETS, **OTHER_TARGETS}[target], kind, **kw)
    try:
        rep = scan(kubeconfig)
    finally:
        server.faults.clear()

    before, after = results(baseline), results(rep)
    if injected.hits == 0:
        # Nothing failed (e.g. a later-page fault on a one-page list): same scan.
        assert after == before and rep.scan.complete
        return
    assert rep.scan.complete is False, "a fault was hit, yet the report claims a complete scan"
    assert rep.scan.incomplete_reasons and rep.scan.collection_errors

    passes = {(c, t) for c, t, s in after if s == Status.PASS}
    assert passes <= {(c, t) for c, t, s in before if s == Status.PASS}, "a PASS the fault-free scan does not give"
    errored = {c for c, _, s in after if s == Status.ERROR}
    lost = {c for c, _, _ in before - after}
    assert lost <= errored, f"results lost without an ERROR: {sorted(lost - errored)}"
    # What the faulty scan adds may be an ERROR, a FAIL (a check that judges
    # more targets when it cannot narrow them down) or a WARN (review); never
    # a PASS, and never a SKIP ("not applicable" on data never read).
    new = {(c, t, s) for c, t, s in after - before if s in (Status.PASS, Status.SKIP)}
    assert not new, f"results the fault-free scan does not give: {sorted(new)}"
