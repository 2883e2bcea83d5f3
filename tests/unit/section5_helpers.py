"""Object builders for the section 5 tests: realistic Kubernetes objects
(as `kubectl get -o yaml` shows them) turned into facts through the same
trim step every source uses."""
from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any, Iterable

from kaudit.catalog import _parse_check
from kaudit.collect.trim import to_kobject
from kaudit.engine import evaluate_check
from kaudit.model import ClusterFacts, Facts, Result
from kaudit.rules.predicates import Context

CHECKS_FILE = Path(__file__).resolve().parents[2] / "checks" / "cis-1.12" / "5-policies.yaml"


def _meta(name: str, namespace: str | None = None, labels: dict | None = None, owners: list | None = None,
          uid: str | None = None, annotations: dict | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": uid or str(uuid.uuid4())}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if owners:
        meta["ownerReferences"] = owners
    return meta


def owner(obj: dict, controller: bool = True) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller}


def container(name: str = "app", image: str = "registry.example.com/shop/app:1.4.2", *, hardened: bool = True,
              **sc: Any) -> dict:
    c: dict[str, Any] = {"name": name, "image": image, "ports": [{"containerPort": 8080}]}
    security: dict[str, Any] = {}
    if hardened:
        security = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    security.update(sc)
    if security:
        c["securityContext"] = security
    return c


def pod_spec(*containers: dict, sa: str | None = "app", **extra: Any) -> dict:
    spec: dict[str, Any] = {"containers": list(containers) or [container()]}
    if sa:
        spec["serviceAccountName"] = sa
    spec.update(extra)
    return spec


def make_pod(name: str, namespace: str = "shop", spec: dict | None = None, owners: list | None = None,
             labels: dict | None = None, phase: str = "Running", node: str = "worker-1") -> dict:
    spec = copy.deepcopy(spec) if spec is not None else pod_spec()
    spec.setdefault("nodeName", node)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, namespace, labels, owners),
            "spec": spec, "status": {"phase": phase}}


def make_workload(kind: str, name: str, namespace: str = "shop", spec: dict | None = None,
                  replicas: int = 1, owners: list | None = None) -> dict:
    api = "batch/v1" if kind in ("Job", "CronJob") else ("v1" if kind == "ReplicationController" else "apps/v1")
    template = {"metadata": {"labels": {"app": name}}, "spec": copy.deepcopy(spec) if spec else pod_spec()}
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": name}}, "template": template}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        body["replicas"] = replicas
    if kind == "CronJob":
        body = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    return {"apiVersion": api, "kind": kind, "metadata": _meta(name, namespace, owners=owners), "spec": body}


def make_deployment_with_pods(name: str, namespace: str = "shop", spec: dict | None = None,
                              replicas: int = 2) -> list[dict]:
    """A Deployment, its ReplicaSet and `replicas` running pods, linked by ownerReferences with uids."""
    dep = make_workload("Deployment", name, namespace, spec, replicas)
    rs = make_workload("ReplicaSet", f"{name}-7d9f8c6b5", namespace, spec, replicas, owners=[owner(dep)])
    pods = [make_pod(f"{name}-7d9f8c6b5-{i:05d}", namespace, spec or pod_spec(), owners=[owner(rs)],
                     labels={"app": name}) for i in range(replicas)]
    return [dep, rs, *pods]


def make_namespace(name: str, enforce: str | None = None, **labels: str) -> dict:
    lab = {"kubernetes.io/metadata.name": name, **labels}
    if enforce:
        lab["pod-security.kubernetes.io/enforce"] = enforce
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, labels=lab), "status": {"phase": "Active"}}


def populated(*namespaces: dict) -> list[dict]:
    """Namespace objects, each running one hardened Deployment: 5.2.x judges
    namespaces that have user workloads."""
    out: list[dict] = []
    for ns in namespaces:
        out.append(ns)
        out.extend(make_deployment_with_pods("app", ns["metadata"]["name"], pod_spec(container()), replicas=1))
    return out


def make_sa(name: str, namespace: str, automount: bool | None = None) -> dict:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, namespace)}
    if automount is not None:
        sa["automountServiceAccountToken"] = automount
    return sa


def rule(verbs: list[str], resources: list[str], groups: list[str] | None = None, names: list[str] | None = None,
         urls: list[str] | None = None) -> dict:
    r: dict[str, Any] = {"verbs": verbs}
    if urls:
        r["nonResourceURLs"] = urls
    else:
        r["apiGroups"] = groups if groups is not None else [""]
        r["resources"] = resources
    if names:
        r["resourceNames"] = names
    return r


def make_role(name: str, rules: list[dict], namespace: str | None = None, labels: dict | None = None,
              aggregate: list[dict] | None = None) -> dict:
    kind = "Role" if namespace else "ClusterRole"
    obj: dict[str, Any] = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
                           "metadata": _meta(name, namespace, labels), "rules": rules}
    if aggregate is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": aggregate}
    return obj


def subject(kind: str, name: str, namespace: str | None = None) -> dict:
    s = {"kind": kind, "name": name}
    if kind != "ServiceAccount":
        s["apiGroup"] = "rbac.authorization.k8s.io"
    if namespace:
        s["namespace"] = namespace
    return s


def make_binding(name: str, role: str, subjects: list[dict], namespace: str | None = None,
                 role_kind: str | None = None) -> dict:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": _meta(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind or ("ClusterRole" if not namespace
                                                                                   else "Role"), "name": role},
            "subjects": subjects}


def make_netpol(name: str, namespace: str, types: list[str] | None = None, selector: dict | None = None,
                api: str = "networking.k8s.io/v1", kind: str = "NetworkPolicy", spec: dict | None = None) -> dict:
    if spec is None:
        spec = {"podSelector": selector or {}}
        if types is not None:
            spec["policyTypes"] = types
    return {"apiVersion": api, "kind": kind, "metadata": _meta(name, namespace), "spec": spec}


def facts_of(*objs: dict | Iterable[dict], unavailable: dict[str, str] | None = None) -> Facts:
    cluster = ClusterFacts(source="manifests")
    for o in objs:
        for item in ([o] if isinstance(o, dict) else o):
            cluster.add(to_kobject(item, origin="test"))
    cluster.unavailable.update(unavailable or {})
    return Facts(cluster=cluster)


_CHECKS: dict[str, Any] = {}


def check(check_id: str):
    import yaml
    if not _CHECKS:
        for raw in yaml.safe_load(CHECKS_FILE.read_text())["checks"]:
            c = _parse_check(raw, CHECKS_FILE)
            _CHECKS[c.id] = c
    return _CHECKS[check_id]


def run(check_id: str, facts: Facts, ctx: Context | None = None) -> list[Result]:
    return evaluate_check(check(check_id), facts, ctx or Context())


def by_target(results: list[Result]) -> dict[tuple[str, str | None, str], Result]:
    return {(r.target.kind, r.target.namespace, r.target.name): r for r in results}


def statuses(results: list[Result]) -> dict[tuple[str, str | None, str], str]:
    return {k: r.status.value for k, r in by_target(results).items()}
