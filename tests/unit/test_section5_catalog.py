"""The section 5 catalog file and the manual/namespace checks (5.4.2, 5.5.1, 5.6.1, 5.6.4)."""
from __future__ import annotations

import csv
from pathlib import Path

import yaml

from kaudit.catalog import _parse_check
from kaudit.rules.predicates import registered
from tests.unit.section5_helpers import (CHECKS_FILE, facts_of, make_deployment_with_pods, make_namespace, make_pod,
                                         make_sa, populated, run, statuses)

TSV = Path(__file__).resolve().parents[3] / "shared" / "reference" / "cis-1.12-recommendations.tsv"


def test_all_34_section5_checks_match_the_tsv_and_name_registered_predicates():
    checks = [_parse_check(raw, CHECKS_FILE) for raw in yaml.safe_load(CHECKS_FILE.read_text())["checks"]]
    assert len(checks) == 34
    names = set(registered())
    for c in checks:
        assert c.rule["predicate"] in names, c.id
        assert c.references and all(r.startswith("https://") for r in c.references)
    if TSV.exists():
        rows = {r["id"]: r for r in csv.DictReader(TSV.open(), delimiter="\t") if r["id"].startswith("5.")}
        assert set(rows) == {c.id for c in checks}
        for c in checks:
            assert c.title == rows[c.id]["title"] and c.cis_label == rows[c.id]["cis_label"], c.id


def test_default_namespace_use():
    builtin = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default"},
         "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1"}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kubernetes", "namespace": "default"}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "default"}},
        make_sa("default", "default"),
    ]
    clean = statuses(run("5.6.4", facts_of(make_namespace("default"), builtin)))
    assert clean[("Namespace", None, "default")] == "PASS"
    used = run("5.6.4", facts_of(make_namespace("default"), builtin,
                                 make_deployment_with_pods("hello", "default", replicas=3)))
    assert statuses(used)[("Namespace", None, "default")] == "FAIL"
    # one object reported: the Deployment, not its ReplicaSet or pods
    assert len(used[0].evidence) == 1 and used[0].evidence[0].what == "Deployment default/hello"


def test_manual_checks_warn_with_evidence():
    ns = [make_namespace(n) for n in ("default", "kube-system", "shop", "payments")]
    eso = {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
           "metadata": {"name": "db", "namespace": "payments"}, "spec": {"secretStoreRef": {"name": "vault"}}}
    r542 = run("5.4.2", facts_of(ns, eso))[0]
    assert r542.status.value == "WARN" and "External Secrets Operator ExternalSecret" in r542.message
    r551 = run("5.5.1", facts_of(ns))[0]
    assert r551.status.value == "WARN" and any("kube-apiserver" in e.source for e in r551.evidence)
    r561 = run("5.6.1", facts_of(ns))[0]
    assert r561.status.value == "WARN" and {e.what for e in r561.evidence} >= {"namespace shop", "namespace payments"}


def test_manual_5_5_1_reads_api_server_admission_plugins():
    apiserver = make_pod("kube-apiserver-cp-1", "kube-system", {
        "hostNetwork": True, "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.30.2",
                                             "command": ["kube-apiserver",
                                                         "--enable-admission-plugins=NodeRestriction,ImagePolicyWebhook",
                                                         "--admission-control-config-file=/etc/kubernetes/admission.yaml"]}]},
        owners=[{"apiVersion": "v1", "kind": "Node", "name": "cp-1", "uid": "n", "controller": True}],
        labels={"component": "kube-apiserver"})
    r = run("5.5.1", facts_of(apiserver))[0]
    assert r.status.value == "WARN"
    assert any(e.what == "ImagePolicyWebhook admission plugin" and e.value == "enabled" for e in r.evidence)


def test_psa_cluster_default_from_admission_configuration():
    from kaudit.model import NodeFacts
    apiserver = make_pod("kube-apiserver-cp-1", "kube-system", {
        "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.30.2",
                        "command": ["kube-apiserver", "--admission-control-config-file=/etc/kubernetes/adm.yaml"]}],
        "nodeName": "cp-1"},
        owners=[{"apiVersion": "v1", "kind": "Node", "name": "cp-1", "uid": "n", "controller": True}],
        labels={"component": "kube-apiserver"}, node="cp-1")
    facts = facts_of(populated(make_namespace("shop"), make_namespace("kube-system"),
                               make_namespace("legacy", "privileged")), apiserver)
    facts.nodes.append(NodeFacts(name="cp-1", contents={"/etc/kubernetes/adm.yaml": """
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, audit: restricted}
    exemptions: {namespaces: [kube-system]}
"""}))
    st = statuses(run("5.2.2", facts))
    assert st[("Namespace", None, "shop")] == "PASS"            # cluster default baseline
    assert st[("Namespace", None, "kube-system")] == "FAIL"     # exempt
    assert st[("Namespace", None, "legacy")] == "FAIL"          # label overrides the default


def test_demo_apps_manifest_shows_the_intended_failures():
    from kaudit.resources import demo_dir
    docs = []
    for path in sorted((demo_dir() / "manifests").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    facts = facts_of(docs)
    assert statuses(run("5.2.2", facts))[("DaemonSet", "logging", "log-shipper")] == "FAIL"
    assert statuses(run("5.2.11", facts))[("DaemonSet", "logging", "log-shipper")] == "FAIL"
    assert statuses(run("5.1.3", facts))[("ClusterRole", None, "log-shipper-admin")] == "FAIL"
    assert statuses(run("5.4.1", facts))[("Deployment", "shop", "cart")] == "FAIL"
    net = statuses(run("5.3.2", facts))
    assert net[("Namespace", None, "shop")] == "PASS" and net[("Namespace", None, "monitoring")] == "FAIL"
    ps = statuses(run("5.2.6", facts))
    assert ps[("Namespace", None, "payments")] == "PASS" and ps[("Namespace", None, "logging")] == "FAIL"
    assert ("Deployment", "shop", "web") not in statuses(run("5.6.3", facts))   # hardened
