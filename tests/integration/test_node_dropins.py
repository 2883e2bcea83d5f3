"""The collector reads every file the kubelet and kube-proxy resolve their
configuration from, on a real namespaced node over real SSH: the kubelet's
--config file and its --config-dir drop-ins (recursively, with contents),
the kubelet.service drop-ins, kube-proxy's --config file; and the checks
judge what was collected."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from kaudit.catalog import load_catalog
from kaudit.collect.node.inventory import InventoryNode
from kaudit.collect.node.ssh import SshNodeSource, SshOptions
from kaudit.engine import evaluate_check
from kaudit.model import ClusterFacts, Facts, Status
from nodes import FakeNode, SshdServer, client_key, pause_exe, sshd, start_fake_node  # noqa: F401

pytestmark = pytest.mark.integration

SETUP = """
mkdir -p /var/lib/kubelet /etc/kubernetes/pki /etc/kubernetes/kubelet.conf.d/50-site \\
    /etc/systemd/system/kubelet.service.d /var/lib/kube-proxy /etc/kubelet-ca
cat > /var/lib/kubelet/config.yaml <<'EOF'
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
streamingConnectionIdleTimeout: 0s
EOF
printf 'authentication:\\n  anonymous:\\n    enabled: true\\n' > /etc/kubernetes/kubelet.conf.d/10-anon.conf
printf 'authentication:\\n  x509:\\n    clientCAFile: /etc/kubelet-ca/ca.crt\\n' \\
    > /etc/kubernetes/kubelet.conf.d/50-site/10-ca.conf
printf 'readOnlyPort: 10255\\n' > /etc/kubernetes/kubelet.conf.d/README.txt
echo ca > /etc/kubelet-ca/ca.crt
chmod 666 /etc/kubelet-ca/ca.crt
printf '[Service]\\nEnvironment="KUBELET_EXTRA_ARGS=--config-dir=/etc/kubernetes/kubelet.conf.d"\\n' \\
    > /etc/systemd/system/kubelet.service.d/20-dropins.conf
chmod 640 /etc/systemd/system/kubelet.service.d/20-dropins.conf
cat > /var/lib/kube-proxy/config.conf <<'EOF'
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
bindAddress: 0.0.0.0
metricsBindAddress: 0.0.0.0:10249
EOF
"""

CONFIG = "/var/lib/kube-proxy/config.conf"
KUBELET = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml",
           "--config-dir=/etc/kubernetes/kubelet.conf.d"]
PROXY = ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
         "--metrics-bind-address=127.0.0.1:10249"]


@pytest.fixture(scope="module")
def node(sshd: SshdServer, pause_exe: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[FakeNode, Path]]:
    worker = start_fake_node("dropin-1", SETUP, [KUBELET, PROXY], pause_exe)
    key = client_key(tmp_path_factory.mktemp("keys"), "dropin-1")
    sshd.authorize(key.with_suffix(".pub"), command=worker.enter_command())
    yield worker, key
    worker.stop()


def test_collector_reads_dropins_and_the_checks_judge_them(sshd, node, tmp_path):
    _, key = node
    options = SshOptions(known_hosts=str(sshd.known_hosts(tmp_path / "known_hosts")),
                         connect_timeout=5, command_timeout=20)
    source = SshNodeSource([InventoryNode(name="dropin-1", address="127.0.0.1", port=sshd.port, key=str(key))],
                           options)
    [nf] = source.collect(ClusterFacts())
    assert nf.unreachable is None, nf.unreachable

    d = "/etc/kubernetes/kubelet.conf.d"
    assert nf.files[d].type == "dir"
    assert nf.contents[f"{d}/10-anon.conf"].startswith("authentication:")
    assert "clientCAFile" in nf.contents[f"{d}/50-site/10-ca.conf"]          # walked recursively
    assert f"{d}/README.txt" in nf.files and f"{d}/README.txt" not in nf.contents   # not a drop-in
    assert nf.files["/etc/kubelet-ca/ca.crt"].mode == 0o666                    # named by a drop-in
    assert "--config-dir" in nf.contents["/etc/systemd/system/kubelet.service.d/20-dropins.conf"]
    assert nf.files["/etc/systemd/system/kubelet.service.d/20-dropins.conf"].mode == 0o640
    assert "metricsBindAddress" in nf.contents["/var/lib/kube-proxy/config.conf"]

    facts = Facts(cluster=ClusterFacts(), nodes=[nf], node_access="ssh")
    catalog = load_catalog()

    def status(check: str) -> tuple[Status, str]:
        [r] = evaluate_check(catalog.by_id(check), facts)
        return r.status, r.message + " " + " ".join(e.source for e in r.evidence)

    got = {c: status(c) for c in ("4.2.1", "4.2.4", "4.2.5", "4.1.7", "4.1.1", "4.3.1")}
    assert got["4.2.1"][0] is Status.FAIL and "10-anon.conf" in got["4.2.1"][1]
    assert got["4.2.4"][0] is Status.PASS                  # README.txt is not merged
    assert got["4.2.5"][0] is Status.PASS                  # 0s in the --config file: 4h
    assert got["4.1.7"][0] is Status.FAIL and "/etc/kubelet-ca/ca.crt" in got["4.1.7"][1]
    assert got["4.1.1"][0] is Status.FAIL and "20-dropins.conf" in got["4.1.1"][1]
    assert got["4.3.1"][0] is Status.FAIL                  # the flag is ignored with --config


POD_PROXY_CONFIG = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n" \
                   "metricsBindAddress: 0.0.0.0:10249\n"


@pytest.fixture(scope="module")
def pod_node(sshd: SshdServer, pause_exe: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[FakeNode, Path]]:
    """kube-proxy in its own mount namespace, as in a pod: its --config exists
    only there (a tmpfs over /var/lib/kube-proxy), not on the node."""
    inner = (f"mount -t tmpfs kp /var/lib/kube-proxy && printf '{POD_PROXY_CONFIG}' > {CONFIG} && "
             f"exec -a /usr/local/bin/kube-proxy {pause_exe} --config={CONFIG} --hostname-override=pod-1")
    worker = start_fake_node("podproxy-1", "mkdir -p /var/lib/kube-proxy", [], pause_exe,
                             raw_processes=[f"exec unshare --mount --propagation private bash -c {inner!r}"])
    key = client_key(tmp_path_factory.mktemp("keys"), "podproxy-1")
    sshd.authorize(key.with_suffix(".pub"), command=worker.enter_command())
    yield worker, key
    worker.stop()


def test_collector_reads_kube_proxy_config_inside_its_pod(sshd, pod_node, tmp_path):
    node, key = pod_node
    options = SshOptions(known_hosts=str(sshd.known_hosts(tmp_path / "known_hosts")),
                         connect_timeout=5, command_timeout=20)
    source = SshNodeSource([InventoryNode(name="podproxy-1", address="127.0.0.1", port=sshd.port, key=str(key))],
                           options)
    deadline = time.monotonic() + 10
    while True:     # the stand-in kube-proxy execs once its mount is ready
        [nf] = source.collect(ClusterFacts())
        procs = [p for p in nf.processes if p.argv[0] == "/usr/local/bin/kube-proxy"]
        if procs or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert nf.unreachable is None and procs, (nf.unreachable, nf.processes)
    assert nf.files[CONFIG].exists is False                      # not on the node
    assert nf.contents[f"/proc/{procs[0].pid}/root{CONFIG}"] == POD_PROXY_CONFIG
    [r] = evaluate_check(load_catalog().by_id("4.3.1"),
                         Facts(cluster=ClusterFacts(), nodes=[nf], node_access="ssh"))
    assert r.status is Status.FAIL, r.message
    assert "container" in r.evidence[0].source
