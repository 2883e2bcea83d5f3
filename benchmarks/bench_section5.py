"""Time CIS section 5 on a synthetic large cluster, built in memory from a seed.

    .venv/bin/python benchmarks/bench_section5.py [--pods 150000] [--rbac 30000] [--seed 5]

Prints object counts, evaluation time, result counts and peak RSS. The facts
go through kaudit.collect.trim like a real source, so the objects have the
shape predicates see in a live scan.
"""
from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kaudit.catalog import Catalog, _parse_check  # noqa: E402
from kaudit.collect.trim import to_kobject  # noqa: E402
from kaudit.engine import evaluate  # noqa: E402
from kaudit.model import ClusterFacts, Facts  # noqa: E402

CHECKS = Path(__file__).resolve().parents[1] / "checks" / "cis-1.12" / "5-policies.yaml"


def _container(rng: random.Random, i: int) -> dict:
    c = {"name": "app", "image": f"registry.example.com/team{i % 40}/svc:{i % 7}.0", "ports": [{"containerPort": 8080}]}
    roll = rng.random()
    if roll < 0.7:
        c["securityContext"] = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    elif roll < 0.72:
        c["securityContext"] = {"privileged": True}
    if rng.random() < 0.05:
        c["env"] = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    return c


def build(pods: int, rbac: int, seed: int) -> Facts:
    rng = random.Random(seed)
    cluster = ClusterFacts(source="synthetic")
    add = lambda raw: cluster.add(to_kobject(raw, "synthetic"))  # noqa: E731
    namespaces = [f"ns-{i:04d}" for i in range(max(1, pods // 150))]
    for ns in namespaces:
        labels = {"pod-security.kubernetes.io/enforce": "restricted"} if rng.random() < 0.6 else {}
        add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
        add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}})
        if rng.random() < 0.5:
            add({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "deny", "namespace": ns},
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    replicas = 50
    made = 0
    d = 0
    while made < pods:
        ns = namespaces[d % len(namespaces)]
        spec = {"serviceAccountName": f"sa-{d % 20}", "containers": [_container(rng, d)]}
        dep_uid, rs_uid = f"dep-{d}", f"rs-{d}"
        template = {"metadata": {"labels": {"app": f"d{d}"}}, "spec": spec}
        add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"d{d}", "namespace": ns, "uid": dep_uid},
             "spec": {"replicas": replicas, "template": template}})
        add({"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": f"d{d}-abc", "namespace": ns, "uid": rs_uid,
                          "ownerReferences": [{"kind": "Deployment", "name": f"d{d}", "uid": dep_uid, "controller": True}]},
             "spec": {"replicas": replicas, "template": template}})
        for r in range(min(replicas, pods - made)):
            add({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": f"d{d}-abc-{r}", "namespace": ns, "uid": f"pod-{d}-{r}",
                              "ownerReferences": [{"kind": "ReplicaSet", "name": f"d{d}-abc", "uid": rs_uid,
                                                   "controller": True}]},
                 "spec": dict(spec, nodeName=f"node-{r % 300}"), "status": {"phase": "Running"}})
            made += 1
        d += 1
    verbs = [["get"], ["get", "list", "watch"], ["create"], ["*"], ["update", "patch"]]
    resources = [["pods"], ["secrets"], ["configmaps"], ["deployments"], ["*"], ["nodes/proxy"], ["serviceaccounts/token"]]
    quarter = max(1, rbac // 4)
    for i in range(quarter):
        add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": f"cr-{i}", "labels": {"agg": str(i % 50)}},
             "rules": [{"apiGroups": [""], "resources": rng.choice(resources), "verbs": rng.choice(verbs)}
                       for _ in range(3)],
             **({"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": str(i % 50)}}]}}
                if i % 500 == 0 else {})})
        add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": f"crb-{i}"},
             "roleRef": {"kind": "ClusterRole", "name": f"cr-{rng.randrange(quarter)}"},
             "subjects": [{"kind": "ServiceAccount", "name": f"sa-{i % 20}", "namespace": rng.choice(namespaces)}]})
        ns = rng.choice(namespaces)
        add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": f"r-{i}", "namespace": ns},
             "rules": [{"apiGroups": [""], "resources": rng.choice(resources), "verbs": rng.choice(verbs)}]})
        add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": f"rb-{i}", "namespace": ns},
             "roleRef": {"kind": "Role", "name": f"r-{i}"},
             "subjects": [{"kind": "User", "name": f"user-{i % 300}"}]})
    return Facts(cluster=cluster)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=150_000)
    ap.add_argument("--rbac", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    facts = build(args.pods, args.rbac, args.seed)
    t1 = time.perf_counter()
    catalog = Catalog("cis-1.12", "section 5", "1.12",
                      [_parse_check(raw, CHECKS) for raw in yaml.safe_load(CHECKS.read_text())["checks"]])
    t2 = time.perf_counter()
    results = evaluate(catalog, facts)
    t3 = time.perf_counter()
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    sizes = {k: len(v) for k, v in facts.cluster.objects.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"objects: {sizes}")
    print(f"build facts: {t1 - t0:.2f}s; evaluate section 5 ({len(catalog.checks)} checks): {t3 - t2:.2f}s")
    print(f"results: {len(results)} {counts}")
    print(f"peak RSS: {peak_mb:.0f} MiB")
    errors = [r for r in results if r.status.value == "ERROR"]
    for r in errors[:5]:
        print("ERROR", r.check, r.message, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
