"""The shipped RBAC (job/rbac.yaml, job/rbac-daemonset.yaml) is exactly sufficient.

The test API server enforces the ClusterRole of job/rbac.yaml for the
scanner's token: a full scan must read everything with no 403 and give the
same results as an unrestricted token; removing any single resource (or
resourceName) from any rule must make some check ERROR, so no grant is
superfluous.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from apiserver import ResourceType, sample_cluster
from kaudit.catalog import load_catalog
from kaudit.collect.api import ApiSource
from kaudit.collect.node.daemonset import DaemonSetSource
from kaudit.engine import evaluate
from kaudit.model import Facts, Status

JOB = Path(__file__).resolve().parents[2] / "job"
SCANNER = "kaudit-scanner"
ADMIN = "admin-token"

# projectcalico.org/v3 (the Calico API server) is not one of the server's add-ons.
CALICO_V3 = (ResourceType("projectcalico.org", "v3", "networkpolicies", "NetworkPolicy", True, True),
             ResourceType("projectcalico.org", "v3", "globalnetworkpolicies", "GlobalNetworkPolicy", False, True))


def shipped_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((JOB / name).read_text()) if d]


def shipped_cluster_role() -> dict[str, Any]:
    return next(d for d in shipped_docs("rbac.yaml") if d["kind"] == "ClusterRole")


def every_addon_cluster() -> list[dict[str, Any]]:
    """The sample cluster plus one object of every optional type kaudit reads,
    so that a missing grant for any of them is visible."""
    objs = sample_cluster()

    def add(api_version: str, kind: str, name: str, namespace: str | None = None, **body: Any) -> None:
        meta: dict[str, Any] = {"name": name, "uid": f"uid-{kind}-{name}"}
        if namespace:
            meta["namespace"] = namespace
        objs.append({"apiVersion": api_version, "kind": kind, "metadata": meta, **body})

    add("v1", "PersistentVolumeClaim", "data", "default", spec={"accessModes": ["ReadWriteOnce"]})
    add("networking.k8s.io/v1", "Ingress", "web", "default", spec={})
    add("discovery.k8s.io/v1", "EndpointSlice", "kubernetes", "default", addressType="IPv4", endpoints=[])
    add("v1", "ReplicationController", "legacy", "app", spec={"template": {"spec": {"containers": []}}})
    for kind in ("StatefulSet", "DaemonSet"):
        add("apps/v1", kind, kind.lower(), "app", spec={"template": {"spec": {"containers": []}}})
    add("batch/v1", "Job", "once", "app", spec={"template": {"spec": {"containers": []}}})
    add("rbac.authorization.k8s.io/v1", "RoleBinding", "b", "app",
        roleRef={"kind": "Role", "name": "pod-exec", "apiGroup": "rbac.authorization.k8s.io"}, subjects=[])
    add("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "m", webhooks=[])
    add("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "vap", spec={})
    add("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "vapb", spec={})
    add("cilium.io/v2", "CiliumNetworkPolicy", "c", "app", spec={})
    # Cluster-wide policies scoped to `app`: an empty one would select every pod of every
    # namespace, and a namespace one readable policy covers needs no other (5.3.2).
    add("cilium.io/v2", "CiliumClusterwideNetworkPolicy", "cc",
        spec={"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "app"}}})
    add("crd.projectcalico.org/v1", "NetworkPolicy", "p", "app", spec={})
    add("crd.projectcalico.org/v1", "GlobalNetworkPolicy", "g", spec={"namespaceSelector": "projectcalico.org/name == 'app'"})
    add("projectcalico.org/v3", "NetworkPolicy", "p3", "app", spec={})
    add("projectcalico.org/v3", "GlobalNetworkPolicy", "g3", spec={"namespaceSelector": "projectcalico.org/name == 'app'"})
    # Enforcing in kube-system (no Pod Security label there), so its PolicyExceptions matter.
    add("kyverno.io/v1", "ClusterPolicy", "k", spec={"validationFailureAction": "Enforce", "rules": [
        {"name": "privileged", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "validate": {"pattern": {"spec": {"containers": [{"=(securityContext)": {"=(privileged)": "false"}}]}}}}]})
    add("kyverno.io/v2", "PolicyException", "e", "kube-system", spec={
        "exceptions": [{"policyName": "k", "ruleNames": ["other"]}],
        "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["kube-system"]}}]}})
    add("kyverno.io/v1", "Policy", "kp", "app", spec={})
    add("templates.gatekeeper.sh/v1", "ConstraintTemplate", "t", spec={})
    # kubeadm's kube-proxy: its settings (4.3.1) come from the kube-proxy ConfigMap.
    add("apps/v1", "DaemonSet", "kube-proxy", "kube-system", spec={"template": {"spec": {"containers": [
        {"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.2",
         "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"]}]}}})
    return objs


# Grants whose loss changes no result, even on a cluster holding such objects.
# Each is a finding against kaudit itself: either the grant is superfluous
# (drop it from kaudit/collect/permissions.py READS) or a predicate ignores
# that the kind could not be read (fail-open). strict: the test fails once fixed,
# so the entry is removed then. (The kubelet-config and kubeadm-config names
# pass only because a 403 on any one name marks every ConfigMap unavailable,
# kube-proxy's included; no check reads those two.)
KNOWN_GAPS: dict[str, str] = {}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("cis-1.12")


@pytest.fixture
def cluster(make_api_server, kubeconfig_for):
    server = make_api_server(every_addon_cluster(), addons=("cilium", "calico", "kyverno", "gatekeeper"),
                             extra_types=CALICO_V3,
                             tokens={ADMIN: None, SCANNER: shipped_cluster_role()["rules"]}, record=False)
    configs = {ADMIN: kubeconfig_for(server, ADMIN), SCANNER: kubeconfig_for(server, SCANNER)}

    def scan(token: str, catalog) -> tuple[Facts, dict[tuple[str, str], frozenset[Status]]]:
        # a set per target: one check can have several results on the Cluster
        # target (a grouped PASS beside an ERROR for undecided namespaces)
        facts = Facts(cluster=ApiSource(configs[token], max_attempts=1).collect())
        statuses: dict[tuple[str, str], set[Status]] = {}
        for r in evaluate(catalog, facts):
            statuses.setdefault((r.check, r.target.key()), set()).add(r.status)
        return facts, {k: frozenset(v) for k, v in statuses.items()}

    scan.server = server
    return scan


def test_the_shipped_role_reads_everything_a_scan_needs(cluster, catalog):
    facts, statuses = cluster(SCANNER, catalog)
    assert facts.cluster.unavailable == {}
    assert facts.cluster.configz_errors == {}
    assert facts.cluster.load_errors == []
    assert len(facts.cluster.kubelet_configz) == 3
    # Same evidence as an unrestricted token, so the same result for every check and target.
    _, admin_statuses = cluster(ADMIN, catalog)
    assert statuses == admin_statuses


def rule_removals() -> list[tuple[str, int, str, str]]:
    """(label, rule index, field, value) for every resource and resourceName of every rule."""
    out = []
    for i, rule in enumerate(shipped_cluster_role()["rules"]):
        group = rule["apiGroups"][0] or "core"
        for res in rule["resources"]:
            out.append((f"{group}:{res}", i, "resources", res))
        for name in rule.get("resourceNames") or ():
            out.append((f"{group}:{rule['resources'][0]}/{name}", i, "resourceNames", name))
    return out


def removal_params() -> list:
    return [pytest.param(*r, id=r[0], marks=[pytest.mark.xfail(reason=KNOWN_GAPS[r[0]], strict=True)]
                         if r[0] in KNOWN_GAPS else []) for r in rule_removals()]


@pytest.mark.parametrize("label,index,field,value", removal_params())
def test_no_grant_is_superfluous(cluster, catalog, label, index, field, value):
    rules = copy.deepcopy(shipped_cluster_role()["rules"])
    rules[index][field].remove(value)
    if not rules[index][field]:
        del rules[index]
    _, baseline = cluster(ADMIN, catalog)
    cluster.server.tokens[SCANNER] = rules
    facts, statuses = cluster(SCANNER, catalog)
    # Node file checks are ERROR without node access in both scans: only new ERRORs count.
    new_errors = {key for key, status in statuses.items()
                  if Status.ERROR in status and Status.ERROR not in baseline.get(key, ())}
    assert new_errors, f"without {label} no check reports ERROR: the grant looks superfluous"
    # ... and the scan says which grant was missing, instead of passing on less evidence.
    reasons = list(facts.cluster.unavailable.values()) + list(facts.cluster.configz_errors.values())
    assert any("forbidden" in r for r in reasons)


def test_the_daemonset_role_lets_node_collection_create_and_clean_up(make_api_server, kubeconfig_for):
    role = next(d for d in shipped_docs("rbac-daemonset.yaml") if d["kind"] == "Role")
    namespace = role["metadata"]["namespace"]
    rules = shipped_cluster_role()["rules"] + role["rules"]   # the Role applies in its namespace only
    server = make_api_server(sample_cluster(), tokens={SCANNER: rules})
    server.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "uid": "ns-nodes"}})
    config = kubeconfig_for(server, SCANNER)
    cluster_facts = ApiSource(config).collect()
    source = DaemonSetSource(config, namespace=namespace, poll_interval=0.05, timeout=10)
    nodes = source.collect(cluster_facts)
    assert sorted(n.name for n in nodes) == ["cp-1", "worker-1", "worker-2"]
    assert all(n.unreachable is None for n in nodes), [n.unreachable for n in nodes]
    assert source.cleanup_error is None
    assert server.objects_of("daemonsets", "apps") == []
    forbidden = [r for r in server.requests if r.status == 403]
    # Reading the namespace first is allowed to fail (the source then assumes it exists).
    assert all(r.resource == "namespaces" for r in forbidden), forbidden
