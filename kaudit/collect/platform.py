"""Which distribution runs the cluster, and whether its control plane is managed.

A pure function of ClusterFacts, so the live API source and the offline
manifest source agree. Evidence, strongest first: the version suffix the
distribution stamps (`-eks-`, `-gke.`, `+k3s`, `+rke2`), node labels the
platform sets, control-plane pods in kube-system, then provider IDs.

`managed_control_plane` makes the engine SKIP sections 1-3, so it is set only
on positive evidence: a managed platform, or nodes and pods that were both
collected and show no control plane at all. Missing evidence (nodes or pods
not collected) leaves it False, and those checks then ERROR instead.
"""
from __future__ import annotations

from kaudit.components import CONTROL_PLANE, component_of_static_pod
from kaudit.model import NODE, POD, ClusterFacts, KObject

MANAGED_PLATFORMS = frozenset({"eks", "gke", "aks"})

_VERSION_MARKERS = (("-eks-", "eks"), ("-gke.", "gke"), ("+k3s", "k3s"), ("+rke2", "rke2"))
_NODE_LABEL_MARKERS = (
    ("eks.amazonaws.com/nodegroup", "eks"),
    ("eks.amazonaws.com/compute-type", "eks"),
    ("cloud.google.com/gke-nodepool", "gke"),
    ("kubernetes.azure.com/cluster", "aks"),
    ("node.openshift.io/os_id", "openshift"),
)
_PROVIDER_MARKERS = (("aws://", "eks"), ("gce://", "gke"), ("azure://", "aks"))
_CONTROL_PLANE_ROLE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
_CONTROL_PLANE_NAMESPACES = ("kube-system", "openshift-kube-apiserver", "openshift-etcd")


def detect_identity(cluster: ClusterFacts) -> None:
    """Fill `cluster.identity.platform`, `managed_control_plane` and (when
    nodes were collected) `node_count`. Leaves other identity fields alone."""
    ident = cluster.identity
    nodes = cluster.of_kind(NODE)
    nodes_known = NODE not in cluster.unavailable and bool(nodes)
    pods_known = POD not in cluster.unavailable and bool(cluster.of_kind(POD))
    if ident.node_count is None and NODE not in cluster.unavailable and nodes:
        ident.node_count = len(nodes)

    cp_nodes = any(_is_control_plane_node(n) for n in nodes)
    cp_pods = [p for p in cluster.of_kind(POD) if _is_control_plane_pod(p)]
    platform = _platform(ident.version or "", nodes, cp_pods, cp_visible=cp_nodes or bool(cp_pods))
    ident.platform = platform

    if platform in MANAGED_PLATFORMS:
        ident.managed_control_plane = True
    elif platform in ("k3s", "rke2", "openshift", "kubeadm"):
        ident.managed_control_plane = False
    else:
        # Unknown platform: managed only when both nodes and pods were seen and
        # neither shows any piece of a control plane.
        ident.managed_control_plane = nodes_known and pods_known and not cp_nodes and not cp_pods


def _platform(version: str, nodes: list[KObject], cp_pods: list[KObject], cp_visible: bool) -> str:
    for marker, name in _VERSION_MARKERS:
        if marker in version:
            return name
    for label, name in _NODE_LABEL_MARKERS:
        if any(label in n.labels for n in nodes):
            return name
    if any(p.namespace == "kube-system" for p in cp_pods):
        # kubeadm-style static pods (RKE2 was matched by its version suffix).
        return "kubeadm"
    if not cp_visible:
        # A cloud provider ID alone also fits self-managed clusters on cloud VMs,
        # so it names the managed service only when no control plane is visible.
        for prefix, name in _PROVIDER_MARKERS:
            if nodes and all(str((n.body.get("spec") or {}).get("providerID") or "").startswith(prefix)
                             for n in nodes):
                return name
    return "unknown"


def _is_control_plane_node(node: KObject) -> bool:
    return any(label in node.labels for label in _CONTROL_PLANE_ROLE_LABELS)


def _is_control_plane_pod(pod: KObject) -> bool:
    if pod.namespace not in _CONTROL_PLANE_NAMESPACES:
        return False
    return component_of_static_pod(pod.name, pod.labels) in CONTROL_PLANE
