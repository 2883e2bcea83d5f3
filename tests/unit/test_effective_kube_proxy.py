"""kube-proxy's effective configuration (kaudit/rules/effective/kube_proxy.py):
with --config the command line is ignored, and v1alpha1 defaulting applies.
Facts are what kubeadm really creates (tests/unit/kubeadm_node.py)."""
from __future__ import annotations

import dataclasses

import pytest

from kaudit.catalog import load_catalog
from kaudit.engine import evaluate_check
from kaudit.model import FileInfo, Status
from kaudit.rules.effective.kube_proxy import append_port_if_needed
from tests.unit import kubeadm_node as kn

CATALOG = load_catalog()
CONFIG = "/var/lib/kube-proxy/config.conf"


def results(check_id: str, facts):
    return evaluate_check(CATALOG.by_id(check_id), facts)


def only(check_id: str, facts):
    [r] = results(check_id, facts)
    return r


def proxy_config(**changes: str) -> str:
    text = kn.KUBEADM_PROXY_CONFIG
    for key, value in changes.items():
        text = text.replace(f"\n{key}: " + ('""' if key != "bindAddress" else "0.0.0.0") + "\n",
                            f"\n{key}: {value}\n")
    return text


def host_proxy(config: str | None, *flags: str, argv0: str = "/usr/local/bin/kube-proxy"):
    """A worker whose kube-proxy runs on the host with its --config there."""
    nf = kn.worker()
    argv = (argv0,) + ((f"--config={CONFIG}",) if config is not None else ()) + flags
    nf.processes = tuple(dataclasses.replace(p, argv=argv) if "kube-proxy" in p.argv[0] else p
                         for p in nf.processes)
    if config is not None:
        nf.files[CONFIG] = FileInfo(CONFIG, True, "file", 0o600, 0, 0, "root", "root")
        nf.contents[CONFIG] = config
    return nf


def test_stock_kubeadm_api_only_passes_431():
    # kubeadm's ConfigMap says metricsBindAddress: "" -> v1alpha1 default 127.0.0.1:10249
    r = only("4.3.1", kn.facts([], kn.proxy_daemonset(), kn.proxy_configmap()))
    assert r.status is Status.PASS, r.message
    assert r.target.kind == "DaemonSet"
    [ev] = r.evidence
    assert ev.value == "127.0.0.1:10249"
    assert "ConfigMap kube-system/kube-proxy" in ev.source and ev.note.startswith("default")


def test_stock_kubeadm_node_scan_reads_the_configmap_the_pod_mounts():
    r = only("4.3.1", kn.facts([kn.worker()], kn.proxy_daemonset(), kn.proxy_configmap()))
    assert r.status is Status.PASS and r.target.node == "worker-1"
    assert "ConfigMap kube-system/kube-proxy key config.conf" in r.evidence[0].source


def test_config_file_wins_over_a_flag_that_says_localhost():
    nf = host_proxy(proxy_config(metricsBindAddress="0.0.0.0:10249"), "--metrics-bind-address=127.0.0.1:10249")
    r = only("4.3.1", kn.facts([nf]))
    assert r.status is Status.FAIL
    assert r.evidence[0].value == "0.0.0.0:10249"
    assert "ignored" in r.evidence[0].note and CONFIG in r.evidence[0].source


def test_flag_saying_all_interfaces_is_ignored_when_the_config_binds_loopback():
    nf = host_proxy(proxy_config(), "--metrics-bind-address=0.0.0.0:10249")
    assert only("4.3.1", kn.facts([nf])).status is Status.PASS


@pytest.mark.parametrize("bind,metrics,want,status", [
    ("0.0.0.0", '""', "127.0.0.1:10249", Status.PASS),
    ('"::"', '""', "[::1]:10249", Status.PASS),
    ("0.0.0.0", "0.0.0.0", "0.0.0.0:10249", Status.FAIL),       # no port: :10249 appended
    ("0.0.0.0", "127.0.0.1", "127.0.0.1:10249", Status.PASS),
    ("0.0.0.0", '"::1"', "[::1]:10249", Status.PASS),
    ("0.0.0.0", "10.0.0.7:9100", "10.0.0.7:9100", Status.FAIL),
])
def test_v1alpha1_metrics_address_defaulting(bind, metrics, want, status):
    text = kn.KUBEADM_PROXY_CONFIG.replace("\nbindAddress: 0.0.0.0\n", f"\nbindAddress: {bind}\n") \
        .replace('\nmetricsBindAddress: ""\n', f"\nmetricsBindAddress: {metrics}\n")
    r = only("4.3.1", kn.facts([], kn.proxy_daemonset(), kn.proxy_configmap(text)))
    assert (r.evidence[0].value, r.status) == (want, status)


def test_absent_metrics_address_is_defaulted_too():
    text = kn.KUBEADM_PROXY_CONFIG.replace('\nmetricsBindAddress: ""\n', "\n")
    r = only("4.3.1", kn.facts([], kn.proxy_daemonset(), kn.proxy_configmap(text)))
    assert (r.status, r.evidence[0].value) == (Status.PASS, "127.0.0.1:10249")


def test_without_config_the_flags_apply():
    assert only("4.3.1", kn.facts([host_proxy(None, "--metrics-bind-address=0.0.0.0:10249")])).status is Status.FAIL
    r = only("4.3.1", kn.facts([host_proxy(None)]))
    assert (r.status, r.evidence[0].value) == (Status.PASS, "127.0.0.1:10249")
    r = only("4.3.1", kn.facts([host_proxy(None, "--metrics-bind-address=0.0.0.0")]))
    assert r.evidence[0].value == "0.0.0.0:10249"


def test_unparsable_config_is_error_naming_file_and_line():
    r = only("4.3.1", kn.facts([], kn.proxy_daemonset(), kn.proxy_configmap("kind: KubeProxyConfiguration\nx: [\n")))
    assert r.status is Status.ERROR
    assert "config.conf of ConfigMap kube-system/kube-proxy" in r.message and "line" in r.message
    nf = host_proxy("metricsBindAddress: [\n")
    r = only("4.3.1", kn.facts([nf]))
    assert r.status is Status.ERROR and CONFIG in r.message and "line" in r.message


def test_unreadable_host_config_is_error_not_the_configmap():
    nf = host_proxy(proxy_config())
    del nf.contents[CONFIG]
    nf.content_errors[CONFIG] = "permission denied"
    r = only("4.3.1", kn.facts([nf], kn.proxy_daemonset(), kn.proxy_configmap()))
    assert r.status is Status.ERROR and "permission denied" in r.message


def test_configmaps_not_readable_is_error():
    facts = kn.facts([], kn.proxy_daemonset())
    facts.cluster.unavailable["ConfigMap"] = "forbidden: needs list on configmaps"
    r = only("4.3.1", facts)
    assert r.status is Status.ERROR and "forbidden" in r.message


def test_unreachable_node_is_error_not_skip():
    down = kn.worker("worker-2")
    down.processes, down.files, down.contents = (), {}, {}
    down.unreachable = "connection refused"
    by_node = {r.target.node: r for r in results("4.3.1", kn.facts([down]))}
    assert by_node["worker-2"].status is Status.ERROR
    assert "connection refused" in by_node["worker-2"].message
    # with an inspected node beside it, the unreachable one still says ERROR
    by_node = {r.target.node: r.status for r in results("4.3.1", kn.facts(
        [host_proxy(proxy_config()), down]))}
    assert by_node == {"worker-1": Status.PASS, "worker-2": Status.ERROR}


def test_proxy_kubeconfig_comes_from_the_config_file_not_the_flag():
    text = proxy_config().replace("kubeconfig: /var/lib/kube-proxy/kubeconfig.conf", "kubeconfig: /etc/kp/kc.conf")
    nf = host_proxy(text, "--kubeconfig=/etc/kubernetes/proxy.conf")
    nf.files["/etc/kp/kc.conf"] = FileInfo("/etc/kp/kc.conf", True, "file", 0o644, 0, 0, "root", "root")
    r = only("4.1.3", kn.facts([nf]))
    assert r.status is Status.FAIL and "/etc/kp/kc.conf" in r.message


def test_append_port_if_needed():
    assert append_port_if_needed("127.0.0.1", 10249) == "127.0.0.1:10249"
    assert append_port_if_needed("::1", 10249) == "[::1]:10249"
    assert append_port_if_needed("[::1]:9", 10249) == "[::1]:9"
    assert append_port_if_needed("localhost", 10249) == "localhost"    # not an IP: left to validation


def test_config_file_not_collected_and_not_mounted_from_a_configmap_is_error():
    nf = kn.worker()
    del nf.files[CONFIG]
    r = only("4.3.1", kn.facts([nf], kn.proxy_configmap()))
    assert r.status is Status.ERROR and "not collected" in r.message
    # the DaemonSet shows the path is the ConfigMap mounted in the pod
    assert only("4.3.1", kn.facts([nf], kn.proxy_daemonset(), kn.proxy_configmap())).status is Status.PASS


def test_config_read_inside_the_pod_wins_over_the_configmap():
    # collect.sh reads a --config that is not on the host through /proc/PID/root
    nf = kn.worker()
    nf.contents[f"/proc/1331/root{CONFIG}"] = proxy_config(metricsBindAddress="0.0.0.0:10249")
    r = only("4.3.1", kn.facts([nf], kn.proxy_daemonset(), kn.proxy_configmap()))
    assert r.status is Status.FAIL
    assert "container" in r.evidence[0].source and "/proc/1331/root" in r.evidence[0].source
    nf.contents[f"/proc/1331/root{CONFIG}"] = "x: [\n"
    r = only("4.3.1", kn.facts([nf], kn.proxy_daemonset(), kn.proxy_configmap()))
    assert r.status is Status.ERROR and f"/proc/1331/root{CONFIG}" in r.message and "line" in r.message
    # unreadable there (not root): the ConfigMap the DaemonSet mounts is the evidence
    del nf.contents[f"/proc/1331/root{CONFIG}"]
    nf.content_errors[f"/proc/1331/root{CONFIG}"] = "permission denied"
    assert only("4.3.1", kn.facts([nf], kn.proxy_daemonset(), kn.proxy_configmap())).status is Status.PASS


def test_an_unmodelled_config_version_is_error_not_a_guess():
    text = ("apiVersion: kubeproxy.config.k8s.io/v1alpha2\nkind: KubeProxyConfiguration\n"
            "metricsBindAddresses: [0.0.0.0/0]\nmetricsBindPort: 10249\n")
    r = only("4.3.1", kn.facts([], kn.proxy_daemonset(), kn.proxy_configmap(text)))
    assert r.status is Status.ERROR and "v1alpha2" in r.message
