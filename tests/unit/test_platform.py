"""detect_identity: platform and managed control plane from ClusterFacts alone."""
from __future__ import annotations

from typing import Any

import pytest

from kaudit.collect.platform import detect_identity
from kaudit.collect.trim import to_kobject
from kaudit.model import NODE, POD, ClusterFacts


def node(name: str, labels: dict[str, str] | None = None, provider: str | None = None) -> dict[str, Any]:
    spec = {"providerID": provider} if provider else {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def pod(name: str, namespace: str = "kube-system", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


def facts(*raw: dict[str, Any], version: str = "v1.30.2", unavailable: dict[str, str] | None = None) -> ClusterFacts:
    cluster = ClusterFacts()
    cluster.identity.version = version
    for r in raw:
        cluster.add(to_kobject(r))
    cluster.unavailable.update(unavailable or {})
    detect_identity(cluster)
    return cluster


WORKER = node("w1", provider="aws:///eu-west-1a/i-1")
DNS = pod("coredns-abc", labels={"k8s-app": "kube-dns"})


@pytest.mark.parametrize("version, platform, managed", [
    ("v1.29.3-eks-adc7111", "eks", True),
    ("v1.30.5-gke.1014001", "gke", True),
    ("v1.30.4+k3s1", "k3s", False),
    ("v1.30.4+rke2r1", "rke2", False),
])
def test_version_suffix(version, platform, managed):
    ident = facts(WORKER, DNS, version=version).identity
    assert (ident.platform, ident.managed_control_plane) == (platform, managed)


@pytest.mark.parametrize("label, platform", [
    ("eks.amazonaws.com/nodegroup", "eks"),
    ("cloud.google.com/gke-nodepool", "gke"),
    ("kubernetes.azure.com/cluster", "aks"),
])
def test_managed_node_labels(label, platform):
    ident = facts(node("w1", {label: "pool-1"}), DNS).identity
    assert ident.platform == platform and ident.managed_control_plane is True


def test_openshift_is_not_managed_by_label_alone():
    ident = facts(node("m1", {"node.openshift.io/os_id": "rhcos", "node-role.kubernetes.io/master": ""}),
                  pod("kube-apiserver-m1", "openshift-kube-apiserver", {"app": "openshift-kube-apiserver"})).identity
    assert ident.platform == "openshift" and ident.managed_control_plane is False


def test_kubeadm_static_pods():
    ident = facts(node("cp", {"node-role.kubernetes.io/control-plane": ""}, "aws:///x/i-2"), WORKER,
                  pod("kube-apiserver-cp", labels={"component": "kube-apiserver", "tier": "control-plane"})).identity
    # Self-managed on AWS VMs: the provider ID must not make it EKS.
    assert ident.platform == "kubeadm" and ident.managed_control_plane is False
    assert ident.node_count == 2


def test_provider_id_names_the_service_when_no_control_plane_is_visible():
    ident = facts(node("w1", provider="azure:///subscriptions/x/vm-1"), DNS).identity
    assert ident.platform == "aks" and ident.managed_control_plane is True


def test_unknown_platform_without_control_plane_is_managed():
    ident = facts(node("w1"), DNS).identity
    assert ident.platform == "unknown" and ident.managed_control_plane is True


def test_control_plane_node_without_pods_is_not_managed():
    ident = facts(node("cp", {"node-role.kubernetes.io/control-plane": ""}), DNS).identity
    assert ident.managed_control_plane is False


@pytest.mark.parametrize("missing", [NODE, POD])
def test_missing_evidence_never_claims_managed(missing):
    """Fail closed: sections 1-3 would be SKIPped on a guess."""
    ident = facts(node("w1"), DNS, unavailable={missing: "forbidden: needs list"}).identity
    assert ident.managed_control_plane is False


def test_no_objects_at_all_is_not_managed():
    ident = facts().identity
    assert ident.platform == "unknown" and ident.managed_control_plane is False and ident.node_count is None
