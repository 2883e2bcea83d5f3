"""k3s and RKE2 verdicts checked against what the distributions' own code does.

Each test names the source it follows (tests/reference/rancher.py cites the
commits): k3s pkg/cli/server/server.go (the API server's default cipher
suites), pkg/util/args.go GetArgs (how `kube-*-arg` values meet k3s's own),
pkg/configfilearg/parser.go (config.yaml and config.yaml.d), pkg/cluster/
managed.go assignManagedDriver (etcd or kine/SQLite), and RKE2's
pkg/podexecutor/staticpod.go (its default audit policy)."""
from __future__ import annotations

from kaudit.catalog import load_catalog
from kaudit.collect.platform import detect_identity
from kaudit.engine import evaluate
from kaudit.model import FileInfo, ProcessInfo, Result, Status
from tests.reference import rancher

CATALOG = load_catalog()
K3S_CONFIG = "/etc/rancher/k3s/config.yaml"
DROPINS = "/etc/rancher/k3s/config.yaml.d"


def _scan(facts) -> list[Result]:
    detect_identity(facts.cluster)
    return [r for r in evaluate(CATALOG, facts) if r.section.split(".")[0] in ("1", "2", "3", "4")]


def _one(results: list[Result], check: str) -> Result:
    [r] = [r for r in results if r.check == check]
    return r


def _status(results: list[Result], check: str) -> set[Status]:
    return {r.status for r in results if r.check == check}


def _with_dropins(facts, files: dict[str, str]):
    nf = facts.nodes[0]
    nf.files[DROPINS] = FileInfo(DROPINS, exists=True, type="dir", mode=0o755, uid=0, gid=0, user="root",
                                 group="root")
    for name, text in files.items():
        path = f"{DROPINS}/{name}"
        nf.files[path] = FileInfo(path, exists=True, type="file", mode=0o600, uid=0, gid=0, user="root",
                                  group="root")
        nf.contents[path] = text
    return facts


# ---------------------------------------------------------------------------
# k3s's own arguments
# ---------------------------------------------------------------------------

def test_k3s_api_server_gets_k3s_default_cipher_suites():
    # pkg/cli/server/server.go: without a tls-cipher-suites kube-apiserver-arg,
    # k3s appends its six ECDHE AEAD suites to the API server's arguments.
    r = _one(_scan(rancher.k3s()), "1.2.29")
    assert r.status is Status.PASS, r.message
    assert "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" in r.message or any(
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" in (e.value or "") for e in r.evidence)


def test_k3s_kubelet_runs_with_hostname_override_as_rke2_does():
    # pkg/daemons/agent kubeletArgs: hostname-override is the node name,
    # always set; RKE2's kubelet (the same code) shows it on its command line.
    k3s, rke2 = _scan(rancher.k3s()), _scan(rancher.rke2())
    assert _status(k3s, "4.2.7") == _status(rke2, "4.2.7") == {Status.FAIL}
    assert rancher.K3S_NODE in _one(k3s, "4.2.7").message


def test_k3s_arg_with_plus_appends_to_k3s_default_instead_of_replacing_it():
    # pkg/util/args.go GetArgs: "enable-admission-plugins+=X" keeps k3s's
    # NodeRestriction and adds X (two --enable-admission-plugins flags).
    facts = rancher.k3s()
    facts.nodes[0].contents[K3S_CONFIG] = rancher.K3S_CONFIG.replace(
        "kube-apiserver-arg:\n", 'kube-apiserver-arg:\n  - "enable-admission-plugins+=EventRateLimit"\n')
    results = _scan(facts)
    assert _status(results, "1.2.14") == {Status.PASS}      # NodeRestriction kept
    assert _status(results, "1.2.9") == {Status.PASS}       # EventRateLimit added


def test_k3s_arg_without_plus_still_replaces_k3s_default():
    facts = rancher.k3s()
    facts.nodes[0].contents[K3S_CONFIG] = rancher.K3S_CONFIG.replace(
        "kube-apiserver-arg:\n", 'kube-apiserver-arg:\n  - "enable-admission-plugins=EventRateLimit"\n')
    results = _scan(facts)
    assert _status(results, "1.2.14") == {Status.FAIL}
    assert _status(results, "1.2.9") == {Status.PASS}


# ---------------------------------------------------------------------------
# config.yaml.d
# ---------------------------------------------------------------------------

def test_k3s_config_dropin_replaces_a_list_from_config_yaml():
    # configfilearg readConfigFile: config.yaml, then config.yaml.d/*.yaml in
    # name order; a key in a later file replaces the earlier value.
    facts = _with_dropins(rancher.k3s(), {
        "50-profiling.yaml": 'kube-apiserver-arg:\n  - "profiling=true"\n',
    })
    results = _scan(facts)
    assert _status(results, "1.2.15") == {Status.FAIL}
    # The audit flags of config.yaml's kube-apiserver-arg were replaced too.
    assert _status(results, "1.2.16") == {Status.FAIL}
    r = _one(results, "1.2.15")
    assert f"{DROPINS}/50-profiling.yaml" in " ".join(e.source for e in r.evidence) + r.message


def test_k3s_config_dropin_key_with_plus_appends_to_the_list():
    facts = _with_dropins(rancher.k3s(), {
        "50-profiling.yaml": 'kube-apiserver-arg+:\n  - "profiling=true"\n',
    })
    results = _scan(facts)
    assert _status(results, "1.2.15") == {Status.FAIL}
    assert _status(results, "1.2.16") == {Status.PASS}      # config.yaml's audit-log-path kept


def test_k3s_config_dropins_apply_in_name_order_and_ignore_other_files():
    facts = _with_dropins(rancher.k3s(), {
        "20-b.yaml": 'kube-scheduler-arg:\n  - "profiling=false"\n',
        "10-a.yml": 'kube-scheduler-arg:\n  - "profiling=true"\n',
        "30-c.yaml.bak": 'kube-scheduler-arg:\n  - "profiling=true"\n',
    })
    assert _status(_scan(facts), "1.4.1") == {Status.PASS}


def test_k3s_config_dropin_that_does_not_parse_is_error_naming_it():
    facts = _with_dropins(rancher.k3s(), {"50-bad.yaml": "kube-apiserver-arg: [\n"})
    r = _one(_scan(facts), "1.2.15")
    assert r.status is Status.ERROR and f"{DROPINS}/50-bad.yaml" in r.message


def test_k3s_config_dropin_directory_not_collected_is_error():
    facts = rancher.k3s()
    del facts.nodes[0].files[DROPINS]
    r = _one(_scan(facts), "1.2.15")
    assert r.status is Status.ERROR and DROPINS in r.message


def test_k3s_command_line_arg_comes_after_config_and_dropins():
    facts = _with_dropins(rancher.k3s(), {"50-p.yaml": 'kube-scheduler-arg:\n  - "profiling=true"\n'})
    facts.nodes[0].processes = (ProcessInfo(1210, ("/usr/local/bin/k3s", "server",
                                                   "--kube-scheduler-arg=profiling=false"), env={}),)
    assert _status(_scan(facts), "1.4.1") == {Status.PASS}


# ---------------------------------------------------------------------------
# kine/SQLite: no etcd
# ---------------------------------------------------------------------------

ETCD_CHECKS = ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "1.1.7", "1.1.8", "1.1.11", "1.1.12")


def test_k3s_on_sqlite_skips_the_etcd_checks_with_the_evidence():
    results = _scan(rancher.k3s())
    for check in ETCD_CHECKS:
        r = _one(results, check)
        assert r.status is Status.SKIP, (check, r.message)
        assert "SQLite" in r.message and "state.db" in r.message, check


def test_k3s_with_cluster_init_is_not_sqlite():
    facts = rancher.k3s()
    facts.nodes[0].contents[K3S_CONFIG] = rancher.K3S_CONFIG + "cluster-init: true\n"
    for check in ("2.1", "1.1.11"):
        assert _status(_scan(facts), check) == {Status.ERROR}, check


def test_k3s_with_datastore_endpoint_in_the_environment_is_not_sqlite():
    facts = rancher.k3s()
    facts.nodes[0].processes = (ProcessInfo(1210, ("/usr/local/bin/k3s", "server"),
                                            env={"K3S_DATASTORE_ENDPOINT": "<redacted by kaudit>"}),)
    assert _status(_scan(facts), "2.1") == {Status.ERROR}


def test_k3s_joining_a_server_is_not_sqlite():
    facts = rancher.k3s()
    facts.nodes[0].processes = (ProcessInfo(1210, ("/usr/local/bin/k3s", "server",
                                                   "--server", "https://10.0.0.1:6443"), env={}),)
    assert _status(_scan(facts), "2.1") == {Status.ERROR}


def test_k3s_with_an_etcd_data_dir_on_disk_is_not_sqlite():
    # assignManagedDriver: an initialized etcd data dir wins over everything.
    facts = rancher.k3s()
    nf = facts.nodes[0]
    nf.files[f"{rancher.K3S}/server/db/etcd"] = FileInfo(f"{rancher.K3S}/server/db/etcd", exists=True,
                                                         type="dir", mode=0o700, uid=0, gid=0)
    assert _status(_scan(facts), "2.1") == {Status.ERROR}


def test_k3s_sqlite_not_established_without_the_process_environment():
    facts = rancher.k3s()
    facts.nodes[0].processes = (ProcessInfo(1210, ("/usr/local/bin/k3s", "server"), env=None),)
    assert _status(_scan(facts), "2.1") == {Status.ERROR}


def test_k3s_sqlite_not_established_without_the_database_file():
    facts = rancher.k3s()
    facts.nodes[0].files[f"{rancher.K3S}/server/db/state.db"] = FileInfo(
        f"{rancher.K3S}/server/db/state.db", exists=False)
    assert _status(_scan(facts), "2.1") == {Status.ERROR}


# ---------------------------------------------------------------------------
# Admin kubeconfigs
# ---------------------------------------------------------------------------

def test_k3s_admin_kubeconfigs_are_judged_for_1_1_13_and_1_1_14():
    results = _scan(rancher.k3s())
    for check in ("1.1.13", "1.1.14"):
        r = _one(results, check)
        assert r.status is Status.PASS, (check, r.message)
        shown = " ".join(e.what for e in r.evidence)
        assert f"{rancher.K3S}/server/cred/admin.kubeconfig" in shown
        assert "/etc/rancher/k3s/k3s.yaml" in shown


def test_k3s_kubeconfig_written_0644_fails_1_1_13():
    # --write-kubeconfig-mode 0644 (a common install option) makes k3s.yaml world-readable.
    facts = rancher.k3s()
    nf = facts.nodes[0]
    nf.contents[K3S_CONFIG] = rancher.K3S_CONFIG + 'write-kubeconfig-mode: "0644"\n'
    nf.files["/etc/rancher/k3s/k3s.yaml"] = FileInfo("/etc/rancher/k3s/k3s.yaml", exists=True, type="file",
                                                     mode=0o644, uid=0, gid=0, user="root", group="root")
    r = _one(_scan(facts), "1.1.13")
    assert r.status is Status.FAIL and "/etc/rancher/k3s/k3s.yaml" in r.message


def test_k3s_write_kubeconfig_elsewhere_is_judged_there_or_error():
    facts = rancher.k3s()
    facts.nodes[0].contents[K3S_CONFIG] = rancher.K3S_CONFIG + "write-kubeconfig: /root/.kube/config\n"
    r = _one(_scan(facts), "1.1.13")
    assert r.status is Status.ERROR and "/root/.kube/config" in r.message


def test_rke2_admin_kubeconfigs_are_judged_for_1_1_13():
    r = _one(_scan(rancher.rke2()), "1.1.13")
    assert r.status is Status.PASS, r.message
    shown = " ".join(e.what for e in r.evidence)
    assert f"{rancher.RKE2}/server/cred/admin.kubeconfig" in shown and "/etc/rancher/rke2/rke2.yaml" in shown


# ---------------------------------------------------------------------------
# RKE2
# ---------------------------------------------------------------------------

def test_rke2_default_audit_policy_logs_nothing():
    # pkg/podexecutor/staticpod.go writeDefaultPolicyFile: `rules: [{level: None}]`
    # (profile: cis points --audit-policy-file at it): the API server audits
    # no request, so there is no minimal policy (3.2.1) and Secrets and
    # pods/exec are never logged (3.2.2), though the audit flags (1.2.16-1.2.19) pass.
    results = _scan(rancher.rke2())
    r = _one(results, "3.2.1")
    assert r.status is Status.FAIL and "no rule that records anything" in r.message
    assert _status(results, "3.2.2") == {Status.FAIL}
    assert _status(results, "1.2.16") == {Status.PASS}


def test_rke2_controller_manager_terminated_pod_gc_threshold_is_rke2s():
    # staticpod.go ControllerManager: --terminated-pod-gc-threshold=1000.
    r = _one(_scan(rancher.rke2()), "1.3.1")
    assert r.status is Status.WARN and "1000" in r.message


# ---------------------------------------------------------------------------
# The API server's storage flags follow k3s's datastore
# ---------------------------------------------------------------------------

def test_k3s_on_sqlite_api_server_has_no_etcd_client_certificate_to_set():
    # control/server.go setupStorageBackend: kine serves the API server on
    # unix://kine.sock, without TLS: 1.2.23/1.2.26 do not apply.
    results = _scan(rancher.k3s())
    for check in ("1.2.23", "1.2.26"):
        r = _one(results, check)
        assert r.status is Status.SKIP and "unix://kine.sock" in r.message, check


def test_k3s_with_managed_etcd_passes_its_etcd_client_flags():
    # The k3s CIS self-assessment guide's kube-apiserver line: --etcd-cafile,
    # --etcd-certfile, --etcd-keyfile below server/tls/etcd.
    facts = rancher.k3s()
    facts.nodes[0].contents[K3S_CONFIG] = rancher.K3S_CONFIG + "cluster-init: true\n"
    results = _scan(facts)
    for check in ("1.2.23", "1.2.26"):
        assert _status(results, check) == {Status.PASS}, check


def test_k3s_etcd_client_flags_are_error_when_the_datastore_is_not_known():
    facts = rancher.k3s()
    facts.nodes[0].processes = (ProcessInfo(1210, ("/usr/local/bin/k3s", "server"), env=None),)
    results = _scan(facts)
    for check in ("1.2.23", "1.2.26"):
        r = _one(results, check)
        assert r.status is Status.ERROR and "datastore" in r.message, check
    assert _status(results, "1.2.15") == {Status.PASS}     # the rest of the command line is known


# ---------------------------------------------------------------------------
# k3s with embedded etcd (cluster-init)
# ---------------------------------------------------------------------------

def _k3s_with_etcd():
    """k3s --cluster-init: etcd runs inside the k3s process from the config file
    k3s writes (pkg/daemons/executor embed.go ETCD: args.ToConfigFile, then
    embed.ConfigFromFile), as RKE2's etcd static pod reads it."""
    facts = rancher.k3s()
    nf = facts.nodes[0]
    nf.contents[K3S_CONFIG] = rancher.K3S_CONFIG + "cluster-init: true\n"
    tls = f"{rancher.K3S}/server/tls"
    db = f"{rancher.K3S}/server/db/etcd"
    conf = rancher.RKE2_ETCD_CONFIG.replace(rancher.RKE2, rancher.K3S)
    del nf.files[f"{rancher.K3S}/server/db/state.db"]
    for path, mode, kind in ((db, 0o700, "dir"), (f"{db}/config", 0o600, "file"), (f"{tls}/etcd", 0o700, "dir")):
        nf.files[path] = FileInfo(path, exists=True, type=kind, mode=mode, uid=0, gid=0, user="root", group="root")
    for crt in ("server-ca", "peer-ca", "client", "server-client", "peer-server-client"):
        for ext, mode in (("crt", 0o644), ("key", 0o600)):
            p = f"{tls}/etcd/{crt}.{ext}"
            nf.files[p] = FileInfo(p, exists=True, type="file", mode=mode, uid=0, gid=0, user="root", group="root")
    nf.contents[f"{db}/config"] = conf
    return facts


def test_k3s_embedded_etcd_is_judged_from_the_config_file_k3s_writes():
    results = _scan(_k3s_with_etcd())
    for check in ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "1.1.11", "1.2.23", "1.2.26"):
        assert _status(results, check) == {Status.PASS}, (check, _one(results, check).message)
    r = _one(results, "2.1")
    assert any("k3s-server" in e.source for e in r.evidence)
    # embedded: no pod specification file; the data dir is root's (k3s runs etcd as root).
    for check in ("1.1.7", "1.1.8"):
        r = _one(results, check)
        assert r.status is Status.SKIP and "inside the k3s-server process" in r.message, check
    assert _status(results, "1.1.12") == {Status.FAIL}


def test_k3s_embedded_etcd_config_not_collected_is_error():
    facts = _k3s_with_etcd()
    del facts.nodes[0].contents[f"{rancher.K3S}/server/db/etcd/config"]
    assert _status(_scan(facts), "2.1") == {Status.ERROR}
