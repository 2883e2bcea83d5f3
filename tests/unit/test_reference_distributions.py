"""Reference distributions (tests/reference/): what kaudit says about a stock
kubeadm cluster, the same cluster hardened to CIS v1.12, and k3s/RKE2 layouts.

The expected verdicts come from the distributions' own sources and the CIS
text (tests/reference/kubeadm.py STOCK_FAILS, with the reason for each), not
from kaudit's output."""
from __future__ import annotations

import pytest

from kaudit.catalog import load_catalog
from kaudit.collect.platform import detect_identity
from kaudit.engine import evaluate
from kaudit.model import Facts, Result, Status
from tests.reference import kubeadm as ref

CATALOG = load_catalog()
MINORS = ("1.30", "1.34")


def _scan(facts: Facts) -> list[Result]:
    detect_identity(facts.cluster)
    return [r for r in evaluate(CATALOG, facts) if r.section.split(".")[0] in ("1", "2", "3", "4")]


def _by_status(results: list[Result], status: Status) -> set[str]:
    return {r.check for r in results if r.status is status}


@pytest.mark.parametrize("minor", MINORS)
def test_stock_kubeadm_is_identified_as_kubeadm_with_a_visible_control_plane(minor):
    facts = ref.stock(minor)
    detect_identity(facts.cluster)
    assert facts.cluster.identity.platform == "kubeadm"
    assert facts.cluster.identity.managed_control_plane is False


@pytest.mark.parametrize("minor", MINORS)
def test_stock_kubeadm_fails_exactly_what_kubeadm_really_fails(minor):
    results = _scan(ref.stock(minor))
    assert _by_status(results, Status.FAIL) == set(ref.STOCK_FAILS)
    assert not _by_status(results, Status.ERROR)


@pytest.mark.parametrize("minor", MINORS)
def test_stock_kubeadm_node_file_findings_are_on_every_node_that_has_the_file(minor):
    results = _scan(ref.stock(minor))
    failing = {(r.check, r.target.node) for r in results if r.status is Status.FAIL}
    for check in ("4.1.1", "4.1.9", "1.1.9"):
        assert {(check, ref.CP), (check, ref.WORKER)} <= failing
    assert ("1.1.12", ref.CP) in failing and ("1.1.12", ref.WORKER) not in failing


@pytest.mark.parametrize("minor", MINORS)
def test_stock_kubeadm_passes_what_kubeadm_configures(minor):
    results = _scan(ref.stock(minor))
    passing = _by_status(results, Status.PASS)
    # kubeadm's zero durations (streamingConnectionIdleTimeout: 0s) default to 4h,
    # its kube-proxy ConfigMap's metricsBindAddress "" to 127.0.0.1:10249, its
    # static pods and kubeconfigs are 0600, and etcd is TLS end to end.
    for check in ("4.2.1", "4.2.2", "4.2.3", "4.2.4", "4.2.5", "4.2.6", "4.2.10", "4.3.1",
                  "1.1.1", "1.1.7", "1.1.11", "1.1.13", "1.1.15", "1.1.17", "1.1.19", "1.1.20", "1.1.21",
                  "1.2.2", "1.2.4", "1.2.7", "1.2.8", "1.2.14", "1.3.3", "1.3.7", "1.4.2",
                  "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "4.1.5", "4.1.7"):
        assert check in passing, check
        assert check not in _by_status(results, Status.FAIL), check


@pytest.mark.parametrize("minor", MINORS)
def test_stock_kubeadm_api_only_scan_reports_the_flag_findings_and_no_file_verdicts(minor):
    stock = ref.stock(minor)
    facts = Facts(cluster=stock.cluster, nodes=[], node_access="none")
    results = _scan(facts)
    fails = _by_status(results, Status.FAIL)
    # What the static pods' command lines show; nothing that needs the node's files.
    assert {"1.2.5", "1.2.15", "1.2.16", "1.2.30", "1.3.2", "1.4.1", "3.2.1"} <= fails
    assert not fails & {"1.1.9", "1.1.12", "4.1.1", "4.1.9", "4.2.9", "4.2.12", "4.2.13", "4.2.14"}
    assert fails <= set(ref.STOCK_FAILS)
    # kube-proxy from the kubeadm ConfigMap: metricsBindAddress "" is 127.0.0.1:10249.
    assert {r.status for r in results if r.check == "4.3.1"} == {Status.PASS}


@pytest.mark.parametrize("minor", MINORS)
def test_cis_hardened_kubeadm_passes_every_automated_recommendation(minor):
    results = _scan(ref.hardened(minor))
    automated = [r for r in results if r.cis_label == "Automated"]
    assert automated
    assert {(r.check, r.target.name, r.status.value, r.message) for r in automated
            if r.status is not Status.PASS} == set()
    assert not _by_status(results, Status.ERROR)
    # 1.34 restricts anonymous access to the health endpoints through its
    # authentication config (1.32+), which decides 1.2.1; 1.30 cannot (below).
    assert _by_status(results, Status.FAIL) == ({"1.2.1"} if minor == "1.30" else set())


def test_cis_hardened_1_30_keeps_anonymous_auth_on_as_kubeadm_probes_need_it():
    # 1.2.1 (Manual): before AuthenticationConfiguration's anonymous section
    # (1.32), --anonymous-auth=false also denies the kubelet's unauthenticated
    # liveness probe of /livez that kubeadm writes, so the hardened 1.30 cluster
    # keeps it and the finding stays.
    results = _scan(ref.hardened("1.30"))
    assert {r.status for r in results if r.check == "1.2.1"} == {Status.FAIL}


# ---------------------------------------------------------------------------
# k3s and RKE2
# ---------------------------------------------------------------------------

from tests.reference import rancher  # noqa: E402


def _status(results: list[Result], check: str) -> set[Status]:
    return {r.status for r in results if r.check == check}


@pytest.mark.parametrize("build, platform", [(rancher.k3s, "k3s"), (rancher.rke2, "rke2")])
def test_k3s_and_rke2_are_identified_and_their_control_plane_is_evaluated(build, platform):
    facts = build()
    results = _scan(facts)
    assert facts.cluster.identity.platform == platform
    assert facts.cluster.identity.managed_control_plane is False
    assert not [r for r in results if "internal error" in r.message]


def test_k3s_embedded_components_get_the_arguments_k3s_itself_passes():
    # k3s builds the API server's, controller manager's, scheduler's and
    # kubelet's command lines in memory from its own defaults (profiling=false,
    # anonymous-auth=false, Node,RBAC, NodeRestriction, the kubelet's client CA
    # and read-only-port=0 ...); an absent flag is not Kubernetes' default there.
    results = _scan(rancher.k3s())
    for check in ("1.2.4", "1.2.5", "1.2.6", "1.2.7", "1.2.8", "1.2.14", "1.2.15", "1.2.16", "1.2.22",
                  "1.2.24", "1.2.25", "1.2.27", "1.3.2", "1.3.3", "1.3.4", "1.3.5", "1.3.7", "1.4.1",
                  "1.4.2", "4.2.1", "4.2.2", "4.2.3", "4.2.4"):
        assert _status(results, check) == {Status.PASS}, check
    # The evidence says the value is k3s's, not the operator's.
    r = next(r for r in results if r.check == "1.2.15")
    assert any("k3s built-in arguments" in e.source for e in r.evidence)
    assert [e.note for e in r.evidence] == ["k3s-server's built-in argument (no kube-apiserver-arg sets it)"]
    r = next(r for r in results if r.check == "1.2.16")     # the operator's kube-apiserver-arg
    assert not any("built-in" in (e.note or "") for e in r.evidence)


def test_k3s_kube_apiserver_arg_replaces_k3s_default_rather_than_adding_to_it():
    # pkg/daemons/config GetArgs: a user value for a key k3s sets drops k3s's value.
    config = rancher.K3S_CONFIG.replace('kube-apiserver-arg:\n',
                                        'kube-apiserver-arg:\n  - "enable-admission-plugins=EventRateLimit"\n'
                                        '  - "profiling=true"\n')
    facts = rancher.k3s()
    facts.nodes[0].contents["/etc/rancher/k3s/config.yaml"] = config
    results = _scan(facts)
    assert _status(results, "1.2.14") == {Status.FAIL}     # NodeRestriction is gone
    assert _status(results, "1.2.15") == {Status.FAIL}


def test_k3s_command_line_arg_wins_over_config_file_arg():
    facts = rancher.k3s()
    nf = facts.nodes[0]
    nf.processes = (rancher.ProcessInfo(1210, ("/usr/local/bin/k3s", "server",
                                                "--kube-scheduler-arg=profiling=true")),)
    results = _scan(facts)
    assert _status(results, "1.4.1") == {Status.FAIL}


def test_k3s_embedded_components_have_no_pod_specification_file():
    results = _scan(rancher.k3s())
    for check in ("1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.1.5", "1.1.6"):
        [r] = [r for r in results if r.check == check]
        assert r.status is Status.SKIP and "inside the k3s-server process" in r.message, check


def test_k3s_cni_files_are_judged_where_k3s_puts_them():
    # k3s's kubelet --cni-conf-dir is its own agent/etc/cni/net.d; the embedded
    # flannel's conflist there is 0644, so 1.1.9 (600) is a real finding.
    results = _scan(rancher.k3s())
    [r] = [r for r in results if r.check == "1.1.9"]
    assert r.status is Status.FAIL and "/var/lib/rancher/k3s/agent/etc/cni/net.d/10-flannel.conflist" in r.message


def test_rke2_cis_profile_static_pods_pass_what_rke2_configures():
    results = _scan(rancher.rke2())
    for check in ("1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.1.5", "1.1.6", "1.1.7", "1.1.8",
                  "1.2.1", "1.2.5", "1.2.14", "1.2.15", "1.2.16", "1.2.17", "1.2.18", "1.2.19", "1.2.27",
                  "1.3.2", "1.3.7", "1.4.1", "1.4.2", "4.2.1", "4.2.2", "4.2.3", "4.2.4", "4.3.1"):
        assert _status(results, check) == {Status.PASS}, check
    # RKE2 runs the kubelet as its own child process, not from a systemd unit.
    assert _status(results, "4.1.1") == {Status.SKIP}


def test_rke2_etcd_is_judged_from_its_config_file():
    # RKE2's etcd runs with only --config-file; every TLS setting and the data
    # dir are in that file (etcd ignores its flags then).
    results = _scan(rancher.rke2())
    for check in ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "1.1.11", "1.1.12"):
        assert _status(results, check) == {Status.PASS}, check


def test_docs_table_of_stock_kubeadm_findings_lists_exactly_the_reference_failures():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "checks.md").read_text()
    section = text.split("## What a stock kubeadm cluster fails", 1)[1].split("\n## ", 1)[0]
    listed: set[str] = set()
    for cell in re.findall(r"^\| ([\d., -]+) \|", section, flags=re.M):
        for part in cell.split(","):
            part = part.strip()
            if "-" in part:   # "1.2.16-1.2.19"
                lo, hi = part.split("-")
                prefix, a = lo.rsplit(".", 1)
                listed |= {f"{prefix}.{n}" for n in range(int(a), int(hi.rsplit(".", 1)[1]) + 1)}
            elif part:
                listed.add(part)
    assert listed == set(ref.STOCK_FAILS)


def test_k3s_config_file_that_does_not_parse_is_error_naming_the_file_and_line():
    # Without the operator's kube-*-arg values the effective command line is
    # unknown: k3s's built-in arguments alone must not PASS.
    facts = rancher.k3s()
    facts.nodes[0].contents["/etc/rancher/k3s/config.yaml"] = "kube-apiserver-arg:\n  - profiling=true\n bad: [\n"
    results = _scan(facts)
    for check in ("1.2.15", "1.3.2", "4.2.1", "4.3.1", "1.1.15", "1.2.27", "3.2.1"):
        [r] = [r for r in results if r.check == check]
        assert r.status is Status.ERROR, check
        assert "/etc/rancher/k3s/config.yaml" in r.message and "line" in r.message, check
    # Checks that do not need it keep their verdicts.
    assert _status(results, "1.1.1") == {Status.SKIP}


def test_k3s_config_file_unreadable_is_error_with_the_reason():
    facts = rancher.k3s()
    nf = facts.nodes[0]
    del nf.contents["/etc/rancher/k3s/config.yaml"]
    nf.content_errors["/etc/rancher/k3s/config.yaml"] = "permission denied"
    results = _scan(facts)
    [r] = [r for r in results if r.check == "1.2.15"]
    assert r.status is Status.ERROR and "permission denied" in r.message
