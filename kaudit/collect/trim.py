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

from collections.abc import Mapping as _MappingABC
from typing import Any, Mapping

from kaudit.model import (CILIUM_CLUSTERWIDE_NETWORK_POLICY, CILIUM_NETWORK_POLICY, KObject, OwnerRef,
                          kind_key)

# kube-system ConfigMaps whose data checks parse (kube-proxy and kubelet config).
CONFIGMAPS_WITH_DATA = ("kube-proxy", "kubelet-config", "kubeadm-config", "rke2-", "k3s-")
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
_CILIUM_POLICY_KINDS = (CILIUM_NETWORK_POLICY, CILIUM_CLUSTERWIDE_NETWORK_POLICY)

_CONTAINER_FIELDS = ("name", "image", "securityContext", "ports", "envFrom", "command", "args",
                     "volumeMounts", "restartPolicy")
_POD_SPEC_FIELDS = ("hostPID", "hostIPC", "hostNetwork", "hostUsers", "securityContext",
                    "serviceAccountName", "serviceAccount", "automountServiceAccountToken",
                    "nodeName", "priorityClassName", "os")


# isinstance against typing.Mapping runs Python-level subclass checks; on
# 150,000 pods that was a third of the trimming time. A plain dict (what
# json/yaml give) matches the first entry without any ABC machinery.
_MAP = (dict, _MappingABC)


class NotAnObject(ValueError):
    """The document is not a Kubernetes object (no kind/apiVersion/metadata.name)."""


def to_kobject(raw: Mapping[str, Any], origin: str = "") -> KObject:
    if not isinstance(raw, _MAP):
        raise NotAnObject("document is not a mapping")
    kind = raw.get("kind")
    api_version = raw.get("apiVersion")
    meta = raw.get("metadata")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str):
        raise NotAnObject("document has no kind/apiVersion")
    if not isinstance(meta, _MAP) or not isinstance(meta.get("name"), str):
        raise NotAnObject(f"{kind} has no metadata.name")
    key = kind_key(api_version, kind)
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()
                   if k not in _DROPPED_ANNOTATIONS}
    owners = tuple(
        OwnerRef(kind=str(o.get("kind", "")), name=str(o.get("name", "")), uid=o.get("uid"),
                 controller=bool(o.get("controller")))
        for o in (meta.get("ownerReferences") or ()) if isinstance(o, _MAP))
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
    spec = raw.get("spec") if isinstance(raw.get("spec"), _MAP) else {}
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
        return {"webhooks": [_trim_webhook(w) for w in raw.get("webhooks") or () if isinstance(w, _MAP)]}
    if key in ("Endpoints", "EndpointSlice", "Event", "Lease"):
        return {}
    # Policy kinds (NetworkPolicy and the CNIs' own, ValidatingAdmissionPolicy,
    # Kyverno/Gatekeeper policies) and any unknown kind: keep the spec, which
    # is what policies are made of; drop status. Cilium policies hold their
    # rules in `spec` and/or a top-level `specs` list (cilium.io/v2 CRDs).
    out: dict[str, Any] = {"spec": spec} if spec else {}
    if key in _CILIUM_POLICY_KINDS and isinstance(raw.get("specs"), list):
        out["specs"] = [r for r in raw["specs"] if isinstance(r, _MAP)]
    return out


def trim_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: spec[k] for k in _POD_SPEC_FIELDS if k in spec}
    for field in ("containers", "initContainers", "ephemeralContainers"):
        if spec.get(field):
            out[field] = [_trim_container(c) for c in spec[field] if isinstance(c, _MAP)]
    if spec.get("volumes"):
        out["volumes"] = [_trim_volume(v) for v in spec["volumes"] if isinstance(v, _MAP)]
    return out


def _trim_container(c: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: c[k] for k in _CONTAINER_FIELDS if k in c}
    if c.get("env"):
        # Keep names and references, never literal values, except etcd's own
        # ETCD_* settings: they are configuration that CIS section 2 reads.
        out["env"] = [{"name": e.get("name"),
                       **({"valueFrom": e["valueFrom"]} if e.get("valueFrom") else {}),
                       **({"value": str(e["value"])} if _is_etcd_setting(e) else {})}
                      for e in c["env"] if isinstance(e, _MAP)]
    return out


def _is_etcd_setting(e: Mapping[str, Any]) -> bool:
    name = e.get("name")
    return isinstance(name, str) and name.startswith("ETCD_") and e.get("value") is not None


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
    if not isinstance(status, _MAP):
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


class Sharer:
    """Make equal parts of trimmed objects one object in memory.

    Replicas of a workload carry identical containers, volumes, security
    contexts and labels; on a 150,000-pod cluster one copy per pod is most
    of the facts' memory. Sharing is per field of each container and volume,
    because every pod has its own `kube-api-access-<random>` token volume and
    mount, which would defeat whole-list sharing. Values are compared for
    equality (the hash of their repr only picks the bucket), so sharing never
    changes a value. Facts are read-only downstream (rules must not mutate
    them); a rule that did would change every replica at once.
    """

    __slots__ = ("_buckets",)
    _CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

    def __init__(self) -> None:
        self._buckets: dict[int, list[Any]] = {}

    def share(self, value: Any) -> Any:
        try:
            h = hash(repr(value))
        except RecursionError:    # absurdly deep hostile input: keep it unshared
            return value
        bucket = self._buckets.get(h)
        if bucket is None:
            self._buckets[h] = [value]
            return value
        for candidate in bucket:
            if type(candidate) is type(value) and candidate == value:
                return candidate
        bucket.append(value)
        return value

    def _item(self, item: Any, varying: str) -> Any:
        """Share a container (or volume) whose `varying` field differs per pod.

        One repr of everything else finds the canonical copy of the rest;
        the varying field (volumeMounts: the token mount; a volume's name)
        is shared element by element. Key order is kept as it was.
        """
        if type(item) is not dict:
            return item
        rest = {k: v for k, v in item.items() if k != varying}
        canonical = self.share(rest)
        if varying not in item:
            return canonical
        value = item[varying]
        if type(value) is list:
            value = self.share([self.share(v) for v in value])
        return {k: (value if k == varying else canonical[k]) for k in item}

    def pod_spec(self, spec: Any) -> None:
        if type(spec) is not dict:
            return
        for part in self._CONTAINER_LISTS:
            items = spec.get(part)
            if type(items) is list:
                spec[part] = self.share([self._item(c, "volumeMounts") for c in items])
        volumes = spec.get("volumes")
        if type(volumes) is list:
            spec["volumes"] = self.share([self._item(v, "name") for v in volumes])
        if type(spec.get("securityContext")) is dict:
            spec["securityContext"] = self.share(spec["securityContext"])

    def kobject(self, obj: KObject) -> KObject:
        """Share in place the parts of `obj` that repeat across objects; returns `obj`."""
        obj.labels = self.share(obj.labels)
        obj.annotations = self.share(obj.annotations)
        obj.owners = self.share(obj.owners)
        obj.origin = self.share(obj.origin)
        body = obj.body
        spec = body.get("spec")
        if obj.kind == "Pod":
            self.pod_spec(spec)
            if "status" in body:
                body["status"] = self.share(body["status"])
        elif type(spec) is dict:
            template = spec.get("template")
            if type(template) is dict:
                self.pod_spec(template.get("spec"))
                if type(template.get("metadata")) is dict:
                    template["metadata"] = self.share(template["metadata"])
            job = spec.get("jobTemplate")
            if type(job) is dict and type(job.get("spec")) is dict and type(job["spec"].get("template")) is dict:
                self.pod_spec(job["spec"]["template"].get("spec"))
        return obj
