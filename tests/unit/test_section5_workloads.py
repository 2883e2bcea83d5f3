"""CIS 5.2 (admission + running workloads), 5.4.1, 5.6.2, 5.6.3; attribution."""
from __future__ import annotations

import pytest

from tests.unit.section5_helpers import (container, facts_of, make_deployment_with_pods, make_namespace,
                                         make_pod, make_workload, owner, pod_spec, populated, run, statuses)

HARDENED = pod_spec(container())


def test_fifty_replica_deployment_is_one_finding_with_pod_count():
    objs = make_deployment_with_pods("web", "shop", pod_spec(container(privileged=True)), replicas=50)
    results = run("5.2.2", facts_of(make_namespace("shop", "baseline"), objs))
    fails = [r for r in results if r.status.value == "FAIL"]
    assert len(fails) == 1
    assert fails[0].target.kind == "Deployment" and fails[0].target.name == "web"
    assert "50 running pod(s)" in fails[0].message
    assert "pod template and 50 running pod(s)" in fails[0].evidence[0].source


def test_cronjob_job_pod_chain_attributes_to_cronjob():
    cj = make_workload("CronJob", "nightly", "batch", pod_spec(container(), hostNetwork=True))
    job = make_workload("Job", "nightly-28000000", "batch", pod_spec(container(), hostNetwork=True), owners=[owner(cj)])
    pod = make_pod("nightly-28000000-abcde", "batch", pod_spec(container(), hostNetwork=True), owners=[owner(job)])
    st = statuses(run("5.2.5", facts_of(make_namespace("batch", "restricted"), cj, job, pod)))
    assert st[("CronJob", "batch", "nightly")] == "FAIL"
    assert ("Job", "batch", "nightly-28000000") not in st and ("Pod", "batch", "nightly-28000000-abcde") not in st


def test_bare_pod_is_its_own_target_and_missing_owner_is_named():
    bare = make_pod("debug", "shop", pod_spec(container(), hostPID=True))
    orphan = make_pod("x-1", "shop", pod_spec(container(), hostPID=True),
                      owners=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "gone-rs", "uid": "u-1",
                               "controller": True}])
    st = statuses(run("5.2.3", facts_of(make_namespace("shop", "baseline"), bare, orphan)))
    assert st[("Pod", "shop", "debug")] == "FAIL"
    assert st[("ReplicaSet", "shop", "gone-rs")] == "FAIL"


@pytest.mark.parametrize("check_id, spec, bad", [
    ("5.2.2", pod_spec(container(privileged=True)), True),
    ("5.2.3", pod_spec(container(), hostPID=True), True),
    ("5.2.4", pod_spec(container(), hostIPC=True), True),
    ("5.2.5", pod_spec(container(), hostNetwork=True), True),
    ("5.2.6", pod_spec(container(allowPrivilegeEscalation=True)), True),
    ("5.2.6", pod_spec(container(hardened=False)), True),          # unset: escalation allowed
    ("5.2.6", pod_spec(container(hardened=False, allowPrivilegeEscalation=False)), False),
    ("5.2.7", pod_spec(container(hardened=False)), True),          # image decides: may be root
    ("5.2.7", pod_spec(container(runAsNonRoot=None, runAsUser=0)), True),
    ("5.2.7", pod_spec(container(hardened=False), securityContext={"runAsNonRoot": True}), False),  # pod level
    ("5.2.7", pod_spec(container(hardened=False, runAsUser=10001)), False),
    ("5.2.8", pod_spec(container(hardened=False)), True),          # runtime default includes NET_RAW
    ("5.2.8", pod_spec(container(capabilities={"drop": ["ALL"], "add": ["NET_RAW"]})), True),
    ("5.2.8", pod_spec(container(hardened=False, capabilities={"drop": ["NET_RAW"]})), False),
    ("5.2.9", pod_spec(container(capabilities={"drop": ["ALL"], "add": ["SYS_TIME"]})), True),
    ("5.2.9", pod_spec(container(hardened=False)), True),          # keeps the runtime's default set
    ("5.2.9", pod_spec(container(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})), False),
    ("5.2.10", pod_spec(container(), securityContext={"windowsOptions": {"hostProcess": True}},
                        os={"name": "windows"}), True),
    ("5.2.11", pod_spec(container(), volumes=[{"name": "logs", "hostPath": {"path": "/var/log"}}]), True),
    ("5.2.11", pod_spec(container(), volumes=[{"name": "tmp", "emptyDir": {}}]), False),
    ("5.2.12", pod_spec({**container(), "ports": [{"containerPort": 80, "hostPort": 80}]}), True),
    ("5.4.1", pod_spec({**container(), "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "db", "key": "password"}}}]}), True),
    ("5.4.1", pod_spec({**container(), "envFrom": [{"secretRef": {"name": "api-keys"}}]}), True),
    ("5.4.1", pod_spec({**container(), "envFrom": [{"configMapRef": {"name": "settings"}}]}), False),
    ("5.6.2", pod_spec(container(hardened=False)), True),
    ("5.6.2", pod_spec(container(hardened=False), securityContext={"seccompProfile": {"type": "RuntimeDefault"}}), False),
    ("5.6.2", pod_spec(container(seccompProfile={"type": "Unconfined"}),
                       securityContext={"seccompProfile": {"type": "RuntimeDefault"}}), True),   # container wins
    ("5.6.2", pod_spec(container(seccompProfile={"type": "Localhost", "localhostProfile": "p.json"})), False),
    ("5.6.3", pod_spec(container(hardened=False)), True),
    ("5.6.3", HARDENED, False),
])
def test_running_workload_controls(check_id, spec, bad):
    facts = facts_of(make_namespace("shop", "restricted"), make_deployment_with_pods("api", "shop", spec, replicas=2))
    st = statuses(run(check_id, facts))
    assert (st.get(("Deployment", "shop", "api")) == "FAIL") is bad, st


def test_init_and_ephemeral_containers_are_checked():
    spec = pod_spec(container(), initContainers=[container("setup", privileged=True)])
    assert statuses(run("5.2.2", facts_of(make_namespace("shop", "baseline"),
                                          make_deployment_with_pods("api", "shop", spec))))[
        ("Deployment", "shop", "api")] == "FAIL"


@pytest.mark.parametrize("labels, check_id, expected", [
    ({"enforce": "baseline"}, "5.2.2", "PASS"),
    ({"enforce": "baseline"}, "5.2.6", "FAIL"),      # escalation needs restricted
    ({"enforce": "restricted"}, "5.2.6", "PASS"),
    ({"enforce": "privileged"}, "5.2.2", "FAIL"),
    ({}, "5.2.2", "FAIL"),
    ({"enforce": "Restricted!"}, "5.2.9", "PASS"),  # invalid value: Kubernetes enforces restricted
    ({"audit": "restricted"}, "5.2.2", "FAIL"),      # audit/warn do not stop admission
])
def test_namespace_admission_by_pod_security_label(labels, check_id, expected):
    ns = make_namespace("shop", labels.get("enforce"))
    if "audit" in labels:
        ns["metadata"]["labels"]["pod-security.kubernetes.io/audit"] = labels["audit"]
    st = statuses(run(check_id, facts_of(populated(ns))))
    assert st[("Namespace", None, "shop")] == expected


def _kyverno(name: str, rules: list[dict], action: str = "Enforce", namespace: str | None = None) -> dict:
    return {"apiVersion": "kyverno.io/v1", "kind": "Policy" if namespace else "ClusterPolicy",
            "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
            "spec": {"validationFailureAction": action, "background": True, "rules": rules}}


def _pod_rule(name: str, validate: dict, exclude_ns: list[str] | None = None) -> dict:
    r = {"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": validate}
    if exclude_ns:
        r["exclude"] = {"any": [{"resources": {"namespaces": exclude_ns}}]}
    return r


def test_kyverno_enforce_policies_count_and_audit_does_not():
    privileged = _kyverno("disallow-privileged-containers", [_pod_rule("privileged-containers", {
        "message": "Privileged mode is disallowed.",
        "pattern": {"spec": {"containers": [{"=(securityContext)": {"=(privileged)": "false"}}]}}})],
        )
    pss = _kyverno("pss-restricted", [_pod_rule("restricted", {"podSecurity": {
        "level": "restricted", "version": "latest",
        "exclude": [{"controlName": "Seccomp", "images": ["*"]}]}}, exclude_ns=["kube-system"])])
    audit_only = _kyverno("host-ns-audit", [_pod_rule("host-namespaces", {
        "pattern": {"spec": {"=(hostPID)": "false"}}})], action="Audit")
    facts = facts_of(populated(make_namespace("shop"), make_namespace("kube-system")), privileged, pss, audit_only)
    assert statuses(run("5.2.2", facts))[("Namespace", None, "kube-system")] == "PASS"   # ClusterPolicy reaches all
    assert statuses(run("5.2.6", facts))[("Namespace", None, "shop")] == "PASS"          # podSecurity restricted
    assert statuses(run("5.2.6", facts))[("Namespace", None, "kube-system")] == "FAIL"   # excluded namespace
    assert statuses(run("5.6.2", facts)) .get(("Namespace", None, "shop")) is None        # 5.6.2 is workload-only
    assert statuses(run("5.2.1", facts))[("Cluster", None, "cluster")] == "PASS"
    only_audit = facts_of(populated(make_namespace("shop")), audit_only)
    assert statuses(run("5.2.3", only_audit))[("Namespace", None, "shop")] == "FAIL"
    assert statuses(run("5.2.1", only_audit))[("Cluster", None, "cluster")] == "FAIL"


def test_gatekeeper_constraints_deny_and_dryrun():
    def constraint(kind, name, action=None, params=None, excluded=None):
        spec = {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}}
        if action:
            spec["enforcementAction"] = action
        if params:
            spec["parameters"] = params
        if excluded:
            spec["match"]["excludedNamespaces"] = excluded
        return {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": kind, "metadata": {"name": name},
                "spec": spec}
    facts = facts_of(populated(make_namespace("shop"), make_namespace("kube-system")),
                     constraint("K8sPSPPrivilegedContainer", "no-privileged", excluded=["kube-*"]),
                     constraint("K8sPSPHostNamespace", "no-host-ns", action="dryrun"),
                     constraint("K8sPSPCapabilities", "drop-all", params={"requiredDropCapabilities": ["ALL"]}))
    st = statuses(run("5.2.2", facts))
    assert st[("Namespace", None, "shop")] == "PASS" and st[("Namespace", None, "kube-system")] == "FAIL"
    assert statuses(run("5.2.3", facts))[("Namespace", None, "shop")] == "FAIL"       # dryrun does not deny
    assert statuses(run("5.2.8", facts))[("Namespace", None, "shop")] == "PASS"


def test_validating_admission_policy_with_deny_binding():
    vap = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
           "metadata": {"name": "no-host-path"},
           "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [
               {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]},
               "validations": [{"expression": "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "no-host-path-tenants"},
               "spec": {"policyName": "no-host-path", "validationActions": ["Deny"],
                        "matchResources": {"namespaceSelector": {"matchLabels": {"tenant": "true"}}}}}
    facts = facts_of(populated(make_namespace("shop", tenant="true"), make_namespace("ops")), vap, binding)
    st = statuses(run("5.2.11", facts))
    assert st[("Namespace", None, "shop")] == "PASS" and st[("Namespace", None, "ops")] == "FAIL"
    warn_binding = dict(binding, spec=dict(binding["spec"], validationActions=["Warn", "Audit"]))
    assert statuses(run("5.2.11", facts_of(populated(make_namespace("shop", tenant="true")), vap, warn_binding)))[
        ("Namespace", None, "shop")] == "FAIL"


def test_control_plane_static_pod_expectations():
    node_owner = [{"apiVersion": "v1", "kind": "Node", "name": "cp-1", "uid": "n-1", "controller": True}]
    apiserver = make_pod("kube-apiserver-cp-1", "kube-system", {
        "hostNetwork": True, "priorityClassName": "system-node-critical",
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.30.2",
                        "command": ["kube-apiserver", "--profiling=false"]}],
        "volumes": [{"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki"}}]},
        owners=node_owner, labels={"component": "kube-apiserver", "tier": "control-plane"}, node="cp-1")
    rogue = make_pod("miner-cp-1", "kube-system", pod_spec(container(), hostNetwork=True), owners=node_owner, node="cp-1")
    facts = facts_of(make_namespace("kube-system"), apiserver, rogue)
    r5 = run("5.2.5", facts)
    st = statuses(r5)
    assert ("Pod", "kube-system", "kube-apiserver-cp-1") not in st
    assert st[("Pod", "kube-system", "miner-cp-1")] == "FAIL"
    expected_line = [r for r in r5 if r.target.kind == "Cluster"]
    assert expected_line and "kube-apiserver-cp-1" in expected_line[0].evidence[0].what
    # seccomp is expected on static pods: kubeadm sets RuntimeDefault, so this one passes 5.6.2
    assert ("Pod", "kube-system", "kube-apiserver-cp-1") not in statuses(run("5.6.2", facts))
    # privileged is never expected
    priv = make_pod("kube-scheduler-cp-1", "kube-system", pod_spec(container(privileged=True), sa=None),
                    owners=node_owner, labels={"component": "kube-scheduler"})
    assert statuses(run("5.2.2", facts_of(priv)))[("Pod", "kube-system", "kube-scheduler-cp-1")] == "FAIL"


def test_seccomp_default_from_kubelet_configz():
    facts = facts_of(make_namespace("shop"), {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}},
                     make_deployment_with_pods("api", "shop", pod_spec(container(hardened=False))))
    assert statuses(run("5.6.2", facts))[("Deployment", "shop", "api")] == "FAIL"
    facts.cluster.kubelet_configz["worker-1"] = {"seccompDefault": True}
    assert ("Deployment", "shop", "api") not in statuses(run("5.6.2", facts))


def test_terminated_pods_are_not_running_workloads():
    done = make_pod("migrate-1", "shop", pod_spec(container(privileged=True)), phase="Succeeded")
    results = run("5.2.2", facts_of(make_namespace("shop", "baseline"), done))
    assert not [r for r in results if r.status.value == "FAIL"]


def test_unavailable_pods_are_an_error_and_no_pass_summary():
    facts = facts_of(make_namespace("shop"), unavailable={"Pod": "forbidden: needs list on pods"})
    results = run("5.4.1", facts)
    assert [r.status.value for r in results] == ["ERROR"] and "forbidden" in results[0].message


def test_policy_kinds_unreadable_turn_namespace_fail_into_error():
    facts = facts_of(populated(make_namespace("shop")), unavailable={"ClusterPolicy.kyverno.io": "forbidden"})
    results = run("5.2.2", facts)
    errors = [r for r in results if r.status.value == "ERROR"]
    assert not [r for r in results if r.status.value == "FAIL" and r.target.kind == "Namespace"]
    assert len(errors) == 1 and "shop" in errors[0].message and "forbidden" in errors[0].message


def test_policy_kinds_unreadable_is_one_error_naming_every_undecided_namespace():
    # 1,500 namespaces undecided for one reason were 1,500 ERROR rows per 5.2 check
    names = [f"team-{i:04d}" for i in range(300)]
    enforced = populated(make_namespace("locked", "restricted"))
    facts = facts_of(*(populated(make_namespace(n)) for n in names), enforced,
                     unavailable={"ValidatingAdmissionPolicy": "not in the input"})
    results = run("5.2.2", facts)
    errors = [r for r in results if r.status.value == "ERROR"]
    assert len(errors) == 1 and errors[0].target.kind == "Cluster"
    assert "300 namespace" in errors[0].message and "ValidatingAdmissionPolicy: not in the input" in errors[0].message
    listed = " ".join(f"{e.value} {e.note or ''}" for e in errors[0].evidence)
    assert all(n in listed for n in names)               # every undecided target named, none lost to a cap
    assert "locked" not in listed
    assert statuses(results)[("Namespace", None, "locked")] == "PASS"   # enforcement seen still decides
