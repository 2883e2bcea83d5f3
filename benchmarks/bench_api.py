"""Scan time and memory of ApiSource.collect() on a large synthetic cluster.

    .venv/bin/python benchmarks/bench_api.py --nodes 5000 --pods 150000
    .venv/bin/python benchmarks/bench_api.py --nodes 500 --pods 15000      # quick

The test API server (tests/integration/apiserver.py) runs in a child
process with every list page pre-serialised, so the measurement is the
collector's own wall time, CPU time and peak RSS (this process does nothing
else). Objects are generated from a seed and shaped like real ones
(managedFields, status, several containers, projected token volumes), since
trimming cost and memory depend on it. Target: <= 90 s and well under
1.5 GiB at 5,000 nodes / 150,000 pods.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))


# ---------------------------------------------------------------------------
# Synthetic cluster
# ---------------------------------------------------------------------------

def _managed_fields(manager: str) -> list[dict[str, Any]]:
    return [{"manager": manager, "operation": "Update", "apiVersion": "v1", "time": "2024-05-01T10:00:00Z",
             "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                                         "f:ownerReferences": {".": {}, "k:{\"uid\":\"x\"}": {}}},
                          "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {},
                                                                                 "f:name": {}, "f:ports": {}}}}}},
            {"manager": "kubelet", "operation": "Update", "subresource": "status", "apiVersion": "v1",
             "time": "2024-05-01T10:00:05Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {},
                                       "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}]


def _container(name: str, image: str, rng: random.Random) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "DB_HOST", "value": "db.internal"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                          "readOnly": True}, {"name": "config", "mountPath": "/etc/app"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    }
    if rng.random() < 0.7:
        c["securityContext"] = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": rng.random() < 0.5}
    elif rng.random() < 0.05:
        c["securityContext"] = {"privileged": True}
    return c


def synthetic_cluster(nodes: int, pods: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    namespaces = max(10, pods // 300)
    yield {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": "ks-uid"}}
    for i in range(namespaces):
        yield {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": f"ns-{i}", "labels": {"team": f"t{i % 40}"}}, "status": {"phase": "Active"}}
        yield {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": f"ns-{i}"}}
        yield {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "edit", "namespace": f"ns-{i}"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
               "subjects": [{"kind": "Group", "name": f"team-{i % 40}", "apiGroup": "rbac.authorization.k8s.io"}]}
        yield {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "default-deny", "namespace": f"ns-{i}"},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    for i in range(nodes):
        cp = i < 3
        labels = {"kubernetes.io/hostname": f"node-{i}", "kubernetes.io/os": "linux",
                  "topology.kubernetes.io/zone": f"zone-{i % 3}"}
        if cp:
            labels["node-role.kubernetes.io/control-plane"] = ""
        yield {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}", "labels": labels},
               "spec": {"podCIDR": f"10.{i // 256}.{i % 256}.0/24"},
               "status": {"nodeInfo": {"kubeletVersion": "v1.30.2", "osImage": "Ubuntu 22.04",
                                       "containerRuntimeVersion": "containerd://1.7.2"},
                          "addresses": [{"type": "InternalIP", "address": f"10.1.{i // 256}.{i % 256}"}],
                          "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                          "conditions": [{"type": "Ready", "status": "True"}],
                          "images": [{"names": [f"registry.example.com/app-{k}:1.{k}"], "sizeBytes": 1000000}
                                     for k in range(20)]}}
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        for n in range(3):
            yield {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"{comp}-node-{n}", "namespace": "kube-system",
                                "labels": {"component": comp, "tier": "control-plane"}},
                   "spec": {"nodeName": f"node-{n}", "hostNetwork": True,
                            "containers": [{"name": comp, "image": f"registry.k8s.io/{comp}:v1.30.2",
                                            "command": [comp, "--profiling=false", "--v=2"]}]},
                   "status": {"phase": "Running"}}
    per_rs = 10
    for d in range(pods // per_rs):
        ns = f"ns-{d % namespaces}"
        app = f"app-{d}"
        images = [f"registry.example.com/{app}:1.{rng.randrange(50)}"]
        if rng.random() < 0.3:
            images.append("registry.example.com/sidecar:2.1")
        template = {"metadata": {"labels": {"app": app}},
                    "spec": {"serviceAccountName": "default", "securityContext": {"runAsUser": 1000},
                             "containers": [_container(f"c{k}", img, rng) for k, img in enumerate(images)],
                             "volumes": [{"name": "config", "configMap": {"name": app}},
                                         {"name": "kube-api-access", "projected": {"sources": [
                                             {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                                             {"configMap": {"name": "kube-root-ca.crt",
                                                            "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}]}}
        yield {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app, "namespace": ns},
               "spec": {"replicas": per_rs, "selector": {"matchLabels": {"app": app}}, "template": template},
               "status": {"replicas": per_rs, "readyReplicas": per_rs}}
        yield {"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": f"{app}-7d9f", "namespace": ns, "ownerReferences": [
                   {"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "controller": True}]},
               "spec": {"replicas": per_rs, "selector": {"matchLabels": {"app": app}}, "template": template}}
        yield {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
               "spec": {"type": "ClusterIP", "clusterIP": f"10.96.{d // 256 % 256}.{d % 256}",
                        "ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": app}}}
        for p in range(per_rs):
            yield {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"{app}-7d9f-{p:05d}", "namespace": ns,
                                "labels": {"app": app, "pod-template-hash": "7d9f"},
                                "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"},
                                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                     "name": f"{app}-7d9f", "controller": True,
                                                     "blockOwnerDeletion": True}],
                                "managedFields": _managed_fields("kube-controller-manager")},
                   "spec": {**template["spec"], "nodeName": f"node-{rng.randrange(nodes)}",
                            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                             "effect": "NoExecute", "tolerationSeconds": 300}]},
                   "status": {"phase": "Running", "podIP": f"10.244.{p}.{d % 256}", "hostIP": "10.1.0.1",
                              "conditions": [{"type": t, "status": "True"} for t in
                                             ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                              "containerStatuses": [{"name": f"c{k}", "ready": True, "restartCount": 0,
                                                     "image": img, "imageID": "sha256:" + "ab" * 32,
                                                     "containerID": "containerd://" + "cd" * 32,
                                                     "state": {"running": {"startedAt": "2024-05-01T10:00:03Z"}}}
                                                    for k, img in enumerate(images)]}}


# ---------------------------------------------------------------------------
# Server child process
# ---------------------------------------------------------------------------

def serve(args: argparse.Namespace) -> None:
    from apiserver import FakeApiServer
    server = FakeApiServer(record=False)
    count = 0
    for obj in synthetic_cluster(args.nodes, args.pods, args.seed):
        rtype = server.rtype_for(obj["apiVersion"], obj["kind"])
        assert rtype is not None
        server.store.put(rtype, obj)        # no deep copy: the generator made fresh objects
        count += 1
    server.warm(args.page_size)
    server.start()
    kubeconfig = server.write_kubeconfig(server.tmpdir / "kubeconfig")
    print(json.dumps({"kubeconfig": str(kubeconfig), "url": server.url, "objects": count}), flush=True)
    sys.stdin.read()                         # until the parent closes our stdin
    server.stop()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--nodes", str(args.nodes), "--pods",
                              str(args.pods), "--seed", str(args.seed), "--page-size", str(args.page_size)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        ready = json.loads(child.stdout.readline())
        setup = time.monotonic() - t0
        from kaudit.collect.api import ApiSource
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.monotonic()
        facts = ApiSource(ready["kubeconfig"], page_size=args.page_size,
                          configz_concurrency=args.configz_concurrency).collect(
            progress=(lambda m: print("  " + m, file=sys.stderr)) if args.verbose else (lambda m: None))
        wall = time.monotonic() - w0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    counts = {k: len(v) for k, v in facts.objects.items() if v}
    return {
        "nodes": args.nodes, "pods": args.pods, "objects_served": ready["objects"],
        "objects_collected": sum(counts.values()), "server_setup_s": round(setup, 1),
        "wall_s": round(wall, 2),
        "cpu_s": round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 2),
        "peak_rss_mib": round(cpu1.ru_maxrss / 1024, 1), "rss_before_mib": round(rss_before / 1024, 1),
        "configz_ok": len(facts.kubelet_configz), "configz_errors": len(facts.configz_errors),
        "unavailable": facts.unavailable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--configz-concurrency", type=int, default=16)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    print(json.dumps(measure(args), indent=2))


if __name__ == "__main__":
    main()
