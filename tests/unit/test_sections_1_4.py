"""Every check of sections 1-4: a passing, a failing and a missing-evidence case.

The baseline is a hardened kubeadm-style control plane and kubelet; each
failing case changes one thing, the way a real misconfiguration would.
"""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from kaudit.catalog import load_catalog
from kaudit.engine import evaluate_check
from kaudit.model import FileInfo, Status
from tests.unit import factories as fx

CATALOG = load_catalog()
SECTIONS_1_4 = [c for c in CATALOG.checks if c.top_section in ("1", "2", "3", "4")]
A, CM, S, E = "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"


def statuses(check_id: str, facts) -> list[Status]:
    return [r.status for r in evaluate_check(CATALOG.by_id(check_id), facts)]


def hardened_facts(**argv_overrides):
    """Static pods (API view) plus node facts for cp-1 and a worker."""
    pods = fx.control_plane_pods(**argv_overrides)
    cp = fx.node_facts("cp-1")
    if argv_overrides:
        # the node's processes must agree with the pods
        procs = []
        for p in cp.processes:
            comp = p.argv[0]
            procs.append(dataclasses.replace(p, argv=tuple(argv_overrides.get(comp, p.argv))))
        cp.processes = tuple(procs)
    return fx.facts(fx.cluster(*pods, *fx.demo_objects("Node")[:2], *fx.demo_objects("ConfigMap")), [cp, fx.node_facts("worker-1")])


def test_hardened_baseline_passes_every_decided_check():
    facts = hardened_facts()
    for check in SECTIONS_1_4:
        got = set(statuses(check.id, facts))
        allowed = {Status.PASS, Status.SKIP} if check.automated else {Status.PASS, Status.WARN, Status.SKIP}
        if check.rule.get("flag", {}).get("review") or check.rule.get("setting", {}).get("review"):
            allowed = {Status.WARN}
        if check.id == "2.7":
            allowed = {Status.WARN}
        if check.id == "3.2.2":
            allowed = {Status.WARN}
        assert got and got <= allowed, f"{check.id}: {got}"


# (check id, component, flag changes) -> FAIL
FLAG_FAILURES = [
    ("1.2.1", A, {"anonymous_auth": None}),            # default true
    ("1.2.1", A, {"anonymous_auth": "true"}),
    ("1.2.2", A, {"token_auth_file": "/etc/kubernetes/tokens.csv"}),
    ("1.2.3", A, {"enable_admission_plugins": "NodeRestriction"}),
    ("1.2.4", A, {"kubelet_client_key": None}),
    ("1.2.5", A, {"kubelet_certificate_authority": None}),
    ("1.2.6", A, {"authorization_mode": None}),          # default AlwaysAllow
    ("1.2.6", A, {"authorization_mode": "AlwaysAllow"}),
    ("1.2.7", A, {"authorization_mode": "RBAC"}),
    ("1.2.8", A, {"authorization_mode": "Node"}),
    ("1.2.9", A, {"enable_admission_plugins": "NodeRestriction"}),
    ("1.2.10", A, {"enable_admission_plugins": "NodeRestriction,AlwaysAdmit"}),
    ("1.2.11", A, {"enable_admission_plugins": "NodeRestriction"}),
    ("1.2.12", A, {"disable_admission_plugins": "ServiceAccount"}),
    ("1.2.13", A, {"disable_admission_plugins": "NamespaceLifecycle,ServiceAccount"}),
    ("1.2.14", A, {"enable_admission_plugins": "EventRateLimit"}),
    ("1.2.15", A, {"profiling": None}),                  # default true
    ("1.2.16", A, {"audit_log_path": None}),
    ("1.2.17", A, {"audit_log_maxage": "7"}),
    ("1.2.17", A, {"audit_log_maxage": None}),           # default 0
    ("1.2.18", A, {"audit_log_maxbackup": "3"}),
    ("1.2.19", A, {"audit_log_maxsize": "50"}),
    ("1.2.21", A, {"service_account_lookup": "false"}),
    ("1.2.22", A, {"service_account_key_file": None}),
    ("1.2.23", A, {"etcd_certfile": None}),
    ("1.2.24", A, {"tls_private_key_file": None}),
    ("1.2.25", A, {"client_ca_file": None}),
    ("1.2.26", A, {"etcd_cafile": None}),
    ("1.2.27", A, {"encryption_provider_config": None}),
    ("1.2.29", A, {"tls_cipher_suites": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA"}),
    ("1.2.29", A, {"tls_cipher_suites": None}),
    ("1.2.30", A, {"service_account_extend_token_expiration": None}),  # default true
    ("1.3.2", CM, {"profiling": None}),
    ("1.3.3", CM, {"use_service_account_credentials": None}),          # default false
    ("1.3.4", CM, {"service_account_private_key_file": None}),
    ("1.3.5", CM, {"root_ca_file": None}),
    ("1.3.6", CM, {"feature_gates": "RotateKubeletServerCertificate=false"}),
    ("1.3.7", CM, {"bind_address": None}),               # default 0.0.0.0
    ("1.3.7", CM, {"bind_address": "0.0.0.0"}),
    ("1.4.1", S, {"profiling": "true"}),
    ("1.4.2", S, {"bind_address": None}),
    ("2.1", E, {"key_file": None}),
    ("2.2", E, {"client_cert_auth": None}),              # default false
    ("2.3", E, {"auto_tls": "true"}),
    ("2.4", E, {"peer_cert_file": None}),
    ("2.5", E, {"peer_client_cert_auth": "false"}),
    ("2.6", E, {"peer_auto_tls": "true"}),
    ("2.7", E, {"trusted_ca_file": "/etc/kubernetes/pki/ca.crt"}),      # same CA as the cluster
    ("3.2.1", A, {"audit_policy_file": None}),
]


@pytest.mark.parametrize("check_id,component,changes", FLAG_FAILURES,
                         ids=[f"{c}-{'-'.join(ch)}" for c, _, ch in FLAG_FAILURES])
def test_flag_misconfiguration_fails(check_id, component, changes):
    argv = fx.with_flags(fx.HARDENED[component], **changes)
    got = statuses(check_id, hardened_facts(**{component: argv}))
    assert Status.FAIL in got, got


def test_every_flag_check_has_a_failing_case():
    covered = {c for c, _, _ in FLAG_FAILURES}
    flag_checks = {c.id for c in SECTIONS_1_4 if c.rule_kind == "flag" and not c.rule["flag"].get("review")}
    assert flag_checks <= covered | {"1.2.20", "1.3.1"}


CONTROL_PLANE_ONLY = [c.id for c in SECTIONS_1_4
                      if c.top_section in ("1", "2", "3") and c.id not in ("1.1.9", "1.1.10")]  # CNI: every node


@pytest.mark.parametrize("check_id", CONTROL_PLANE_ONLY)
def test_no_control_plane_visible_is_error_never_pass(check_id):
    # Only worker node facts and no kube-system pods: the control plane was not seen.
    facts = fx.facts(fx.cluster(), [fx.node_facts("worker-1")])
    got = statuses(check_id, facts)
    assert got == [Status.ERROR], got


@pytest.mark.parametrize("check_id", [c.id for c in SECTIONS_1_4 if c.top_section in ("1", "2", "3")])
def test_managed_control_plane_is_skipped(check_id):
    facts = fx.facts(fx.cluster(managed=True), [])
    results = evaluate_check(CATALOG.by_id(check_id), facts)
    assert [r.status for r in results] == [Status.SKIP]
    assert "managed control plane" in results[0].message


# --- files -------------------------------------------------------------------

def _with_file(nf, path, **changes):
    nf = fx.clone(nf)
    old = nf.files.get(path) or FileInfo(path=path, exists=True, type="file", mode=0o600, uid=0, gid=0,
                                         user="root", group="root")
    nf.files[path] = dataclasses.replace(old, **changes)
    return nf


def _file_facts(cp=None, worker=None):
    return fx.facts(fx.cluster(*fx.control_plane_pods()),
                    [cp or fx.node_facts("cp-1"), worker or fx.node_facts("worker-1")])


FILE_FAILURES = [
    ("1.1.1", "cp-1", "/etc/kubernetes/manifests/kube-apiserver.yaml", {"mode": 0o644}),
    ("1.1.2", "cp-1", "/etc/kubernetes/manifests/kube-apiserver.yaml", {"user": "kube", "uid": 1000}),
    ("1.1.3", "cp-1", "/etc/kubernetes/manifests/kube-controller-manager.yaml", {"mode": 0o640}),
    ("1.1.4", "cp-1", "/etc/kubernetes/manifests/kube-controller-manager.yaml", {"group": "adm", "gid": 4}),
    ("1.1.5", "cp-1", "/etc/kubernetes/manifests/kube-scheduler.yaml", {"mode": 0o611}),
    ("1.1.6", "cp-1", "/etc/kubernetes/manifests/kube-scheduler.yaml", {"user": "nobody", "uid": 65534}),
    ("1.1.7", "cp-1", "/etc/kubernetes/manifests/etcd.yaml", {"mode": 0o666}),
    ("1.1.8", "cp-1", "/etc/kubernetes/manifests/etcd.yaml", {"user": "etcd", "uid": 998}),
    ("1.1.9", "worker-1", "/etc/cni/net.d/10-calico.conflist", {"mode": 0o644}),
    ("1.1.10", "worker-1", "/etc/cni/net.d/10-calico.conflist", {"user": "cni", "uid": 1001}),
    ("1.1.11", "cp-1", "/var/lib/etcd", {"mode": 0o755}),
    ("1.1.12", "cp-1", "/var/lib/etcd", {"user": "root", "group": "root", "uid": 0, "gid": 0}),
    ("1.1.13", "cp-1", "/etc/kubernetes/super-admin.conf", {"mode": 0o644}),
    ("1.1.14", "cp-1", "/etc/kubernetes/admin.conf", {"user": "ubuntu", "uid": 1000}),
    ("1.1.15", "cp-1", "/etc/kubernetes/scheduler.conf", {"mode": 0o604}),
    ("1.1.16", "cp-1", "/etc/kubernetes/scheduler.conf", {"group": "users", "gid": 100}),
    ("1.1.17", "cp-1", "/etc/kubernetes/controller-manager.conf", {"mode": 0o660}),
    ("1.1.18", "cp-1", "/etc/kubernetes/controller-manager.conf", {"user": "kube", "uid": 1000}),
    ("1.1.19", "cp-1", "/etc/kubernetes/pki/etcd/peer.crt", {"user": "etcd", "uid": 998}),
    ("1.1.20", "cp-1", "/etc/kubernetes/pki/apiserver.crt", {"mode": 0o666}),
    ("1.1.21", "cp-1", "/etc/kubernetes/pki/sa.key", {"mode": 0o640}),
    ("4.1.1", "worker-1", "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", {"mode": 0o644}),
    ("4.1.2", "worker-1", "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", {"user": "admin", "uid": 1000}),
    ("4.1.5", "worker-1", "/etc/kubernetes/kubelet.conf", {"mode": 0o644}),
    ("4.1.6", "worker-1", "/etc/kubernetes/kubelet.conf", {"group": "kube", "gid": 1000}),
    ("4.1.7", "worker-1", "/etc/kubernetes/pki/ca.crt", {"mode": 0o664}),
    ("4.1.8", "worker-1", "/etc/kubernetes/pki/ca.crt", {"user": "kube", "uid": 1000}),
    ("4.1.9", "worker-1", "/var/lib/kubelet/config.yaml", {"mode": 0o644}),
    ("4.1.10", "worker-1", "/var/lib/kubelet/config.yaml", {"user": "kube", "uid": 1000}),
]


@pytest.mark.parametrize("check_id,node,path,changes", FILE_FAILURES, ids=[f[0] for f in FILE_FAILURES])
def test_file_misconfiguration_fails_on_that_node(check_id, node, path, changes):
    cp, worker = fx.node_facts("cp-1"), fx.node_facts("worker-1")
    if node == "cp-1":
        cp = _with_file(cp, path, **changes)
    else:
        worker = _with_file(worker, path, **changes)
    results = evaluate_check(CATALOG.by_id(check_id), _file_facts(cp, worker))
    failing = [r for r in results if r.status is Status.FAIL]
    assert [r.target.node for r in failing] == [node], [(r.target.node, r.status, r.message) for r in results]
    assert any(path in (e.what or "") for e in failing[0].evidence)


@pytest.mark.parametrize("check_id,node,path,changes", FILE_FAILURES, ids=[f[0] for f in FILE_FAILURES])
def test_file_not_collected_or_unreadable_is_error(check_id, node, path, changes):
    nf = fx.node_facts(node)
    broken = _with_file(nf, path, error="permission denied", mode=None)
    cp = broken if node == "cp-1" else fx.node_facts("cp-1")
    worker = broken if node == "worker-1" else fx.node_facts("worker-1")
    results = evaluate_check(CATALOG.by_id(check_id), _file_facts(cp, worker))
    assert {r.status for r in results if r.target.node == node} == {Status.ERROR}
    assert Status.PASS not in {r.status for r in results if r.target.node == node}


@pytest.mark.parametrize("check_id", [c.id for c in SECTIONS_1_4 if c.rule_kind == "file"])
def test_file_checks_without_node_access_are_error(check_id):
    facts = fx.facts(fx.cluster(*fx.control_plane_pods(), *fx.demo_objects("Node")[:2]), [])
    got = statuses(check_id, facts)
    assert got and set(got) <= {Status.ERROR}, got


def test_unreachable_node_is_error_on_its_file_checks():
    worker = fx.node_facts("worker-1")
    worker.unreachable = "connection refused"
    results = evaluate_check(CATALOG.by_id("4.1.9"), _file_facts(worker=worker))
    by_node = {r.target.node: r for r in results}
    assert by_node["worker-1"].status is Status.ERROR
    assert "connection refused" in by_node["worker-1"].message
    assert by_node["cp-1"].status is Status.PASS


def test_proxy_kubeconfig_absent_is_skip_not_pass():
    # kubeadm's ConfigMap names /var/lib/kube-proxy/kubeconfig.conf, mounted in the pod, not on the host
    facts = _file_facts()
    for cm in fx.demo_objects("ConfigMap"):
        facts.cluster.add(fx.cluster(cm).of_kind("ConfigMap")[0])
    results = evaluate_check(CATALOG.by_id("4.1.3"), facts)
    assert {r.status for r in results} == {Status.SKIP}


def test_etcd_data_dir_comes_from_the_flag():
    cp = fx.node_facts("cp-1")
    argv = fx.with_flags(fx.HARDENED[E], data_dir="/data/etcd")
    cp.processes = tuple(dataclasses.replace(p, argv=tuple(argv)) if p.argv[0] == "etcd" else p for p in cp.processes)
    cp = _with_file(cp, "/data/etcd", type="dir", mode=0o755, user="etcd", group="etcd", uid=998, gid=998)
    results = evaluate_check(CATALOG.by_id("1.1.11"), fx.facts(fx.cluster(), [cp]))
    assert [r.status for r in results] == [Status.FAIL]
    assert "/data/etcd" in results[0].message


# --- kubelet ------------------------------------------------------------------

def _kubelet_facts(config: dict | None = None, flags: list[str] = (), drop_config: bool = False):
    nf = fx.node_facts("worker-1")
    base = yaml.safe_load(fx.demo.kubelet_config(anonymous=False))
    if config:
        for dotted, value in config.items():
            cur = base
            *parents, leaf = dotted.split(".")
            for p in parents:
                cur = cur.setdefault(p, {})
            if value is None:
                cur.pop(leaf, None)
            else:
                cur[leaf] = value
    nf.contents["/var/lib/kubelet/config.yaml"] = yaml.safe_dump(base)
    procs = []
    for p in nf.processes:
        if p.argv[0].endswith("kubelet"):
            argv = [a for a in p.argv if not (drop_config and a.startswith("--config"))] + list(flags)
            p = dataclasses.replace(p, argv=tuple(argv))
        procs.append(p)
    nf.processes = tuple(procs)
    return fx.facts(fx.cluster(*fx.demo_objects("ConfigMap")), [nf])


KUBELET_FAILURES = [
    ("4.2.1", {"authentication.anonymous.enabled": True}, []),
    ("4.2.1", {}, ["--anonymous-auth=true"]),                       # flag overrides the file
    ("4.2.2", {"authorization.mode": "AlwaysAllow"}, []),
    ("4.2.3", {"authentication.x509.clientCAFile": None}, []),
    ("4.2.4", {"readOnlyPort": 10255}, []),
    ("4.2.5", {}, ["--streaming-connection-idle-timeout=0"]),      # 0s in the file is defaulted to 4h
    ("4.2.6", {"makeIPTablesUtilChains": False}, []),
    ("4.2.7", {}, ["--hostname-override=node-a"]),
    ("4.2.9", {"serverTLSBootstrap": None}, []),
    ("4.2.10", {"rotateCertificates": None}, []),                   # default false
    ("4.2.11", {"featureGates": {"RotateKubeletServerCertificate": False}}, []),
    ("4.2.12", {"tlsCipherSuites": ["TLS_RSA_WITH_AES_128_CBC_SHA"]}, []),
    ("4.2.13", {"podPidsLimit": None}, []),                         # default -1
    ("4.2.14", {"seccompDefault": None}, []),                       # default false
]


@pytest.mark.parametrize("check_id,config,flags", KUBELET_FAILURES, ids=[k[0] for k in KUBELET_FAILURES])
def test_kubelet_misconfiguration_fails(check_id, config, flags):
    assert statuses(check_id, _kubelet_facts(config, flags)) == [Status.FAIL]


@pytest.mark.parametrize("check_id", [c.id for c in SECTIONS_1_4 if c.rule_kind == "setting"])
def test_kubelet_baseline_passes(check_id):
    want = {Status.WARN} if check_id == "4.2.8" else {Status.PASS}
    assert set(statuses(check_id, _kubelet_facts())) == want


def test_kubelet_without_config_file_uses_flag_defaults():
    # No --config: anonymous auth on, AlwaysAllow, read-only port 10255.
    facts = _kubelet_facts(drop_config=True)
    assert statuses("4.2.1", facts) == [Status.FAIL]
    assert statuses("4.2.2", facts) == [Status.FAIL]
    assert statuses("4.2.4", facts) == [Status.FAIL]


def test_kubelet_config_file_defaults_are_safe():
    facts = _kubelet_facts({"authentication.anonymous.enabled": None, "authorization.mode": None,
                            "readOnlyPort": None})
    assert statuses("4.2.1", facts) == [Status.PASS]
    assert statuses("4.2.2", facts) == [Status.PASS]
    assert statuses("4.2.4", facts) == [Status.PASS]


def test_flag_overrides_config_file():
    facts = _kubelet_facts({"readOnlyPort": 10255}, ["--read-only-port=0"])
    results = evaluate_check(CATALOG.by_id("4.2.4"), facts)
    assert [r.status for r in results] == [Status.PASS]
    assert "--read-only-port" in results[0].evidence[0].source


def test_unreadable_kubelet_config_is_error():
    facts = _kubelet_facts()
    nf = facts.nodes[0]
    del nf.contents["/var/lib/kubelet/config.yaml"]
    nf.content_errors["/var/lib/kubelet/config.yaml"] = "permission denied"
    results = evaluate_check(CATALOG.by_id("4.2.1"), facts)
    assert [r.status for r in results] == [Status.ERROR]
    assert "permission denied" in results[0].evidence[0].note


def test_malformed_kubelet_config_is_error_naming_the_line():
    facts = _kubelet_facts()
    facts.nodes[0].contents["/var/lib/kubelet/config.yaml"] = "authentication:\n  anonymous: [\n"
    results = evaluate_check(CATALOG.by_id("4.2.1"), facts)
    assert [r.status for r in results] == [Status.ERROR]
    assert "line" in results[0].evidence[0].note


def test_live_configz_wins_and_disagreement_is_shown():
    facts = _kubelet_facts({"authentication.anonymous.enabled": False})
    facts.cluster.kubelet_configz["worker-1"] = {"authentication": {"anonymous": {"enabled": True}}}
    results = evaluate_check(CATALOG.by_id("4.2.1"), facts)
    assert [r.status for r in results] == [Status.FAIL]
    assert "configz" in results[0].evidence[0].source
    assert "files on the node say" in results[0].evidence[0].note


def test_configz_alone_decides_without_node_access():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    cf = fx.cluster(node)
    cf.kubelet_configz["n1"] = {"authentication": {"anonymous": {"enabled": False}}, "readOnlyPort": 0}
    assert statuses("4.2.1", fx.facts(cf)) == [Status.PASS]
    assert statuses("4.2.7", fx.facts(cf)) == [Status.ERROR]   # a flag configz cannot show


def test_node_without_configz_or_access_is_error_with_reason():
    cf = fx.cluster({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    cf.configz_errors["n1"] = "forbidden: needs get on nodes/proxy"
    results = evaluate_check(CATALOG.by_id("4.2.1"), fx.facts(cf))
    assert [r.status for r in results] == [Status.ERROR]
    assert "nodes/proxy" in results[0].message


def test_kube_proxy_from_configmap_without_node_access():
    cf = fx.cluster(*fx.demo.cluster_manifests())
    results = evaluate_check(CATALOG.by_id("4.3.1"), fx.facts(cf))
    assert [r.status for r in results] == [Status.PASS]
    assert results[0].target.kind == "DaemonSet"


# --- encryption and audit -------------------------------------------------------

def test_identity_first_encryption_provider_fails():
    cp = fx.node_facts("cp-1")
    cp.contents["/etc/kubernetes/enc/encryption-config.yaml"] = (
        "kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n"
        "  - aescbc: {keys: [{name: k, secret: x}]}\n")
    assert statuses("1.2.28", fx.facts(fx.cluster(), [cp])) == [Status.FAIL]


def test_encryption_config_unreadable_is_error():
    cp = fx.node_facts("cp-1")
    del cp.contents["/etc/kubernetes/enc/encryption-config.yaml"]
    assert statuses("1.2.28", fx.facts(fx.cluster(), [cp])) == [Status.ERROR]


def test_audit_policy_logging_secret_bodies_fails():
    cp = fx.node_facts("cp-1")
    cp.contents["/etc/kubernetes/audit/policy.yaml"] = "kind: Policy\nrules:\n- level: RequestResponse\n"
    results = evaluate_check(CATALOG.by_id("3.2.2"), fx.facts(fx.cluster(), [cp]))
    assert [r.status for r in results] == [Status.FAIL]
    assert "secrets" in results[0].message


def test_audit_policy_that_logs_nothing_fails_minimal():
    cp = fx.node_facts("cp-1")
    cp.contents["/etc/kubernetes/audit/policy.yaml"] = "kind: Policy\nrules:\n- level: None\n"
    assert statuses("3.2.1", fx.facts(fx.cluster(), [cp])) == [Status.FAIL]


# --- etcd configured through its environment; structured authorization ---------

def _etcd_pod_with_env(env: dict[str, str], argv: list[str]) -> dict:
    pod = fx.static_pod("etcd", argv)
    pod["spec"]["containers"][0]["env"] = [{"name": k, "value": v} for k, v in env.items()] + [
        {"name": "SOME_PASSWORD", "value": "hunter2"}]
    return pod


def test_etcd_settings_from_the_static_pod_environment():
    argv = fx.with_flags(fx.HARDENED[E], client_cert_auth=None)
    with_env = fx.facts(fx.cluster(_etcd_pod_with_env({"ETCD_CLIENT_CERT_AUTH": "true"}, argv)))
    results = evaluate_check(CATALOG.by_id("2.2"), with_env)
    assert [r.status for r in results] == [Status.PASS]
    assert results[0].evidence[0].what == "ETCD_CLIENT_CERT_AUTH"
    without = fx.facts(fx.cluster(_etcd_pod_with_env({}, argv)))
    assert statuses("2.2", without) == [Status.FAIL]
    # a flag wins over its variable
    flagged = fx.with_flags(fx.HARDENED[E], client_cert_auth="false")
    both = fx.facts(fx.cluster(_etcd_pod_with_env({"ETCD_CLIENT_CERT_AUTH": "true"}, flagged)))
    assert statuses("2.2", both) == [Status.FAIL]


def test_only_etcd_settings_survive_from_literal_env_values():
    argv = list(fx.HARDENED[E])
    cf = fx.cluster(_etcd_pod_with_env({"ETCD_NAME": "cp-1"}, argv))
    assert "hunter2" not in repr(cf.objects)
    assert "cp-1" in repr(cf.objects)


AUTHZ = """apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
  - type: Node
    name: node
  - type: RBAC
    name: rbac
"""


def _structured_authz_facts(contents: str | None):
    argv = fx.with_flags(fx.HARDENED[A], authorization_mode=None,
                         authorization_config="/etc/kubernetes/authz.yaml")
    cp = fx.node_facts("cp-1")
    cp.processes = tuple(dataclasses.replace(p, argv=tuple(argv)) if p.argv[0] == A else p for p in cp.processes)
    if contents is not None:
        cp.contents["/etc/kubernetes/authz.yaml"] = contents
    return fx.facts(fx.cluster(), [cp])


def test_structured_authorization_config_replaces_the_mode_flag_and_its_default():
    facts = _structured_authz_facts(AUTHZ)
    for check_id in ("1.2.6", "1.2.7", "1.2.8"):
        results = evaluate_check(CATALOG.by_id(check_id), facts)
        assert [r.status for r in results] == [Status.PASS], check_id
        assert "authz.yaml" in results[0].evidence[0].what
    webhook_only = _structured_authz_facts(AUTHZ.replace("Node", "Webhook").replace("RBAC", "Webhook"))
    assert statuses("1.2.8", webhook_only) == [Status.FAIL]


def test_unreadable_structured_authorization_config_is_error_not_alwaysallow():
    facts = _structured_authz_facts(None)
    for check_id in ("1.2.6", "1.2.7", "1.2.8"):
        results = evaluate_check(CATALOG.by_id(check_id), facts)
        assert [r.status for r in results] == [Status.ERROR], check_id
        assert "authz.yaml" in results[0].message
