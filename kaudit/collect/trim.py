"""Reduce a raw Kubernetes object (a dict, as JSON/YAML gives it) to a KObject.

Every source (manifest files, the live API) goes through `to_kobject`, so an
offline scan and a live scan of the same objects see identical facts. Only
the fields checks read are kept: this bounds memory on 150,000-pod clusters
and keeps what an evidence bundle holds to what an auditor needs.

Never kept: Secret data, literal environment variable values (they may hold
credentials), ConfigMap data other than the few kube-system ConfigMaps that
checks parse, and kubectl's last-applied-configuration annotation.
"""
from __future__ import annotations

from typing import Any, Mapping

from kaudit.model import KObject, OwnerRef, kind_key

# kube-system ConfigMaps whose data checks parse (kube-proxy and kubelet config).
CONFIGMAPS_WITH_DATA = ("kube-proxy", "kubelet-config", "kubeadm-config", "rke2-", "k3s-")
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

_CONTAINER_FIELDS = ("name", "image", "securityContext", "ports", "envFrom", "command", "args",
                     "volumeMounts", "restartPolicy")
_POD_SPEC_FIELDS = ("hostPID", "hostIPC", "hostNetwork", "hostUsers", "securityContext",
                    "serviceAccountName", "serviceAccount", "automountServiceAccountToken",
                    "nodeName", "priorityClassName", "os")


class NotAnObject(ValueError):
    """The document is not a Kubernetes object (no kind/apiVersion/metadata.name)."""


def to_kobject(raw: Mapping[str, Any], origin: str = "") -> KObject:
    if not isinstance(raw, Mapping):
        raise NotAnObject("document is not a mapping")
    kind = raw.get("kind")
    api_version = raw.get("apiVersion")
    meta = raw.get("metadata")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str):
        raise NotAnObject("document has no kind/apiVersion")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        raise NotAnObject(f"{kind} has no metadata.name")
    key = kind_key(api_version, kind)
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()
                   if k not in _DROPPED_ANNOTATIONS}
    owners = tuple(
        OwnerRef(kind=str(o.get("kind", "")), name=str(o.get("name", "")), uid=o.get("uid"),
                 controller=bool(o.get("controller")))
        for o in (meta.get("ownerReferences") or ()) if isinstance(o, Mapping))
    namespace = meta.get("namespace")
    return KObject(
        kind=key, api_version=api_version, name=meta["name"],
        namespace=str(namespace) if namespace else None,
        uid=meta.get("uid"),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        annotations=annotations, owners=owners,
        body=_trim_body(key, raw, meta), origin=origin,
    )


def _trim_body(key: str, raw: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    spec = raw.get("spec") if isinstance(raw.get("spec"), Mapping) else {}
    if key == "Pod":
        status = raw.get("status") or {}
        return {"spec": trim_pod_spec(spec), "status": {"phase": status.get("phase")}}
    if key in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"):
        return {"spec": _trim_workload_spec(spec), "status": _replica_status(raw.get("status"))}
    if key == "CronJob":
        job_spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        return {"spec": {"schedule": spec.get("schedule"), "suspend": spec.get("suspend"),
                         "jobTemplate": {"spec": _trim_workload_spec(job_spec)}}}
    if key in ("Role", "ClusterRole"):
        return {"rules": list(raw.get("rules") or []),
                **({"aggregationRule": raw["aggregationRule"]} if raw.get("aggregationRule") else {})}
    if key in ("RoleBinding", "ClusterRoleBinding"):
        return {"roleRef": dict(raw.get("roleRef") or {}), "subjects": list(raw.get("subjects") or [])}
    if key == "ServiceAccount":
        out: dict[str, Any] = {}
        if "automountServiceAccountToken" in raw:
            out["automountServiceAccountToken"] = raw["automountServiceAccountToken"]
        return out
    if key == "Secret":
        return {"type": raw.get("type")}          # never the data
    if key == "ConfigMap":
        name = str(meta.get("name", ""))
        if meta.get("namespace") == "kube-system" and name.startswith(CONFIGMAPS_WITH_DATA):
            return {"data": {str(k): str(v) for k, v in (raw.get("data") or {}).items()}}
        return {}
    if key == "Node":
        status = raw.get("status") or {}
        return {"spec": {"providerID": spec.get("providerID"), "taints": spec.get("taints") or []},
                "status": {"nodeInfo": status.get("nodeInfo") or {},
                           "addresses": status.get("addresses") or []}}
    if key == "Namespace":
        return {"status": {"phase": (raw.get("status") or {}).get("phase")}}
    if key == "Service":
        return {"spec": {"type": spec.get("type"), "externalIPs": spec.get("externalIPs") or [],
                         "clusterIP": spec.get("clusterIP")}}
    if key in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        return {"webhooks": [_trim_webhook(w) for w in raw.get("webhooks") or () if isinstance(w, Mapping)]}
    if key in ("Endpoints", "EndpointSlice", "Event", "Lease"):
        return {}
    # Policy kinds (NetworkPolicy and the CNIs' own, ValidatingAdmissionPolicy,
    # Kyverno/Gatekeeper policies) and any unknown kind: keep the spec, which
    # is what policies are made of; drop status.
    return {"spec": spec} if spec else {}


def trim_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: spec[k] for k in _POD_SPEC_FIELDS if k in spec}
    for field in ("containers", "initContainers", "ephemeralContainers"):
        if spec.get(field):
            out[field] = [_trim_container(c) for c in spec[field] if isinstance(c, Mapping)]
    if spec.get("volumes"):
        out["volumes"] = [_trim_volume(v) for v in spec["volumes"] if isinstance(v, Mapping)]
    return out


def _trim_container(c: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: c[k] for k in _CONTAINER_FIELDS if k in c}
    if c.get("env"):
        # Keep names and references, never literal values.
        out["env"] = [{"name": e.get("name"), **({"valueFrom": e["valueFrom"]} if e.get("valueFrom") else {})}
                      for e in c["env"] if isinstance(e, Mapping)]
    return out


def _trim_volume(v: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("name", "hostPath", "secret", "projected", "csi", "emptyDir", "configMap")
    return {k: v[k] for k in keep if k in v}


def _trim_workload_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    template = spec.get("template") or {}
    tmeta = template.get("metadata") or {}
    return {
        "replicas": spec.get("replicas"),
        "selector": spec.get("selector"),
        "template": {
            "metadata": {"labels": tmeta.get("labels") or {},
                         "annotations": {k: v for k, v in (tmeta.get("annotations") or {}).items()
                                         if k not in _DROPPED_ANNOTATIONS}},
            "spec": trim_pod_spec(template.get("spec") or {}),
        },
    }


def _replica_status(status: Any) -> dict[str, Any]:
    if not isinstance(status, Mapping):
        return {}
    keep = ("replicas", "readyReplicas", "currentNumberScheduled", "desiredNumberScheduled",
            "numberReady", "active")
    return {k: status[k] for k in keep if k in status}


def _trim_webhook(w: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("name", "rules", "failurePolicy", "namespaceSelector", "objectSelector", "matchPolicy")
    out = {k: w[k] for k in keep if k in w}
    cc = w.get("clientConfig") or {}
    out["clientConfig"] = {"service": cc.get("service"), "url": cc.get("url")}
    return out
