"""CIS 5.6.1 (administrative boundaries, manual) and 5.6.4 (the default
namespace is not used)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from kaudit.catalog import Check
from kaudit.model import CLUSTER, NAMESPACE, POD, SERVICE, WORKLOAD_KINDS, Evidence, Facts, Finding, KObject, Status, Target
from kaudit.rules.predicates import Context, predicate
from kaudit.rules.predicates._common import SYSTEM_NAMESPACES, capped, missing_kind_findings, namespace_names, safe

# Objects Kubernetes itself keeps in `default`, recognised by name: the API
# server reconciles the `kubernetes` Service, Endpoints and EndpointSlice
# (pkg/controlplane/reconcilers), the root-CA publisher `kube-root-ca.crt`,
# the service-account controller the `default` ServiceAccount. A name is
# the one thing a user cannot take over there (the reconcilers overwrite it).
_BUILTIN_IN_DEFAULT = {
    ("Service", "kubernetes"), ("Endpoints", "kubernetes"), ("EndpointSlice", "kubernetes"),
    ("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default"),
}
# Kinds that are records of what happened or synthetic reads, never user intent.
# Leases are not here: nothing of Kubernetes' own takes a Lease in `default`
# (node and API server leases live in kube-node-lease and kube-system), so
# one there is an application's leader election.
_DERIVED_KINDS = {"Event", "Event.events.k8s.io", "PodMetrics.metrics.k8s.io", "PolicyReport.wgpolicyk8s.io"}
_SA_TOKEN_TYPE = "kubernetes.io/service-account-token"


def _is_builtin(obj: KObject, services: dict[str, KObject]) -> bool:
    """Kubernetes' own, or derived from an object that is reported instead.

    Never by a label or annotation alone: anyone can set
    `kubernetes.io/service-name: kubernetes` on their own EndpointSlice."""
    if (obj.kind, obj.name) in _BUILTIN_IN_DEFAULT:
        return True
    if obj.kind == "Endpoints":
        # the endpoints controller keeps one per Service, under the Service's name
        return obj.name in services
    if obj.kind == "EndpointSlice":
        # the EndpointSlice (and mirroring) controllers make the Service its controller owner
        return any(o.kind == "Service" and _owner_exists(o, services) for o in obj.owners)
    if obj.kind == "Secret" and obj.body.get("type") == _SA_TOKEN_TYPE \
            and obj.annotations.get("kubernetes.io/service-account.name") == "default":
        return True    # the legacy token Secret of the default ServiceAccount (clusters before v1.24)
    return False


def _owner_exists(owner, services: dict[str, KObject]) -> bool:
    svc = services.get(owner.name)
    return svc is not None and (not owner.uid or not svc.uid or owner.uid == svc.uid)


# What 5.6.4 looks at in `default`. ConfigMaps and Secrets there are not read:
# kaudit needs no permission on them (the evidence says so).
_DEFAULT_NAMESPACE_KINDS = (POD, "Service", "ServiceAccount", "PersistentVolumeClaim", "Ingress",
                            *WORKLOAD_KINDS)


@predicate("namespaces.default_unused")
def default_unused(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.6.4: objects users created in `default` (top-level objects only: a
    Deployment is reported, not its ReplicaSets and Pods)."""
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, _DEFAULT_NAMESPACE_KINDS,
                                     why="objects in the default namespace are listed from them")
    used: list[KObject] = []
    services = {o.name: o for o in cluster.of_kind(SERVICE) if o.namespace == "default"}
    for obj in cluster.iter_all():
        if obj.namespace != "default" or obj.kind in _DERIVED_KINDS or _is_builtin(obj, services):
            continue
        if obj.owners and obj.kind not in ("Endpoints", "EndpointSlice"):
            continue      # owned objects follow their owner, which is reported
        used.append(obj)
    used.sort(key=lambda o: (o.kind, o.name))
    target = Target(NAMESPACE, "default")
    if used:
        ev = [Evidence(f"{o.kind} default/{safe(o.name)}", "user object in default", o.origin or "api",
                       expected="only Kubernetes' own objects") for o in used]
        findings.append(Finding(Status.FAIL, target, f"{len(used)} user object(s) in the default namespace: "
                                + safe(", ".join(f"{o.kind}/{o.name}" for o in used[:6]), 400), capped(ev)))
    elif not cluster.missing(*_DEFAULT_NAMESPACE_KINDS):
        findings.append(Finding(Status.PASS, target, "the default namespace holds only Kubernetes' own objects "
                                "(kubernetes Service/Endpoints/EndpointSlice, kube-root-ca.crt, default ServiceAccount)",
                                (Evidence("user objects in default", "none", "collected objects",
                                          note="kinds inspected: " + ", ".join(_DEFAULT_NAMESPACE_KINDS)
                                          + "; ConfigMaps and Secrets in default are not read"),)))
    return findings


@predicate("namespaces.boundaries")
def boundaries(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.6.1 (manual): the namespace list, with what runs in each, for review."""
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, (NAMESPACE,))
    counts: dict[str, int] = {}
    for obj in cluster.iter_all():
        if obj.namespace and not obj.owners:
            counts[obj.namespace] = counts.get(obj.namespace, 0) + 1
    names = namespace_names(cluster)
    user = [n for n in names if n not in SYSTEM_NAMESPACES and n != "default"]
    labels = {o.name: o.labels for o in cluster.of_kind(NAMESPACE)}
    ev = [Evidence(f"namespace {safe(n)}", f"{counts.get(n, 0)} top-level object(s)", "Namespace",
                   note=safe(", ".join(f"{k}={v}" for k, v in sorted(labels.get(n, {}).items())
                                       if not k.startswith("kubernetes.io/metadata")), 300) or None)
          for n in names]
    msg = (f"{len(names)} namespace(s), {len(user)} besides default and the system ones; review that they "
           "separate teams, applications and environments as intended")
    if not user:
        msg = "only default and system namespaces exist: workloads are not separated by namespace; " + msg
    findings.append(Finding(Status.WARN, CLUSTER, msg, capped(ev, 60)))
    return findings
