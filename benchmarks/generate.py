"""Seeded generator of realistic synthetic clusters for the scale benchmarks.

    .venv/bin/python benchmarks/generate.py --size 10k --out /tmp/kaudit-bench/10k
    .venv/bin/python benchmarks/generate.py --pods 2500 --out /tmp/c --format yaml

Writes what `kubectl get <kind> -A -o json` prints, one List per kind
(`pods.json`, `deployments.json`, ...), into OUT/cluster/, and NodeFacts
JSON for a sample of nodes (every control-plane node and a few workers)
into OUT/node-facts/. The same seed gives byte-identical output.

Shape, per 150,000 pods (the "150k" size): ~5,000 nodes, 3 of them control
plane with kube-system static pods; ~1,500 namespaces (PSA labels on some,
NetworkPolicies on about half); Deployments (with their ReplicaSets, the
pods carrying ownerReferences with uids), StatefulSets, Jobs and CronJobs,
DaemonSets (kube-proxy and the CNI on every node); ServiceAccounts, Services,
ConfigMaps, Secrets; RBAC with the aggregated admin/edit/view roles, team
roles and a share of wildcards; and a share of insecure settings
(privileged, hostPath, host namespaces, secrets in env, added capabilities).
About 220,000 objects in total.

Objects look like real kubectl output (status, resources, probes,
projected token volumes, tolerations) but without managedFields, which
`kubectl get` omits by default.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {"1k": 1_000, "10k": 10_000, "50k": 50_000, "150k": 150_000}
# Not run by default: the size the reports issue sets its HTML limit at.
EXTRA_SIZES = {"2k": 2_000}
VERSION = "v1.30.4"
CREATED = "2026-10-01T08:00:00Z"
CP_NODES = 3


def pods_for(size: str) -> int:
    """'10k' -> 10000; a plain integer is accepted too."""
    if size in SIZES or size in EXTRA_SIZES:
        return {**SIZES, **EXTRA_SIZES}[size]
    return int(size.lower().replace("k", "000"))


# ---------------------------------------------------------------------------
# The plan: what the cluster contains, decided from the seed up front
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class Workload:
    kind: str                  # Deployment | StatefulSet | Job | CronJob
    name: str
    namespace: str
    uid: str
    replicas: int
    template: dict[str, Any]
    owned_uid: str = ""        # the ReplicaSet (Deployment) or Job (CronJob) uid
    owned_name: str = ""
    hash: str = ""


@dataclass(slots=True)
class Plan:
    pods: int
    nodes: list[str]
    namespaces: list[str]
    ns_uid: dict[str, str]
    workloads: list[Workload] = field(default_factory=list)
    daemonsets: list[Workload] = field(default_factory=list)


class Gen:
    def __init__(self, pods: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.pods = pods

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- plan -----------------------------------------------------------------

    def plan(self) -> Plan:
        n_nodes = max(4, self.pods // 30)
        nodes = [f"cp-{i + 1}" for i in range(CP_NODES)] + [f"node-{i:05d}" for i in range(n_nodes - CP_NODES)]
        n_ns = max(8, self.pods // 100)
        namespaces = ["kube-system", "kube-public", "kube-node-lease", "default"] + \
                     [f"team-{i // 10:03d}-app-{i % 10}" for i in range(n_ns)]
        plan = Plan(pods=self.pods, nodes=nodes, namespaces=namespaces,
                    ns_uid={ns: self.uid() for ns in namespaces})
        # Two DaemonSets on every node (kube-proxy and the CNI agent), as real clusters have.
        for name in ("kube-proxy", "calico-node"):
            plan.daemonsets.append(Workload("DaemonSet", name, "kube-system", self.uid(), len(nodes),
                                            self.system_template(name), hash=self.suffix(10)))
        budget = self.pods - 2 * len(nodes) - 4 * CP_NODES      # DaemonSet and static pods
        plan.workloads.append(self.workload("Deployment", "coredns", "kube-system", 2))
        budget -= 2
        app_ns = namespaces[4:]
        i = 0
        while budget > 0:
            ns = app_ns[i % len(app_ns)]
            roll = self.rng.random()
            if roll < 0.80:
                kind, replicas = "Deployment", self.rng.choice((1, 2, 3, 3, 5, 8, 10, 12, 20, 40))
            elif roll < 0.90:
                kind, replicas = "StatefulSet", self.rng.choice((1, 3, 3, 5))
            elif roll < 0.96:
                kind, replicas = "Job", 1
            else:
                kind, replicas = "CronJob", 1
            replicas = min(replicas, budget)
            plan.workloads.append(self.workload(kind, f"svc-{i:05d}", ns, replicas))
            budget -= replicas
            i += 1
        return plan

    def workload(self, kind: str, name: str, ns: str, replicas: int) -> Workload:
        w = Workload(kind, name, ns, self.uid(), replicas, self.app_template(name, ns), hash=self.suffix(10))
        if kind in ("Deployment", "CronJob"):
            w.owned_uid = self.uid()
            w.owned_name = f"{name}-{w.hash}" if kind == "Deployment" else f"{name}-29{self.rng.randrange(10**6):06d}"
        return w

    # -- pod templates ----------------------------------------------------------

    def container(self, name: str, image: str, insecure: bool) -> dict[str, Any]:
        c: dict[str, Any] = {
            "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                    "fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}},
            "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": 8080,
                                                                 "scheme": "HTTP"},
                              "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
            "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/ready", "port": 8080,
                                                                  "scheme": "HTTP"},
                               "periodSeconds": 5, "successThreshold": 1, "timeoutSeconds": 1},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "volumeMounts": [{"mountPath": "/etc/app", "name": "config", "readOnly": True}],
        }
        if self.chance(0.10):    # a secret exposed through the environment (5.4.1)
            c["env"].append({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"key": "password",
                                                                                   "name": "db-credentials"}}})
        if self.chance(0.03):
            c["envFrom"] = [{"secretRef": {"name": "app-secrets"}}]
        if not insecure and self.chance(0.75):
            c["securityContext"] = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                    "readOnlyRootFilesystem": self.chance(0.6),
                                    "capabilities": {"drop": ["ALL"]},
                                    "seccompProfile": {"type": "RuntimeDefault"}}
        elif insecure:
            roll = self.rng.random()
            if roll < 0.35:
                c["securityContext"] = {"privileged": True}
            elif roll < 0.6:
                c["securityContext"] = {"capabilities": {"add": [self.rng.choice(("NET_ADMIN", "SYS_ADMIN",
                                                                                  "NET_RAW"))]}}
            elif roll < 0.8:
                c["securityContext"] = {"runAsUser": 0, "allowPrivilegeEscalation": True}
        return c

    def app_template(self, name: str, ns: str) -> dict[str, Any]:
        insecure = self.chance(0.08)
        team = ns.split("-app-")[0]
        images = [f"registry.example.com/{team}/{name}:1.{self.rng.randrange(40)}.{self.rng.randrange(10)}"]
        if self.chance(0.3):
            images.append(f"registry.example.com/platform/envoy:1.29.{self.rng.randrange(4)}")
        spec: dict[str, Any] = {
            "containers": [self.container("app" if k == 0 else "proxy", img, insecure)
                           for k, img in enumerate(images)],
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "serviceAccountName": "default" if self.chance(0.4) else f"{name}-sa",
            "terminationGracePeriodSeconds": 30,
            "volumes": [{"name": "config", "configMap": {"defaultMode": 420, "name": f"{name}-config"}}],
        }
        spec["serviceAccount"] = spec["serviceAccountName"]
        if self.chance(0.7):
            spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
        else:
            spec["securityContext"] = {}
        if self.chance(0.2):
            spec["automountServiceAccountToken"] = False
        if self.chance(0.2):
            spec["initContainers"] = [{"name": "migrate", "image": images[0], "command": ["/app", "migrate"],
                                       "resources": {}, "terminationMessagePath": "/dev/termination-log",
                                       "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}]
        if insecure:
            roll = self.rng.random()
            if roll < 0.4:
                spec["volumes"].append({"name": "host", "hostPath": {"path": self.rng.choice(
                    ("/var/log", "/var/run/docker.sock", "/", "/etc")), "type": ""}})
                spec["containers"][0]["volumeMounts"].append({"mountPath": "/host", "name": "host"})
            elif roll < 0.55:
                spec["hostNetwork"] = True
            elif roll < 0.65:
                spec["hostPID"] = True
            elif roll < 0.7:
                spec["hostIPC"] = True
        return {"metadata": {"labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": team}},
                "spec": spec}

    def system_template(self, name: str) -> dict[str, Any]:
        if name == "kube-proxy":
            c = {"name": "kube-proxy", "image": f"registry.k8s.io/kube-proxy:{VERSION}",
                 "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                             "--hostname-override=$(NODE_NAME)"],
                 "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "spec.nodeName"}}}],
                 "securityContext": {"privileged": True},
                 "volumeMounts": [{"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                                  {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                                  {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True}]}
            volumes = [{"name": "kube-proxy", "configMap": {"defaultMode": 420, "name": "kube-proxy"}},
                       {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                       {"name": "lib-modules", "hostPath": {"path": "/lib/modules", "type": ""}}]
            sa = "kube-proxy"
        else:
            c = {"name": "calico-node", "image": "docker.io/calico/node:v3.27.3",
                 "env": [{"name": "DATASTORE_TYPE", "value": "kubernetes"},
                         {"name": "CALICO_NETWORKING_BACKEND", "value": "bird"}],
                 "securityContext": {"privileged": True},
                 "volumeMounts": [{"mountPath": "/var/run/calico", "name": "var-run-calico"},
                                  {"mountPath": "/host/etc/cni/net.d", "name": "cni-net-dir"}]}
            volumes = [{"name": "var-run-calico", "hostPath": {"path": "/var/run/calico", "type": ""}},
                       {"name": "cni-net-dir", "hostPath": {"path": "/etc/cni/net.d", "type": ""}}]
            sa = "calico-node"
        return {"metadata": {"labels": {"k8s-app": name}},
                "spec": {"containers": [c], "hostNetwork": True, "priorityClassName": "system-node-critical",
                         "serviceAccountName": sa, "serviceAccount": sa, "volumes": volumes,
                         "tolerations": [{"operator": "Exists"}], "dnsPolicy": "ClusterFirst",
                         "restartPolicy": "Always", "securityContext": {}}}


# ---------------------------------------------------------------------------
# Objects, kind by kind
# ---------------------------------------------------------------------------

def _meta(name: str, ns: str | None, uid: str, labels: dict[str, str] | None = None,
          owners: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"creationTimestamp": CREATED, "name": name}
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = labels
    if owners:
        m["ownerReferences"] = owners
    m["resourceVersion"] = str(int(uid[:7], 16))   # stable across runs (str hash is salted)
    m["uid"] = uid
    m.update(extra)
    return m


def _owner(api_version: str, kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    return [{"apiVersion": api_version, "blockOwnerDeletion": True, "controller": True, "kind": kind,
             "name": name, "uid": uid}]


def _rbac(kind: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind}


class Cluster:
    """Yields each kind's items; pods are produced lazily (they are most of the bytes)."""

    def __init__(self, pods: int, seed: int = 1) -> None:
        self.g = Gen(pods, seed)
        self.plan = self.g.plan()
        self.node_ip = {n: f"10.{16 + i // 65536}.{i // 256 % 256}.{i % 256}" for i, n in enumerate(self.plan.nodes)}

    # Order matters only for reproducibility: every method draws from the same rng.
    def kinds(self) -> Iterator[tuple[str, str, Iterable[dict[str, Any]]]]:
        """(file stem, List apiVersion, items)."""
        yield "namespaces", "v1", self.namespaces()
        yield "nodes", "v1", self.nodes()
        yield "serviceaccounts", "v1", self.service_accounts()
        yield "configmaps", "v1", self.config_maps()
        yield "secrets", "v1", self.secrets()
        yield "services", "v1", self.services()
        yield "clusterroles", "v1", self.cluster_roles()
        yield "clusterrolebindings", "v1", self.cluster_role_bindings()
        yield "roles", "v1", self.roles()
        yield "rolebindings", "v1", self.role_bindings()
        yield "networkpolicies", "v1", self.network_policies()
        yield "deployments", "v1", self.controllers("Deployment")
        yield "replicasets", "v1", self.replica_sets()
        yield "statefulsets", "v1", self.controllers("StatefulSet")
        yield "daemonsets", "v1", self.daemon_sets()
        yield "cronjobs", "v1", self.controllers("CronJob")
        yield "jobs", "v1", self.jobs()
        yield "pods", "v1", self.all_pods()
        yield "validatingwebhookconfigurations", "v1", self.webhooks()

    def namespaces(self) -> Iterator[dict[str, Any]]:
        g = self.g
        for ns in self.plan.namespaces:
            labels = {"kubernetes.io/metadata.name": ns}
            if ns.startswith("team-"):
                roll = g.rng.random()
                if roll < 0.35:
                    labels["pod-security.kubernetes.io/enforce"] = "restricted"
                elif roll < 0.5:
                    labels["pod-security.kubernetes.io/enforce"] = "baseline"
                    labels["pod-security.kubernetes.io/warn"] = "restricted"
                elif roll < 0.55:
                    labels["pod-security.kubernetes.io/enforce"] = "privileged"
            yield {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, None, self.plan.ns_uid[ns], labels),
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}

    def nodes(self) -> Iterator[dict[str, Any]]:
        g = self.g
        for i, name in enumerate(self.plan.nodes):
            cp = name.startswith("cp-")
            labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                      "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                      "topology.kubernetes.io/zone": f"zone-{i % 3}"}
            if cp:
                labels["node-role.kubernetes.io/control-plane"] = ""
            kubelet = VERSION if g.chance(0.95) else "v1.29.8"   # a few not yet upgraded
            yield {"apiVersion": "v1", "kind": "Node",
                   "metadata": _meta(name, None, g.uid(), labels,
                                     annotations={"kubeadm.alpha.kubernetes.io/cri-socket":
                                                  "unix:///var/run/containerd/containerd.sock",
                                                  "node.alpha.kubernetes.io/ttl": "0"}),
                   "spec": {"podCIDR": f"10.244.{i % 256}.0/24", "podCIDRs": [f"10.244.{i % 256}.0/24"],
                            **({"taints": [{"effect": "NoSchedule",
                                            "key": "node-role.kubernetes.io/control-plane"}]} if cp else {})},
                   "status": {
                       "addresses": [{"address": self.node_ip[name], "type": "InternalIP"},
                                     {"address": name, "type": "Hostname"}],
                       "allocatable": {"cpu": "15800m", "memory": "63Gi", "pods": "110"},
                       "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                       "conditions": [{"lastHeartbeatTime": CREATED, "lastTransitionTime": CREATED,
                                       "message": "kubelet is posting ready status", "reason": "KubeletReady",
                                       "status": "True", "type": "Ready"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                       "images": [{"names": [f"registry.example.com/team-{k:03d}/img@sha256:{k:064x}"],
                                   "sizeBytes": 50_000_000 + k} for k in range(8)],
                       "nodeInfo": {"architecture": "amd64", "bootID": g.uid(),
                                    "containerRuntimeVersion": "containerd://1.7.13",
                                    "kernelVersion": "6.1.0-21-amd64", "kubeProxyVersion": kubelet,
                                    "kubeletVersion": kubelet, "machineID": g.uid().replace("-", ""),
                                    "operatingSystem": "linux", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "systemUUID": g.uid()}}}

    def service_accounts(self) -> Iterator[dict[str, Any]]:
        g = self.g
        names: dict[str, set[str]] = {}
        for w in self.plan.workloads + self.plan.daemonsets:
            names.setdefault(w.namespace, set()).add(w.template["spec"]["serviceAccountName"])
        for ns in self.plan.namespaces:
            for sa in ["default"] + sorted(names.get(ns, set()) - {"default"}):
                obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(sa, ns, g.uid())}
                if sa == "default" and g.chance(0.3):
                    obj["automountServiceAccountToken"] = False
                yield obj

    def config_maps(self) -> Iterator[dict[str, Any]]:
        g = self.g
        from kaudit.demo.build import kubelet_config
        yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("kube-proxy", "kube-system", g.uid()),
               "data": {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                                       "bindAddress: 0.0.0.0\nmetricsBindAddress: 127.0.0.1:10249\nmode: iptables\n"
                                       "clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n"}}
        yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("kubelet-config", "kube-system", g.uid()),
               "data": {"kubelet": kubelet_config(anonymous=False)}}
        for ns in self.plan.namespaces:
            yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("kube-root-ca.crt", ns, g.uid()),
                   "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIC5zCCAc+gAwIBAgIBADANBgkqhkiG9w0BAQsF\n"
                                      "-----END CERTIFICATE-----\n"}}
        for w in self.plan.workloads:
            yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{w.name}-config", w.namespace, g.uid()),
                   "data": {"app.yaml": f"listen: :8080\nupstream: http://{w.name}.{w.namespace}.svc\n"}}

    def secrets(self) -> Iterator[dict[str, Any]]:
        g = self.g
        for ns in self.plan.namespaces[3:]:
            yield {"apiVersion": "v1", "kind": "Secret", "metadata": _meta("db-credentials", ns, g.uid()),
                   "type": "Opaque", "data": {"password": "c3VwZXItc2VjcmV0LXBhc3N3b3Jk", "user": "YXBw"}}
            if g.chance(0.3):
                yield {"apiVersion": "v1", "kind": "Secret", "metadata": _meta("tls", ns, g.uid()),
                       "type": "kubernetes.io/tls", "data": {"tls.crt": "LS0tLS1CRUdJTg==", "tls.key": "LS0tLS1CRUdJTg=="}}

    def services(self) -> Iterator[dict[str, Any]]:
        g = self.g
        yield {"apiVersion": "v1", "kind": "Service", "metadata": _meta("kubernetes", "default", g.uid()),
               "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                              "targetPort": 6443}], "type": "ClusterIP"}}
        for i, w in enumerate(self.plan.workloads):
            if w.kind in ("Job", "CronJob"):
                continue
            svc_type = "ClusterIP" if g.chance(0.93) else g.rng.choice(("NodePort", "LoadBalancer"))
            yield {"apiVersion": "v1", "kind": "Service", "metadata": _meta(w.name, w.namespace, g.uid()),
                   "spec": {"clusterIP": f"10.{96 + i // 65536}.{i // 256 % 256}.{i % 256}",
                            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                            "selector": {"app.kubernetes.io/name": w.name}, "type": svc_type}}

    def cluster_roles(self) -> Iterator[dict[str, Any]]:
        g = self.g
        yield {**_rbac("ClusterRole"), "metadata": _meta("cluster-admin", None, g.uid()),
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                         {"nonResourceURLs": ["*"], "verbs": ["*"]}]}
        for name in ("admin", "edit", "view"):
            yield {**_rbac("ClusterRole"), "metadata": _meta(name, None, g.uid()),
                   "aggregationRule": {"clusterRoleSelectors": [
                       {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}}]},
                   "rules": [{"apiGroups": [""], "resources": ["pods", "services", "configmaps"] +
                              (["secrets"] if name != "view" else []),
                              "verbs": ["get", "list", "watch"] + (["create", "update", "delete"] if name != "view" else [])}]}
            yield {**_rbac("ClusterRole"),
                   "metadata": _meta(f"system:aggregate-to-{name}", None, g.uid(),
                                     {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}),
                   "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"],
                              "verbs": ["get", "list", "watch"] + (["create", "patch"] if name != "view" else [])}]}
        for name, rules in (("system:node", [{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "list"]}]),
                            ("system:kube-proxy", [{"apiGroups": [""], "resources": ["endpoints", "services"],
                                                    "verbs": ["list", "watch"]}]),
                            ("calico-node", [{"apiGroups": [""], "resources": ["pods", "nodes", "namespaces"],
                                              "verbs": ["get", "list", "watch"]},
                                             {"apiGroups": ["crd.projectcalico.org"], "resources": ["*"], "verbs": ["*"]}])):
            yield {**_rbac("ClusterRole"), "metadata": _meta(name, None, g.uid()), "rules": rules}
        for t in range(max(3, len(self.plan.namespaces) // 10)):
            rules: list[dict[str, Any]] = [{"apiGroups": ["", "apps"], "resources": ["pods", "deployments", "pods/log"],
                                            "verbs": ["get", "list", "watch"]}]
            roll = g.rng.random()
            if roll < 0.08:
                rules.append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})       # wildcard (5.1.3)
            elif roll < 0.15:
                rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]})  # 5.1.2
            elif roll < 0.2:
                rules.append({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]})          # 5.1.4
            elif roll < 0.23:
                rules.append({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                              "verbs": ["bind", "escalate"]})                                          # 5.1.8
            elif roll < 0.25:
                rules.append({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]})
            yield {**_rbac("ClusterRole"), "metadata": _meta(f"team-{t:03d}-reader", None, g.uid()), "rules": rules}

    def cluster_role_bindings(self) -> Iterator[dict[str, Any]]:
        g = self.g
        def crb(name: str, role: str, subjects: list[dict[str, Any]]) -> dict[str, Any]:
            return {**_rbac("ClusterRoleBinding"), "metadata": _meta(name, None, g.uid()),
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": subjects}
        yield crb("cluster-admin", "cluster-admin", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                      "name": "system:masters"}])
        yield crb("kubeadm:cluster-admins", "cluster-admin", [{"apiGroup": "rbac.authorization.k8s.io",
                                                               "kind": "Group", "name": "kubeadm:cluster-admins"}])
        yield crb("system:node", "system:node", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                  "name": "system:nodes"}])
        yield crb("kubeadm:node-proxier", "system:kube-proxy",
                  [{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}])
        yield crb("calico-node", "calico-node", [{"kind": "ServiceAccount", "name": "calico-node",
                                                  "namespace": "kube-system"}])
        # A CI service account bound to cluster-admin: the classic finding (5.1.1).
        yield crb("ci-deployer-admin", "cluster-admin",
                  [{"kind": "ServiceAccount", "name": "default", "namespace": self.plan.namespaces[4]}])
        for t in range(max(3, len(self.plan.namespaces) // 10)):
            yield crb(f"team-{t:03d}-reader", f"team-{t:03d}-reader",
                      [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"team-{t:03d}"}])

    def roles(self) -> Iterator[dict[str, Any]]:
        g = self.g
        for ns in self.plan.namespaces[4:]:
            rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
            if g.chance(0.1):
                rules.append({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]})
            elif g.chance(0.2):
                rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
            yield {**_rbac("Role"), "metadata": _meta("app-config-reader", ns, g.uid()), "rules": rules}

    def role_bindings(self) -> Iterator[dict[str, Any]]:
        g = self.g
        for ns in self.plan.namespaces[4:]:
            team = ns.split("-app-")[0]
            yield {**_rbac("RoleBinding"), "metadata": _meta(f"{team}-edit", ns, g.uid()),
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": "admin" if g.chance(0.2) else "edit"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": team}]}
            yield {**_rbac("RoleBinding"), "metadata": _meta("app-config-reader", ns, g.uid()),
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "app-config-reader"},
                   "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}]}

    def network_policies(self) -> Iterator[dict[str, Any]]:
        g = self.g
        for ns in self.plan.namespaces[4:]:
            if not g.chance(0.5):
                continue
            yield {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": _meta("default-deny", ns, g.uid()),
                   "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
            yield {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": _meta("allow-same-namespace", ns, g.uid()),
                   "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}],
                            "policyTypes": ["Ingress"]}}

    def controllers(self, kind: str) -> Iterator[dict[str, Any]]:
        for w in self.plan.workloads:
            if w.kind != kind:
                continue
            labels = dict(w.template["metadata"]["labels"])
            selector = {"matchLabels": {"app.kubernetes.io/name": w.name}}
            if kind == "CronJob":
                yield {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(w.name, w.namespace, w.uid, labels),
                       "spec": {"concurrencyPolicy": "Forbid", "schedule": "17 3 * * *", "suspend": False,
                                "jobTemplate": {"spec": {"backoffLimit": 2, "template": self._job_template(w)}}},
                       "status": {"lastScheduleTime": CREATED}}
                continue
            spec: dict[str, Any] = {"replicas": w.replicas, "revisionHistoryLimit": 10, "selector": selector,
                                    "template": w.template}
            status = {"availableReplicas": w.replicas, "observedGeneration": 1, "readyReplicas": w.replicas,
                      "replicas": w.replicas, "updatedReplicas": w.replicas}
            if kind == "StatefulSet":
                spec["serviceName"] = w.name
                spec["podManagementPolicy"] = "OrderedReady"
            else:
                spec["strategy"] = {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                                    "type": "RollingUpdate"}
            yield {"apiVersion": "apps/v1", "kind": kind,
                   "metadata": _meta(w.name, w.namespace, w.uid, labels,
                                     annotations={"deployment.kubernetes.io/revision": "1"}),
                   "spec": spec, "status": status}

    def _job_template(self, w: Workload) -> dict[str, Any]:
        t = json.loads(json.dumps(w.template))
        t["spec"]["restartPolicy"] = "OnFailure"
        for c in t["spec"]["containers"]:
            c.pop("livenessProbe", None)
            c.pop("readinessProbe", None)
            c.pop("ports", None)
        return t

    def replica_sets(self) -> Iterator[dict[str, Any]]:
        for w in self.plan.workloads:
            if w.kind != "Deployment":
                continue
            labels = {**w.template["metadata"]["labels"], "pod-template-hash": w.hash}
            template = {"metadata": {"labels": labels}, "spec": w.template["spec"]}
            yield {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": _meta(w.owned_name, w.namespace, w.owned_uid, labels,
                                     _owner("apps/v1", "Deployment", w.name, w.uid),
                                     annotations={"deployment.kubernetes.io/desired-replicas": str(w.replicas),
                                                  "deployment.kubernetes.io/revision": "1"}),
                   "spec": {"replicas": w.replicas,
                            "selector": {"matchLabels": {"app.kubernetes.io/name": w.name, "pod-template-hash": w.hash}},
                            "template": template},
                   "status": {"availableReplicas": w.replicas, "fullyLabeledReplicas": w.replicas,
                              "observedGeneration": 1, "readyReplicas": w.replicas, "replicas": w.replicas}}

    def daemon_sets(self) -> Iterator[dict[str, Any]]:
        for w in self.plan.daemonsets:
            n = len(self.plan.nodes)
            yield {"apiVersion": "apps/v1", "kind": "DaemonSet",
                   "metadata": _meta(w.name, w.namespace, w.uid, dict(w.template["metadata"]["labels"])),
                   "spec": {"selector": {"matchLabels": w.template["metadata"]["labels"]}, "template": w.template,
                            "updateStrategy": {"rollingUpdate": {"maxUnavailable": 1}, "type": "RollingUpdate"}},
                   "status": {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n,
                              "numberReady": n, "numberMisscheduled": 0, "observedGeneration": 1}}

    def jobs(self) -> Iterator[dict[str, Any]]:
        for w in self.plan.workloads:
            if w.kind == "Job":
                name, uid, owners = w.name, w.uid, None
            elif w.kind == "CronJob":
                name, uid, owners = w.owned_name, w.owned_uid, _owner("batch/v1", "CronJob", w.name, w.uid)
            else:
                continue
            yield {"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": _meta(name, w.namespace, uid, dict(w.template["metadata"]["labels"]), owners),
                   "spec": {"backoffLimit": 2, "completions": 1, "parallelism": 1, "template": self._job_template(w)},
                   "status": {"succeeded": 1, "completionTime": CREATED, "startTime": CREATED}}

    # -- pods -------------------------------------------------------------------

    def _pod(self, name: str, ns: str, template: dict[str, Any], node: str, owners: list[dict[str, Any]] | None,
             extra_labels: dict[str, str] | None = None, phase: str = "Running") -> dict[str, Any]:
        g = self.g
        labels = {**template["metadata"]["labels"], **(extra_labels or {})}
        spec = dict(template["spec"])
        spec["nodeName"] = node
        spec["enableServiceLinks"] = True
        spec["preemptionPolicy"] = "PreemptLowerPriority"
        spec["priority"] = 0
        spec["tolerations"] = list(spec.get("tolerations") or []) + [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "tolerationSeconds": 300}]
        if spec.get("automountServiceAccountToken") is not False:
            token = "kube-api-access-" + g.suffix(5)
            spec["volumes"] = list(spec.get("volumes") or []) + [{"name": token, "projected": {
                "defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                    {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                                "path": "namespace"}]}}]}}]
            spec["containers"] = [{**c, "volumeMounts": list(c.get("volumeMounts") or []) + [
                {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": token, "readOnly": True}]}
                for c in spec["containers"]]
        pod_ip = f"10.244.{g.rng.randrange(256)}.{g.rng.randrange(256)}"
        statuses = [{"containerID": f"containerd://{g.rng.getrandbits(128):032x}", "image": c["image"],
                     "imageID": f"{c['image'].split(':')[0]}@sha256:{g.rng.getrandbits(64):016x}",
                     "lastState": {}, "name": c["name"], "ready": True, "restartCount": g.rng.choice((0, 0, 0, 1, 3)),
                     "started": True, "state": {"running": {"startedAt": CREATED}}} for c in spec["containers"]]
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": _meta(name, ns, g.uid(), labels, owners, generateName=name.rsplit("-", 1)[0] + "-"),
                "spec": spec,
                "status": {"conditions": [{"lastProbeTime": None, "lastTransitionTime": CREATED, "status": "True",
                                           "type": t} for t in ("Initialized", "Ready", "ContainersReady",
                                                                "PodScheduled")],
                           "containerStatuses": statuses, "hostIP": self.node_ip[node], "hostIPs": [{"ip": self.node_ip[node]}],
                           "phase": phase, "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "qosClass": "Burstable",
                           "startTime": CREATED}}

    def static_pods(self) -> Iterator[dict[str, Any]]:
        from kaudit.demo import build as demo
        args = {"kube-apiserver": demo.APISERVER_ARGS, "kube-controller-manager": demo.CONTROLLER_MANAGER_ARGS,
                "kube-scheduler": demo.SCHEDULER_ARGS, "etcd": demo.ETCD_ARGS}
        g = self.g
        for node in self.plan.nodes[:CP_NODES]:
            for comp, argv in args.items():
                image = f"registry.k8s.io/{comp}:{VERSION}" if comp != "etcd" else "registry.k8s.io/etcd:3.5.12-0"
                yield {"apiVersion": "v1", "kind": "Pod",
                       "metadata": _meta(f"{comp}-{node}", "kube-system", g.uid(), {"component": comp,
                                                                                   "tier": "control-plane"},
                                         _owner("v1", "Node", node, g.uid()),
                                         annotations={"kubernetes.io/config.source": "file"}),
                       "spec": {"containers": [{"name": comp, "image": image, "command": list(argv),
                                                "resources": {"requests": {"cpu": "250m"}},
                                                "volumeMounts": [{"mountPath": "/etc/kubernetes/pki", "name": "k8s-certs",
                                                                  "readOnly": True}]}],
                                "hostNetwork": True, "nodeName": node, "priorityClassName": "system-node-critical",
                                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                                "volumes": [{"hostPath": {"path": "/etc/kubernetes/pki", "type": "DirectoryOrCreate"},
                                             "name": "k8s-certs"}]},
                       "status": {"phase": "Running", "hostIP": self.node_ip[node], "podIP": self.node_ip[node]}}

    def all_pods(self) -> Iterator[dict[str, Any]]:
        g = self.g
        nodes = self.plan.nodes
        workers = nodes[CP_NODES:] or nodes
        yield from self.static_pods()
        for w in self.plan.daemonsets:
            owners = _owner("apps/v1", "DaemonSet", w.name, w.uid)
            for node in nodes:
                yield self._pod(f"{w.name}-{g.suffix(5)}", w.namespace, w.template, node, owners,
                                {"controller-revision-hash": w.hash})
        for w in self.plan.workloads:
            if w.kind == "Deployment":
                owners = _owner("apps/v1", "ReplicaSet", w.owned_name, w.owned_uid)
                for _ in range(w.replicas):
                    yield self._pod(f"{w.owned_name}-{g.suffix(5)}", w.namespace, w.template,
                                    g.rng.choice(workers), owners, {"pod-template-hash": w.hash})
            elif w.kind == "StatefulSet":
                owners = _owner("apps/v1", "StatefulSet", w.name, w.uid)
                for k in range(w.replicas):
                    yield self._pod(f"{w.name}-{k}", w.namespace, w.template, g.rng.choice(workers), owners,
                                    {"statefulset.kubernetes.io/pod-name": f"{w.name}-{k}"})
            else:
                job_name, job_uid = (w.name, w.uid) if w.kind == "Job" else (w.owned_name, w.owned_uid)
                yield self._pod(f"{job_name}-{g.suffix(5)}", w.namespace, self._job_template(w),
                                g.rng.choice(workers), _owner("batch/v1", "Job", job_name, job_uid),
                                {"job-name": job_name}, phase="Succeeded")

    def webhooks(self) -> Iterator[dict[str, Any]]:
        yield {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": _meta("policy-webhook", None, self.g.uid()),
               "webhooks": [{"name": "validate.policy.example.com", "admissionReviewVersions": ["v1"],
                             "clientConfig": {"service": {"name": "policy", "namespace": "kube-system", "port": 443}},
                             "failurePolicy": "Ignore", "sideEffects": "None",
                             "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                        "resources": ["pods"]}]}]}


# ---------------------------------------------------------------------------
# Node facts, from the demo's template
# ---------------------------------------------------------------------------

def node_facts_for(name: str, ip: str, rng: random.Random) -> dict[str, Any]:
    from kaudit.demo.build import node_facts
    cp = name.startswith("cp-")
    # The demo names its control plane cp-1 and its workers worker-1/-2 (0644 kubelet config,
    # anonymous kubelet auth on worker-2); pick among them so the sample has a share of failures.
    template = "cp-1" if cp else rng.choice(("worker-1", "worker-2", "worker-3", "worker-3", "worker-3"))
    data = node_facts(template)
    text = json.dumps(data).replace("10.0.0.10", ip).replace('"cp-1"', json.dumps(name)).replace("=cp-1", "=" + name)
    data = json.loads(text)
    data["name"] = name
    data["hostname"] = name
    return data


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def write_list(path: Path, api_version: str, items: Iterable[dict[str, Any]], fmt: str, indent: int | None) -> int:
    """Stream a `kind: List` to `path` the way kubectl prints it; returns the item count."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        if fmt == "json":
            fh.write('{\n    "apiVersion": "%s",\n    "items": [' % api_version)
            for item in items:
                fh.write(",\n" if count else "\n")
                fh.write(json.dumps(item, indent=indent))
                count += 1
            fh.write('\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n')
        else:
            import yaml
            dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
            fh.write(f"apiVersion: {api_version}\nitems:\n")
            for item in items:
                text = yaml.dump(item, Dumper=dumper, sort_keys=False, default_flow_style=False)
                fh.write("- " + text.replace("\n", "\n  ").rstrip() + "\n")
                count += 1
            fh.write('kind: List\nmetadata:\n  resourceVersion: ""\n')
    if count == 0 and fmt != "json":   # "items:" with nothing under it would be null; say [] explicitly
        path.write_text(f'apiVersion: {api_version}\nitems: []\nkind: List\nmetadata:\n  resourceVersion: ""\n')
    return count


def generate(pods: int, out: Path, seed: int = 1, fmt: str = "json", indent: int | None = None,
             node_facts_sample: int = 20) -> dict[str, Any]:
    """Write the cluster under out/cluster and a NodeFacts sample under out/node-facts."""
    cluster = Cluster(pods, seed)
    cdir = out / "cluster"
    ndir = out / "node-facts"
    cdir.mkdir(parents=True, exist_ok=True)
    ndir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    suffix = ".json" if fmt == "json" else ".yaml"
    for stem, api_version, items in cluster.kinds():
        counts[stem] = write_list(cdir / f"{stem}{suffix}", api_version, items, fmt, indent)
    rng = random.Random(seed + 1)
    nodes = cluster.plan.nodes
    sample = nodes[:CP_NODES] + rng.sample(nodes[CP_NODES:], min(node_facts_sample, len(nodes) - CP_NODES))
    for name in sample:
        (ndir / f"{name}.json").write_text(json.dumps(node_facts_for(name, cluster.node_ip[name], rng), indent=1))
    summary = {"pods": counts["pods"], "nodes": counts["nodes"], "objects": sum(counts.values()),
               "node_facts": len(sample), "seed": seed, "counts": counts,
               "bytes": sum(p.stat().st_size for p in cdir.iterdir())}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1k", help=f"one of {', '.join(SIZES)} or a pod count (default 1k)")
    ap.add_argument("--out", type=Path, required=True, help="directory to write (cluster/, node-facts/)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("json", "yaml"), default="json")
    ap.add_argument("--indent", type=int, default=None,
                    help="JSON indent per item (kubectl uses 4; default compact, which generates 5x faster)")
    ap.add_argument("--node-facts", type=int, default=20, help="worker nodes with NodeFacts (all control planes too)")
    args = ap.parse_args()
    summary = generate(pods_for(args.size), args.out, args.seed, args.format, args.indent, args.node_facts)
    print(json.dumps({k: v for k, v in summary.items() if k != "counts"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
