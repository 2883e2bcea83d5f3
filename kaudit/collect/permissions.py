"""What a live scan reads from the API server: the single source of truth.

`READS` drives both the collector (`kaudit.collect.api` lists exactly these)
and the ClusterRole `kaudit permissions` prints, so the shipped RBAC can never
drift from what the scan needs. No Secrets, no wildcards, no write verbs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import yaml

from kaudit.model import kind_key

CLUSTER_ROLE_NAME = "kaudit-reader"

# Groups whose kinds are not fixed: Gatekeeper creates one CRD per
# ConstraintTemplate, so the collector lists every resource discovery shows
# in the group (see `cluster_role_manifest(constraint_resources=...)`).
GATEKEEPER_CONSTRAINTS_GROUP = "constraints.gatekeeper.sh"

# The kube-system ConfigMaps checks parse (kube-proxy and kubelet settings).
# Read by name, so the role grants no access to any other ConfigMap.
KUBE_SYSTEM_CONFIGMAPS = ("kube-proxy",)   # its config.conf decides 4.3.1 without node access


@dataclass(frozen=True, slots=True)
class ResourceRead:
    """One resource type the scan reads, and how."""
    group: str                    # "" for the core group
    versions: tuple[str, ...]     # acceptable versions, most preferred first
    resource: str                 # plural, as in the URL and in RBAC rules
    kind: str
    namespaced: bool
    purpose: str                  # why the scan reads it (printed in the role's comments and docs)
    namespace: str | None = None  # list only in this namespace (None: all namespaces / cluster-scoped)
    names: tuple[str, ...] = ()   # get these objects by name instead of listing
    optional: bool = False        # the group is an add-on (CNI, policy engine): absent means absent

    @property
    def verb(self) -> str:
        return "get" if self.names else "list"

    @property
    def kind_key(self) -> str:
        return kind_key(f"{self.group}/{self.versions[0]}" if self.group else self.versions[0], self.kind)

    @property
    def rbac_name(self) -> str:
        """`clusterroles.rbac.authorization.k8s.io`, `pods`: how kubectl names it."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def forbidden_reason(self) -> str:
        if self.names:
            where = f" in {self.namespace}" if self.namespace else ""
            return f"forbidden: needs get on {self.rbac_name} ({', '.join(self.names)}){where}"
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"forbidden: needs list on {self.rbac_name}{where}"


def _r(group: str, versions: str, resource: str, kind: str, namespaced: bool, purpose: str,
       **kw: Any) -> ResourceRead:
    return ResourceRead(group, tuple(versions.split(",")), resource, kind, namespaced, purpose, **kw)


READS: tuple[ResourceRead, ...] = (
    _r("", "v1", "namespaces", "Namespace", False,
       "cluster id (kube-system UID), Pod Security Admission labels, default-namespace use"),
    _r("", "v1", "nodes", "Node", False, "node list, roles, platform detection, kubelet configz targets"),
    _r("", "v1", "pods", "Pod", True, "pod security checks; control-plane static/mirror pods in kube-system"),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, "token automounting, default service accounts"),
    _r("", "v1", "services", "Service", True, "default-namespace use, exposure"),
    _r("", "v1", "replicationcontrollers", "ReplicationController", True, "pod templates"),
    _r("", "v1", "configmaps", "ConfigMap", True, "kube-proxy and kubelet configuration",
       namespace="kube-system", names=KUBE_SYSTEM_CONFIGMAPS),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True,
       "user objects in the default namespace (5.6.4)", namespace="default"),
    _r("apps", "v1", "deployments", "Deployment", True, "pod templates"),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, "pod templates"),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, "pod templates"),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, "pod templates"),
    _r("batch", "v1", "jobs", "Job", True, "pod templates"),
    _r("batch", "v1", "cronjobs", "CronJob", True, "pod templates"),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", True, "RBAC checks (5.1)"),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "RBAC checks (5.1)"),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, "RBAC checks (5.1)"),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False,
       "RBAC checks (5.1)"),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "network policy coverage (5.3)"),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", True,
       "user objects in the default namespace (5.6.4)", namespace="default"),
    _r("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", False, "policy engines and admission control"),
    _r("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", False, "policy engines and admission control"),
    _r("admissionregistration.k8s.io", "v1,v1beta1", "validatingadmissionpolicies",
       "ValidatingAdmissionPolicy", False, "policy-based admission control", optional=True),
    _r("admissionregistration.k8s.io", "v1,v1beta1", "validatingadmissionpolicybindings",
       "ValidatingAdmissionPolicyBinding", False, "policy-based admission control", optional=True),
    _r("cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy", True,
       "network policy coverage with Cilium (5.3)", optional=True),
    _r("cilium.io", "v2", "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", False,
       "network policy coverage with Cilium (5.3)", optional=True),
    _r("crd.projectcalico.org", "v1", "networkpolicies", "NetworkPolicy", True,
       "network policy coverage with Calico (5.3)", optional=True),
    _r("crd.projectcalico.org", "v1", "globalnetworkpolicies", "GlobalNetworkPolicy", False,
       "network policy coverage with Calico (5.3)", optional=True),
    _r("projectcalico.org", "v3", "networkpolicies", "NetworkPolicy", True,
       "network policy coverage with Calico API server (5.3)", optional=True),
    _r("projectcalico.org", "v3", "globalnetworkpolicies", "GlobalNetworkPolicy", False,
       "network policy coverage with Calico API server (5.3)", optional=True),
    _r("kyverno.io", "v1", "clusterpolicies", "ClusterPolicy", False, "policy engine (5.2, 5.7)",
       optional=True),
    _r("kyverno.io", "v1", "policies", "Policy", True, "policy engine (5.2, 5.7)", optional=True),
    _r("kyverno.io", "v2,v2beta1,v2alpha1", "policyexceptions", "PolicyException", True,
       "Kyverno policy exceptions: they take a rule away where they match (5.2)", optional=True),
)

# Needed besides the lists: the kubelet's live configuration through the API
# server's node proxy (GET /api/v1/nodes/{name}/proxy/configz).
NODE_PROXY_RULE = {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}

# The first minor version whose kubelet checks `nodes/configz` (KubeletFineGrainedAuthz,
# beta and on by default in v1.33, GA in v1.36).
KUBELET_FINE_GRAINED_AUTHZ_MINOR = 33


def node_proxy_reason(minor: int | None = None) -> list[str]:
    """Why the role holds `get nodes/proxy`, for a cluster of Kubernetes 1.`minor`.

    The API server authorizes GET /api/v1/nodes/NAME/proxy/configz as `get` on
    `nodes/proxy` for the caller (its RequestInfoFactory takes the third path
    part, `proxy`, as the subresource: apiserver/pkg/endpoints/request/
    requestinfo.go), then calls the kubelet with its own client
    certificate. The kubelet's fine-grained check (`nodes/configz` first, then
    `nodes/proxy`: GetRequestAttributes in pkg/kubelet/server/auth.go) applies
    only to clients that connect to the kubelet's port themselves, which kaudit
    does not (it would need every kubelet's serving CA)."""
    lines = ["get nodes/proxy: each kubelet's live configuration, read through the API server",
             "(GET /api/v1/nodes/NAME/proxy/configz). It is not read-only: nodes/proxy reaches the whole",
             "kubelet API (exec included), and kaudit reports it against itself (5.1.10)."]
    if minor is not None and minor < KUBELET_FINE_GRAINED_AUTHZ_MINOR:
        lines.append(f"Kubernetes 1.{minor}: nodes/configz does not exist before Kubernetes 1.33, so there is no "
                     "narrower grant.")
    else:
        lines += ["From Kubernetes 1.33 the kubelet also accepts nodes/configz (KubeletFineGrainedAuthz), but",
                  "only from clients that connect to it directly; the API server's proxy still requires",
                  "nodes/proxy."]
    lines.append("Without this rule, kubelet settings come from node inspection (--nodes) alone.")
    return lines


def cluster_role_rules(constraint_resources: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The RBAC rules of the scan, one rule per (group, verb, resourceNames).

    `constraint_resources` names Gatekeeper constraint resources
    (`k8spspprivilegedcontainer`, ...) to grant: they are created per
    ConstraintTemplate, and a fixed role cannot name them in advance without a
    wildcard, which kaudit refuses to ship.
    """
    grouped: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for r in READS:
        grouped.setdefault((r.group, r.verb, r.names), [])
        if r.resource not in grouped[(r.group, r.verb, r.names)]:
            grouped[(r.group, r.verb, r.names)].append(r.resource)
    rules: list[dict[str, Any]] = []
    for (group, verb, names), resources in grouped.items():
        rule: dict[str, Any] = {"apiGroups": [group], "resources": resources, "verbs": [verb]}
        if names:
            rule["resourceNames"] = list(names)
        rules.append(rule)
    rules.append(dict(NODE_PROXY_RULE))
    extra = sorted({c.strip() for c in constraint_resources if c.strip()})
    if extra:
        rules.append({"apiGroups": [GATEKEEPER_CONSTRAINTS_GROUP], "resources": extra, "verbs": ["list"]})
    return rules


def cluster_role_manifest(name: str = CLUSTER_ROLE_NAME,
                          constraint_resources: Iterable[str] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "kaudit"},
            "annotations": {
                "kaudit.io/purpose": "read-only CIS audit: lists objects, reads kubelet configz; "
                                     "never reads Secrets",
            },
        },
        "rules": cluster_role_rules(constraint_resources),
    }


def cluster_role_yaml(name: str = CLUSTER_ROLE_NAME, constraint_resources: Iterable[str] = (),
                      kubernetes_minor: int | None = None) -> str:
    header = ("# ClusterRole for `kaudit scan` against a live cluster (generated by kaudit permissions).\n"
              "# get/list only, no Secrets, no wildcards. Bind it with a ClusterRoleBinding.\n"
              + "".join(f"# {line}\n" for line in node_proxy_reason(kubernetes_minor)))
    return header + yaml.safe_dump(cluster_role_manifest(name, constraint_resources),
                                   sort_keys=False, default_flow_style=False)
