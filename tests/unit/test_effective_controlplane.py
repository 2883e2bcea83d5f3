"""Control-plane settings as each component resolves them: the scheduler's
--config, etcd's --config-file, the API server's authentication config; and
the control-plane verdicts found wrong in review (CNI files, 1.2.28, 3.2.2,
an ERROR hiding a FAIL, incomplete directory listings).

Facts are literal: the node facts of a hardened kubeadm control plane
(tests/unit/factories.py) with one thing changed the way a real cluster
would have it. File contents follow what kubeadm and the components
document; sources are cited next to each.
"""
from __future__ import annotations

import dataclasses

from kaudit.catalog import load_catalog
from kaudit.engine import evaluate_check
from kaudit.model import FileInfo, NodeFacts, Status
from kaudit.scan import build_report
from tests.unit import factories as fx

CATALOG = load_catalog()
A, CM, S, E = "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"


def run(check_id: str, *nodes: NodeFacts, version: str = "v1.30.4"):
    return evaluate_check(CATALOG.by_id(check_id), fx.facts(fx.cluster(version=version), list(nodes)))


def statuses(check_id: str, *nodes: NodeFacts, version: str = "v1.30.4") -> list[Status]:
    return [r.status for r in run(check_id, *nodes, version=version)]


def cp_with(component: str, argv: list[str], env: dict[str, str] | None = None, **contents: str) -> NodeFacts:
    """cp-1 with `component` running `argv`; `contents` maps paths (with
    __ for /) to file contents."""
    cp = fx.node_facts("cp-1")
    procs = []
    for p in cp.processes:
        if p.argv[0] == component:
            p = dataclasses.replace(p, argv=tuple(argv), env=env if env is not None else p.env)
        procs.append(p)
    cp.processes = tuple(procs)
    for key, text in contents.items():
        cp.contents[key] = text
    return cp


def file_info(path: str, mode: int, kind: str = "file", **kw) -> FileInfo:
    return FileInfo(path=path, exists=True, type=kind, mode=mode, uid=kw.get("uid", 0), gid=kw.get("gid", 0),
                    user=kw.get("user", "root"), group=kw.get("group", "root"), error=kw.get("error"))


# --- kube-scheduler: --config replaces the deprecated flags ---------------------

# A KubeSchedulerConfiguration as the kube-scheduler reference documents it
# (kubescheduler.config.k8s.io/v1); kubeadm itself passes no --config.
SCHED_CONFIG = "/etc/kubernetes/kube-scheduler-config.yaml"
SCHED_DOC = """apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: /etc/kubernetes/scheduler-config.conf
enableProfiling: false
"""


def scheduler_node(doc: str | None, *extra: str) -> NodeFacts:
    argv = ["kube-scheduler", "--bind-address=127.0.0.1", f"--config={SCHED_CONFIG}", *extra]
    cp = cp_with(S, argv)
    if doc is not None:
        cp.contents[SCHED_CONFIG] = doc
    cp.files["/etc/kubernetes/scheduler-config.conf"] = file_info("/etc/kubernetes/scheduler-config.conf", 0o600)
    return cp


def test_scheduler_profiling_comes_from_the_config_file_not_the_deprecated_flag():
    # the file disables profiling; a stale --profiling=true is ignored by the scheduler
    results = run("1.4.1", scheduler_node(SCHED_DOC, "--profiling=true"))
    assert [r.status for r in results] == [Status.PASS]
    ev = results[0].evidence[0]
    assert ev.what == f"enableProfiling in {SCHED_CONFIG}" and ev.value == "false"
    assert "--profiling=true is ignored" in ev.note


def test_scheduler_config_without_enable_profiling_defaults_to_true_whatever_the_flag_says():
    doc = SCHED_DOC.replace("enableProfiling: false\n", "")
    results = run("1.4.1", scheduler_node(doc, "--profiling=false"))
    assert [r.status for r in results] == [Status.FAIL]
    assert results[0].evidence[0].value == "true"
    assert "default" in results[0].evidence[0].note


def test_scheduler_config_unreadable_or_invalid_is_error_naming_the_file_and_line():
    assert statuses("1.4.1", scheduler_node(None, "--profiling=false")) == [Status.ERROR]
    broken = run("1.4.1", scheduler_node("kind: KubeSchedulerConfiguration\nenableProfiling: [false\n"))
    assert [r.status for r in broken] == [Status.ERROR]
    assert SCHED_CONFIG in broken[0].message and "line" in broken[0].message
    # the other scheduler checks keep their verdicts
    assert statuses("1.4.2", scheduler_node("kind: KubeSchedulerConfiguration\nenableProfiling: [false\n")) == [
        Status.PASS]


def test_scheduler_kubeconfig_checks_judge_the_file_named_in_the_config():
    cp = scheduler_node(SCHED_DOC, "--kubeconfig=/etc/kubernetes/scheduler.conf")
    cp.files["/etc/kubernetes/scheduler-config.conf"] = file_info("/etc/kubernetes/scheduler-config.conf", 0o644)
    results = run("1.1.15", cp)
    assert [r.status for r in results] == [Status.FAIL]
    assert "/etc/kubernetes/scheduler-config.conf" in results[0].message
    # a config file with no kubeconfig: the in-cluster config, no file to judge
    no_kc = scheduler_node("kind: KubeSchedulerConfiguration\nenableProfiling: false\n",
                           "--kubeconfig=/etc/kubernetes/scheduler.conf")
    assert statuses("1.1.16", no_kc) == [Status.SKIP]


def test_stock_kubeadm_scheduler_flags_still_decide():
    # kubeadm's kube-scheduler manifest: --kubeconfig=/etc/kubernetes/scheduler.conf and no --config
    # (cmd/kubeadm/app/phases/controlplane/manifests.go, getSchedulerCommand)
    cp = cp_with(S, ["kube-scheduler", "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
                     "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf", "--bind-address=127.0.0.1",
                     "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"])
    assert statuses("1.4.1", cp) == [Status.FAIL]          # profiling defaults to true
    assert statuses("1.1.15", cp) == [Status.PASS]


def test_controller_manager_has_no_config_file_its_flags_decide():
    # kube-controller-manager registers no --config flag: its flags are all there is
    argv = fx.with_flags(fx.HARDENED[CM], profiling="true")
    assert statuses("1.3.2", cp_with(CM, argv)) == [Status.FAIL]


# --- etcd: --config-file replaces every flag and ETCD_* variable ---------------

ETCD_CONFIG = "/etc/etcd/etcd.conf.yml"
# etcd's documented configuration file layout (etcd.conf.yml.sample in etcd-io/etcd)
ETCD_DOC = """name: cp-1
data-dir: /var/lib/etcd-data
client-transport-security:
  cert-file: /etc/kubernetes/pki/etcd/server.crt
  key-file: /etc/kubernetes/pki/etcd/server.key
  client-cert-auth: true
  trusted-ca-file: /etc/kubernetes/pki/etcd/ca.crt
  auto-tls: false
peer-transport-security:
  cert-file: /etc/kubernetes/pki/etcd/peer.crt
  key-file: /etc/kubernetes/pki/etcd/peer.key
  client-cert-auth: true
  trusted-ca-file: /etc/kubernetes/pki/etcd/ca.crt
  auto-tls: false
"""


def etcd_node(doc: str | None, argv_extra=(), env=None) -> NodeFacts:
    argv = fx.with_flags(fx.HARDENED[E], config_file=ETCD_CONFIG, **dict(argv_extra))
    cp = cp_with(E, argv, env=env or {})
    if doc is not None:
        cp.contents[ETCD_CONFIG] = doc
    cp.files["/var/lib/etcd-data"] = file_info("/var/lib/etcd-data", 0o700, "dir", user="etcd", group="etcd",
                                               uid=998, gid=998)
    return cp


def test_etcd_config_file_wins_over_flags_and_environment():
    good = etcd_node(ETCD_DOC)
    for check_id in ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6"):
        assert statuses(check_id, good) == [Status.PASS], check_id
    # the file turns client certificate auth off: the flag and the variable saying true do not count
    off = etcd_node(ETCD_DOC.replace("  client-cert-auth: true\n  trusted-ca-file: /etc/kubernetes/pki/etcd/ca.crt\n"
                                     "  auto-tls: false\npeer", "  trusted-ca-file: /etc/kubernetes/pki/etcd/ca.crt\n"
                                     "  auto-tls: false\npeer"),
                    env={"ETCD_CLIENT_CERT_AUTH": "true"})
    results = run("2.2", off)
    assert [r.status for r in results] == [Status.FAIL]
    ev = results[0].evidence[0]
    assert ev.what == f"client-transport-security.client-cert-auth in {ETCD_CONFIG}" and ev.value == "false"
    assert "--client-cert-auth" in ev.note and "ETCD_CLIENT_CERT_AUTH" in ev.note
    # peer auto TLS on in the file, off on the command line
    head, peer = ETCD_DOC.split("peer-transport-security:\n")
    auto = etcd_node(head + "peer-transport-security:\n" + peer.replace("auto-tls: false", "auto-tls: true"))
    assert statuses("2.6", auto) == [Status.FAIL]


def test_etcd_config_file_named_by_the_environment_and_unreadable_is_error():
    argv = list(fx.HARDENED[E])
    cp = cp_with(E, argv, env={"ETCD_CONFIG_FILE": ETCD_CONFIG})
    results = run("2.2", cp)
    assert [r.status for r in results] == [Status.ERROR]
    assert ETCD_CONFIG in results[0].message


def test_etcd_data_dir_checks_judge_the_config_files_data_dir():
    cp = etcd_node(ETCD_DOC)
    results = run("1.1.12", cp)
    assert [r.status for r in results] == [Status.PASS]
    assert any("/var/lib/etcd-data" in e.what for e in results[0].evidence)
    cp.files["/var/lib/etcd-data"] = file_info("/var/lib/etcd-data", 0o755, "dir")
    assert statuses("1.1.11", cp) == [Status.FAIL]
    assert statuses("1.1.11", etcd_node(None)) == [Status.ERROR]


def test_etcd_unique_ca_reads_the_config_file():
    cp = etcd_node(ETCD_DOC.replace("/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/ca.crt", 1))
    results = run("2.7", cp)
    assert [r.status for r in results] == [Status.FAIL]     # same CA file as the API server's --client-ca-file


# --- kube-apiserver: anonymous access from the authentication config (1.32+) --------

AUTHN = "/etc/kubernetes/authn.yaml"
# AuthenticationConfiguration with anonymous endpoints, as in the Kubernetes
# authentication docs ("Anonymous authenticator configuration", 1.32+)
AUTHN_HEALTH_ONLY = """apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
  - path: /livez
  - path: /readyz
  - path: /healthz
"""


def apiserver_node(doc: str | None, **changes) -> NodeFacts:
    argv = fx.with_flags(fx.HARDENED[A], **{"anonymous_auth": None, "authentication_config": AUTHN, **changes})
    cp = cp_with(A, argv)
    if doc is not None:
        cp.contents[AUTHN] = doc
    return cp


def test_anonymous_section_of_the_authentication_config_decides_1_2_1():
    results = run("1.2.1", apiserver_node(AUTHN_HEALTH_ONLY), version="v1.32.1")
    assert [r.status for r in results] == [Status.PASS]
    assert results[0].evidence[0].what == f"anonymous access beyond health checks ({AUTHN})"
    assert "/livez, /readyz, /healthz" in results[0].evidence[0].note
    disabled = "kind: AuthenticationConfiguration\nanonymous:\n  enabled: false\n"
    assert statuses("1.2.1", apiserver_node(disabled), version="v1.33.0") == [Status.PASS]
    everywhere = "kind: AuthenticationConfiguration\nanonymous:\n  enabled: true\n"
    assert statuses("1.2.1", apiserver_node(everywhere), version="v1.32.1") == [Status.FAIL]
    beyond = AUTHN_HEALTH_ONLY + "  - path: /version\n"
    assert statuses("1.2.1", apiserver_node(beyond), version="v1.34.0") == [Status.FAIL]


def test_authentication_config_without_anonymous_leaves_the_flag_in_charge():
    jwt_only = "kind: AuthenticationConfiguration\njwt: []\n"
    assert statuses("1.2.1", apiserver_node(jwt_only), version="v1.32.1") == [Status.FAIL]   # default true
    assert statuses("1.2.1", apiserver_node(jwt_only, anonymous_auth="false"), version="v1.32.1") == [Status.PASS]


def test_anonymous_config_that_cannot_be_judged_is_error():
    assert statuses("1.2.1", apiserver_node(None), version="v1.32.1") == [Status.ERROR]
    # flag and section together: the API server refuses to start
    both = apiserver_node(AUTHN_HEALTH_ONLY, anonymous_auth="false")
    assert statuses("1.2.1", both, version="v1.32.1") == [Status.ERROR]
    # before 1.32 the section needs the AnonymousAuthConfigurableEndpoints gate
    assert statuses("1.2.1", apiserver_node(AUTHN_HEALTH_ONLY), version="v1.31.2") == [Status.ERROR]
    gated = apiserver_node(AUTHN_HEALTH_ONLY, feature_gates="AnonymousAuthConfigurableEndpoints=true")
    assert statuses("1.2.1", gated, version="v1.31.2") == [Status.PASS]


# --- 1.1.9 / 1.1.10: files under the CNI directories ----------------------------

def test_cni_checks_judge_files_not_the_host_local_ipam_directories():
    # host-local IPAM: /var/lib/cni/networks/<network>/ (0755 by design) holding one file per IP
    # (containernetworking/plugins, plugins/ipam/host-local/backend/disk)
    worker = fx.node_facts("worker-1")
    net = "/var/lib/cni/networks/k8s-pod-network"
    worker.files["/var/lib/cni/networks"] = file_info("/var/lib/cni/networks", 0o755, "dir")
    worker.files[net] = file_info(net, 0o755, "dir")
    worker.files[f"{net}/10.244.1.5"] = file_info(f"{net}/10.244.1.5", 0o600)
    worker.files[f"{net}/lock"] = file_info(f"{net}/lock", 0o600)
    results = run("1.1.9", worker)
    assert [r.status for r in results] == [Status.PASS], results[0].message
    worker.files[f"{net}/last_reserved_ip.0"] = file_info(f"{net}/last_reserved_ip.0", 0o644)
    results = run("1.1.9", worker)
    assert [r.status for r in results] == [Status.FAIL]
    assert "last_reserved_ip.0" in results[0].message and f"{net}," not in results[0].message


# --- 1.2.28: only aescbc, kms and secretbox ---------------------------------------

def test_aesgcm_first_is_fail_with_the_reason():
    cp = fx.node_facts("cp-1")
    cp.contents["/etc/kubernetes/enc/encryption-config.yaml"] = (
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        "- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: k1, secret: REDACTED}]}\n"
        "  - identity: {}\n")
    results = run("1.2.28", cp)
    assert [r.status for r in results] == [Status.FAIL]
    assert "aesgcm" in results[0].message and "aescbc" in results[0].message


# --- 3.2.2: the audit policy evaluated as the API server does ----------------------

def audit(policy: str) -> list:
    cp = fx.node_facts("cp-1")
    cp.contents["/etc/kubernetes/audit/policy.yaml"] = policy
    return run("3.2.2", cp)


def test_first_matching_narrowed_rule_that_logs_secret_bodies_fails():
    # get on secrets logs bodies; the catch-all below does not make that safe
    policy = """apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: RequestResponse
  verbs: [get]
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
"""
    results = audit(policy)
    assert [r.status for r in results] == [Status.FAIL]
    assert "secrets" in results[0].message and "get" in results[0].message


def test_rule_narrowed_by_resource_names_covers_only_those_names():
    policy = """kind: Policy
rules:
- level: Metadata
  resources: [{group: "", resources: [secrets, configmaps], resourceNames: [allowed]}]
- level: Request
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
"""
    results = audit(policy)
    assert [r.status for r in results] == [Status.FAIL]
    assert "secrets" in results[0].message and "configmaps" not in results[0].message


def test_group_star_is_not_a_wildcard_and_user_narrowed_none_does_not_hide_the_rest():
    policy = """kind: Policy
rules:
- level: None
  users: [system:kube-proxy]
- level: RequestResponse
  resources: [{group: "*", resources: [secrets]}]
- level: Metadata
"""
    results = audit(policy)
    # group "*" matches no API group (checker.go compares gr.Group == apiGroup), so secrets get Metadata
    assert [r.status for r in results] == [Status.WARN], results[0].message
    assert "system:kube-proxy" in results[0].message


def test_namespaced_none_rule_leaves_other_namespaces_logged():
    policy = """kind: Policy
rules:
- level: None
  namespaces: [kube-system]
- level: Metadata
  resources: [{group: "", resources: [secrets, configmaps]}]
- level: Metadata
"""
    results = audit(policy)
    assert [r.status for r in results] == [Status.WARN]
    ev = {e.what: e for e in results[0].evidence}
    assert ev["audit level for secrets"].value == "Metadata or None"


def test_secrets_never_logged_fails():
    policy = """kind: Policy
rules:
- level: None
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
"""
    results = audit(policy)
    assert [r.status for r in results] == [Status.FAIL]
    assert "secrets not logged" in results[0].message


# --- an ERROR on one file never hides a FAIL on another --------------------------

def test_unreadable_super_admin_conf_does_not_hide_world_readable_admin_conf():
    cp = fx.node_facts("cp-1")
    cp.files["/etc/kubernetes/admin.conf"] = file_info("/etc/kubernetes/admin.conf", 0o644)
    cp.files["/etc/kubernetes/super-admin.conf"] = FileInfo("/etc/kubernetes/super-admin.conf", exists=True,
                                                            error="permission denied")
    results = run("1.1.13", cp)
    assert [r.status for r in results] == [Status.FAIL]
    assert "admin.conf" in results[0].message and "permission denied" in results[0].message


# --- a directory listing the collector could not produce ---------------------------

def test_incomplete_pki_listing_is_error_and_the_report_incomplete():
    cp = fx.node_facts("cp-1")
    cp.list_errors["/etc/kubernetes/pki/etcd"] = "permission denied"
    for check_id in ("1.1.19", "1.1.20", "1.1.21"):
        results = run(check_id, cp)
        assert [r.status for r in results] == [Status.ERROR], check_id
        assert "/etc/kubernetes/pki/etcd" in results[0].message
    facts = fx.facts(fx.cluster(), [cp])
    report = build_report(CATALOG, facts, run("1.1.19", cp), "2026-12-01T00:00:00Z")
    assert not report.scan.complete
    assert any("listing" in r for r in report.scan.incomplete_reasons)
    # the record round-trips through JSON (saved facts)
    assert NodeFacts.from_json(cp.to_json()).list_errors == cp.list_errors


def test_listing_errors_travel_in_the_node_record():
    from kaudit.collect.node.parse import parse_collector_output, render_record
    cp = fx.node_facts("cp-1")
    cp.list_errors["/etc/kubernetes/pki"] = "file limit (4000) reached: listing cut short"
    assert parse_collector_output(render_record(cp), "cp-1", "saved").list_errors == cp.list_errors


def test_unparseable_audit_policy_is_error_naming_the_line_for_both_audit_checks():
    cp = fx.node_facts("cp-1")
    cp.contents["/etc/kubernetes/audit/policy.yaml"] = "kind: Policy\nrules:\n- level: [Metadata\n"
    for check_id in ("3.2.1", "3.2.2"):
        results = run(check_id, cp)
        assert [r.status for r in results] == [Status.ERROR], check_id
        assert "/etc/kubernetes/audit/policy.yaml" in results[0].message and "line" in results[0].message
    assert statuses("1.2.28", cp) == [Status.PASS]      # other checks keep their verdicts


def test_cni_directory_that_could_not_be_stated_is_error_not_skip():
    worker = fx.node_facts("worker-1")
    for path in [p for p in worker.files if p.startswith("/etc/cni/net.d/")]:
        del worker.files[path]
    worker.files["/etc/cni/net.d"] = FileInfo("/etc/cni/net.d", exists=True, error="Permission denied")
    results = run("1.1.9", worker)
    assert [r.status for r in results] == [Status.ERROR]
    assert "/etc/cni/net.d: Permission denied" in results[0].message


def test_cni_listing_cut_short_is_error_not_skip():
    worker = fx.node_facts("worker-1")
    for path in [p for p in worker.files if p.startswith("/etc/cni/net.d/")]:
        del worker.files[path]
    worker.list_errors["/etc/cni/net.d"] = "permission denied"
    assert statuses("1.1.9", worker) == [Status.ERROR]


def test_non_resource_rules_and_resource_wildcards_as_the_checker_reads_them():
    policy = """kind: Policy
rules:
- level: None
  nonResourceURLs: [/healthz*, /version]
- level: RequestResponse
  resources: [{group: "", resources: ["pods/*"]}]
- level: Metadata
"""
    results = audit(policy)
    # "pods/*" covers pods and every subresource: exec is logged; the nonResourceURLs rule matches no resource request
    assert [r.status for r in results] == [Status.WARN], results[0].message
    ev = {e.what: e for e in results[0].evidence}
    assert ev["audit level for pods/exec"].value == "RequestResponse"
    assert ev["audit level for secrets"].value == "Metadata"
