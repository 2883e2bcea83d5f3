"""A synthetic Report of any size, for the report benchmark and tests.

Shaped like a real scan: control-plane checks per control-plane node, worker
checks per node, pod-security checks per workload, network-policy checks per
namespace, with a realistic mix of statuses and evidence. Deterministic for a
given seed. Nothing here is used by a real scan.
"""
from __future__ import annotations

import random
from dataclasses import replace

from kaudit.model import CLUSTER, ClusterIdentity, Evidence, Report, Result, ScanInfo, Status, Target

_CP_CHECKS = [
    ("1.1.1", "Ensure that the API server pod specification file permissions are set to 600 or more restrictive", "file"),
    ("1.1.2", "Ensure that the API server pod specification file ownership is set to root:root", "file"),
    ("1.1.11", "Ensure that the etcd data directory permissions are set to 700 or more restrictive", "file"),
    ("1.1.13", "Ensure that the default administrative credential file permissions are set to 600", "file"),
    ("1.2.1", "Ensure that the --anonymous-auth argument is set to false", "flag"),
    ("1.2.5", "Ensure that the --kubelet-certificate-authority argument is set as appropriate", "flag"),
    ("1.2.16", "Ensure that the --profiling argument is set to false", "flag"),
    ("1.2.17", "Ensure that the --audit-log-path argument is set", "flag"),
    ("1.3.2", "Ensure that the --profiling argument is set to false", "flag"),
    ("1.4.1", "Ensure that the --profiling argument is set to false", "flag"),
    ("2.1", "Ensure that the --cert-file and --key-file arguments are set as appropriate", "flag"),
    ("2.2", "Ensure that the --client-cert-auth argument is set to true", "flag"),
    ("2.7", "Ensure that a unique Certificate Authority is used for etcd", "manual"),
]
_NODE_CHECKS = [
    ("4.1.1", "Ensure that the kubelet service file permissions are set to 600 or more restrictive", "file"),
    ("4.1.5", "Ensure that the --kubeconfig kubelet.conf file permissions are set to 600 or more restrictive", "file"),
    ("4.1.9", "If the kubelet config.yaml configuration file is being used validate permissions set to 600 or more restrictive", "file"),
    ("4.2.1", "Ensure that the --anonymous-auth argument is set to false", "setting"),
    ("4.2.2", "Ensure that the --authorization-mode argument is not set to AlwaysAllow", "setting"),
    ("4.2.3", "Ensure that the --client-ca-file argument is set as appropriate", "setting"),
    ("4.2.4", "Verify that if defined, the --read-only-port argument is set to 0", "setting"),
    ("4.2.10", "Ensure that the --rotate-certificates argument is not set to false", "setting"),
    ("4.3.1", "Ensure that the kube-proxy metrics service is bound to localhost", "setting"),
]
_CLUSTER_CHECKS = [
    ("3.2.1", "Ensure that a minimal audit policy is created", Status.WARN),
    ("5.1.1", "Ensure that the cluster-admin role is only used where required", Status.WARN),
    ("5.1.3", "Minimize wildcard use in Roles and ClusterRoles", Status.FAIL),
    ("5.2.1", "Ensure that the cluster has at least one active policy control mechanism in place", Status.PASS),
    ("5.3.1", "Ensure that the CNI in use supports NetworkPolicies", Status.WARN),
    ("5.5.1", "Configure Image Provenance using ImagePolicyWebhook admission controller", Status.WARN),
]
_WORKLOAD_CHECKS = [
    ("5.1.6", "Ensure that Service Account Tokens are only mounted where necessary", 0.30),
    ("5.2.2", "Minimize the admission of privileged containers", 0.04),
    ("5.2.3", "Minimize the admission of containers wishing to share the host process ID namespace", 0.01),
    ("5.2.5", "Minimize the admission of containers wishing to share the host network namespace", 0.03),
    ("5.2.6", "Minimize the admission of containers with allowPrivilegeEscalation", 0.25),
    ("5.2.7", "Minimize the admission of root containers", 0.35),
    ("5.2.8", "Minimize the admission of containers with the NET_RAW capability", 0.30),
    ("5.2.11", "Minimize the admission of HostPath volumes", 0.05),
    ("5.4.1", "Prefer using Secrets as files over Secrets as environment variables", 0.10),
    ("5.6.2", "Ensure that the seccomp profile is set to docker/default in your Pod definitions", 0.40),
    ("5.6.3", "Apply SecurityContext to your Pods and Containers", 0.20),
]
_SEVERITY = {"1": "high", "2": "high", "3": "medium", "4": "high", "5": "medium"}


def _section(check_id: str) -> str:
    return check_id.rsplit(".", 1)[0] if check_id.count(".") >= 2 else check_id.split(".")[0]


def _result(check_id: str, title: str, status: Status, target: Target, message: str,
            evidence: tuple[Evidence, ...], manual: bool = False) -> Result:
    return Result(check=check_id, title=title, section=_section(check_id), level=1,
                  cis_label="Manual" if manual else "Automated", automated=not manual,
                  severity=_SEVERITY[check_id[0]], status=status, target=target, message=message,
                  evidence=evidence,
                  remediation=f"Follow the CIS Benchmark remediation for {check_id}: edit the "
                              f"configuration named in the evidence and restart the component.")


def synthetic_report(pods: int = 2000, pods_per_workload: int = 5, seed: int = 1,
                     started: str = "2025-01-15T09:00:00Z",
                     finished: str = "2025-01-15T09:04:12Z") -> Report:
    rnd = random.Random(seed)
    workloads = max(1, pods // pods_per_workload)
    namespaces = max(2, workloads // 20)
    n_nodes = max(3, pods // 30)
    cps = [f"cp-{i}" for i in range(1, 4)]
    nodes = cps + [f"worker-{i:05d}" for i in range(1, n_nodes - 2)]
    results: list[Result] = []

    for node in cps:
        for cid, title, kind in _CP_CHECKS:
            bad = rnd.random() < 0.12
            if kind == "file":
                path = "/etc/kubernetes/manifests/kube-apiserver.yaml"
                ev = (Evidence(what=f"mode of {path}", value="0644" if bad else "0600",
                               source=f"node collector (ssh) on {node}", expected="600 or more restrictive"),)
                results.append(_result(cid, title, Status.FAIL if bad else Status.PASS,
                                       Target("File", path, node=node),
                                       "mode 0644 is more permissive than 0600" if bad else "mode 0600", ev))
            elif kind == "manual":
                results.append(_result(cid, title, Status.WARN, Target("Node", node, node=node),
                                       "compare the etcd CA with the cluster CA",
                                       (Evidence("--trusted-ca-file", "/etc/kubernetes/pki/etcd/ca.crt",
                                                 f"process etcd (pid 912) on {node}"),), manual=True))
            else:
                flag = title.split()[3] if title.split()[3].startswith("--") else "--flag"
                ev = (Evidence(what=flag, value="true" if bad else None,
                               source=f"process kube-apiserver (pid 812) on {node}", expected="false",
                               note=None if bad else "flag absent; Kubernetes default is safe"),)
                results.append(_result(cid, title, Status.FAIL if bad else Status.PASS,
                                       Target("Node", node, node=node),
                                       f"{flag} is set to true" if bad else f"{flag} is not enabled", ev))
    unreachable = {}
    for node in nodes:
        if node.startswith("worker") and rnd.random() < 0.01:
            unreachable[node] = "ssh: connection timed out after 10s"
        for cid, title, _kind in _NODE_CHECKS:
            if node in unreachable:
                results.append(_result(cid, title, Status.ERROR, Target("Node", node, node=node),
                                       f"node not reachable: {unreachable[node]}", ()))
                continue
            roll = rnd.random()
            status = Status.FAIL if roll < 0.08 else Status.PASS
            ev = (Evidence(what="readOnlyPort", value="10255" if status is Status.FAIL else "0",
                           source=f"kubelet config /var/lib/kubelet/config.yaml on {node}", expected="0"),)
            results.append(_result(cid, title, status, Target("Node", node, node=node),
                                   "setting is unsafe" if status is Status.FAIL else "setting is safe", ev))

    for cid, title, status in _CLUSTER_CHECKS:
        results.append(_result(cid, title, status, CLUSTER,
                               "review the evidence" if status is Status.WARN else "cluster-wide result",
                               (Evidence("ClusterRoleBinding cluster-admin", "subjects: system:masters",
                                         "API server (rbac.authorization.k8s.io/v1)"),),
                               manual=status is Status.WARN))

    # Workload checks as section 5 reports them: a row per failing (or skipped)
    # workload, and one PASS per check naming every passing one.
    passing: dict[str, list[Target]] = {cid: [] for cid, _, _ in _WORKLOAD_CHECKS}
    for w in range(workloads):
        ns = f"team-{w % namespaces:04d}"
        target = Target("Deployment", f"app-{w:06d}", namespace=ns)
        for cid, title, fail_rate in _WORKLOAD_CHECKS:
            roll = rnd.random()
            if roll < fail_rate:
                status, msg = Status.FAIL, "container app sets securityContext.privileged: true"
            elif roll < fail_rate + 0.01:
                status, msg = Status.SKIP, "workload is a Windows HostProcess pod"
            else:
                passing[cid].append(target)
                continue
            ev = (Evidence(what="spec.containers[0].securityContext.privileged",
                           value="true" if status is Status.FAIL else "false",
                           source=f"Deployment {ns}/app-{w:06d} ({pods_per_workload} pods)",
                           expected="false or absent"),)
            results.append(_result(cid, title, status, target, msg, ev))
    for cid, title, _ in _WORKLOAD_CHECKS:
        if passing[cid]:
            r = _result(cid, title, Status.PASS, CLUSTER,
                        f"{len(passing[cid]):,} of {workloads:,} workloads pass: no container breaks the rule",
                        (Evidence("spec.containers[*].securityContext.privileged", "false or absent",
                                  "pods and pod templates", expected="false or absent"),))
            results.append(replace(r, passed=tuple(passing[cid])))
    for n in range(namespaces):
        ns = f"team-{n:04d}"
        covered = rnd.random() < 0.7
        results.append(_result("5.3.2", "Ensure that all Namespaces have NetworkPolicies defined",
                               Status.PASS if covered else Status.FAIL, Target("Namespace", ns),
                               "NetworkPolicy selects every pod" if covered else "no NetworkPolicy in namespace",
                               (Evidence("NetworkPolicies in namespace", "2" if covered else "0",
                                         "API server (networking.k8s.io/v1)", expected="at least 1"),)))

    scan = ScanInfo(
        started=started, finished=finished, benchmark="cis-1.12",
        benchmark_title="CIS Kubernetes Benchmark", benchmark_version="1.12.0",
        cluster=ClusterIdentity(name="synthetic", api_server="https://10.0.0.1:6443", version="v1.31.4",
                                platform="kubeadm", cluster_id="6f1c2a9e-0000-4000-8000-000000000001",
                                node_count=len(nodes)),
        source="api", node_access="ssh",
        nodes_inspected=[n for n in nodes if n not in unreachable], nodes_unreachable=unreachable,
        complete=not unreachable,
        incomplete_reasons=[f"{len(unreachable)} node(s) unreachable"] if unreachable else [],
        collection_errors=["configz for node worker-00002: the server could not find the requested resource"],
        evidence_sources=["API server https://10.0.0.1:6443 (list/watch)",
                          "node collector over ssh (collect.sh 0.1.0)"],
    )
    return Report(tool={"name": "kaudit", "version": "0.1.0"}, scan=scan, results=results)
