"""Parity: the same objects through the live API and through manifest files
give identical KObjects, identity and engine results."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from apiserver import sample_cluster
from kaudit.collect.api import ApiSource
from kaudit.collect.permissions import READS

manifests = pytest.importorskip("kaudit.collect.manifests")


def in_api_scope(obj: dict) -> bool:
    """What a live scan reads by design (no Secrets, only the named
    kube-system ConfigMaps, default-namespace-only kinds in default)."""
    group, _, _version = obj["apiVersion"].rpartition("/")
    meta = obj["metadata"]
    for read in READS:
        if read.group == group and read.kind == obj["kind"]:
            if read.names and meta["name"] not in read.names:
                return False
            return read.namespace is None or meta.get("namespace") == read.namespace
    return False


def comparable(facts) -> dict:
    return {key: sorted((dataclasses.replace(o, origin="") for o in objs), key=lambda o: (o.namespace or "", o.name))
            for key, objs in facts.objects.items() if objs}


@pytest.fixture
def both(api_server, kubeconfig_for, tmp_path: Path):
    api_facts = ApiSource(kubeconfig_for(api_server)).collect()
    dump = tmp_path / "cluster.yaml"
    # Written like `kubectl get -A -o yaml`: one List, items with kind/apiVersion.
    dump.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                    "items": [o for o in sample_cluster() if in_api_scope(o)]}))
    file_facts = manifests.ManifestSource([dump]).collect()
    return api_facts, file_facts


def test_same_kobjects(both):
    api_facts, file_facts = both
    assert comparable(api_facts) == comparable(file_facts)
    assert file_facts.load_errors == [] and api_facts.load_errors == []


def test_same_identity(both):
    api_facts, file_facts = both
    fields = ("version", "platform", "cluster_id", "node_count", "managed_control_plane")
    assert {f: getattr(api_facts.identity, f) for f in fields} == \
        {f: getattr(file_facts.identity, f) for f in fields}


def test_same_engine_results(both):
    engine = pytest.importorskip("kaudit.engine")
    catalog_mod = pytest.importorskip("kaudit.catalog")
    from kaudit.model import Facts
    api_facts, file_facts = both
    # Live kubelet configz is not an object: give both scans the same one.
    file_facts.kubelet_configz = dict(api_facts.kubelet_configz)
    file_facts.configz_errors = dict(api_facts.configz_errors)
    # Nor is the collection record: a plain dump proves only the kinds it holds
    # (kinds the cluster has none of are "not in the input"); an evidence bundle
    # carries the live record (tests/integration/test_evidence_bundle.py).
    file_facts.listed, file_facts.groups = set(api_facts.listed), set(api_facts.groups)
    file_facts.groups_assumed, file_facts.enumerated_groups = False, set(api_facts.enumerated_groups)
    catalog = catalog_mod.load_catalog()
    api_results = engine.evaluate(catalog, Facts(cluster=api_facts))
    file_results = engine.evaluate(catalog, Facts(cluster=file_facts))

    def key(results):
        return sorted((r.check, r.target.key(), r.status.value) for r in results)

    assert key(api_results) == key(file_results)
    assert len(api_results) > 50


def test_forbidden_clusterroles_only_errors_rbac_checks(make_api_server, kubeconfig_for):
    """A token that may not list clusterroles: only RBAC checks change, to ERROR."""
    engine = pytest.importorskip("kaudit.engine")
    from kaudit.catalog import load_catalog
    from kaudit.collect.permissions import cluster_role_rules
    from kaudit.model import Facts, Status
    limited = [dict(r, resources=[x for x in r["resources"] if x != "clusterroles"]) for r in cluster_role_rules()]
    server = make_api_server(tokens={"admin-token": None, "limited": limited})
    catalog = load_catalog()
    full = {(r.check, r.target.key()): r for r in engine.evaluate(
        catalog, Facts(cluster=ApiSource(kubeconfig_for(server)).collect()))}
    part = {(r.check, r.target.key()): r for r in engine.evaluate(
        catalog, Facts(cluster=ApiSource(kubeconfig_for(server, "limited")).collect()))}
    changed = {k for k in set(full) | set(part)
               if (full[k].status if k in full else None) != (part[k].status if k in part else None)}
    assert changed, "removing clusterroles changed nothing"
    assert all(check.startswith("5.1.") for check, _ in changed)
    assert all(part[k].status is Status.ERROR for k in changed if k in part)
    assert any("forbidden: needs list on clusterroles.rbac.authorization.k8s.io" in part[k].message
               for k in changed if k in part)
