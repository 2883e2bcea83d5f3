"""The node collector reads every file a control plane's own config files
name, through a real OpenSSH server into a namespaced node: the scheduler's
--config and the kubeconfig it names, a real etcd started with only
--config-file (its stale flags ignored, as etcd itself ignores them), the API
server's authentication config, and the CNI directories with file types.
Then the checks judge what the components really use."""
from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Iterator

import pytest

from kaudit.catalog import load_catalog
from kaudit.collect.node.inventory import InventoryNode
from kaudit.collect.node.ssh import SshCollector, SshOptions
from kaudit.engine import evaluate_check
from kaudit.model import ClusterFacts, ClusterIdentity, Facts, NodeFacts, Status
from nodes import (FakeNode, SshdServer, client_key, etcd_pki, free_port,  # noqa: F401
                   pause_exe, sshd, start_fake_node)

pytestmark = pytest.mark.integration
CATALOG = load_catalog()
PKI = "/etc/kubernetes/pki/etcd"

SETUP = """
rm -rf /etc/cni/net.d /var/lib/cni
mkdir -p {pki_dir} /etc/etcd /var/lib/etcd-data /etc/cni/net.d /var/lib/cni/networks/cbr0
cp {pki}/ca.crt {pki}/server.crt {pki}/server.key {pki}/peer.crt {pki}/peer.key {pki_dir}/
chmod 600 {pki_dir}/*.key
chmod 700 /var/lib/etcd-data
# etcd's documented config-file layout (etcd.conf.yml.sample)
cat > /etc/etcd/etcd.conf.yml <<'EOF'
name: cp-1
data-dir: /var/lib/etcd-data
listen-client-urls: https://127.0.0.1:{client_port}
advertise-client-urls: https://127.0.0.1:{client_port}
listen-peer-urls: https://127.0.0.1:{peer_port}
initial-advertise-peer-urls: https://127.0.0.1:{peer_port}
initial-cluster: cp-1=https://127.0.0.1:{peer_port}
log-level: error
client-transport-security:
  cert-file: {pki_dir}/server.crt
  key-file: {pki_dir}/server.key
  client-cert-auth: true
  trusted-ca-file: {pki_dir}/ca.crt
peer-transport-security:
  cert-file: {pki_dir}/peer.crt
  key-file: {pki_dir}/peer.key
  client-cert-auth: true
  trusted-ca-file: {pki_dir}/ca.crt
EOF
# kubescheduler.config.k8s.io/v1, as the kube-scheduler reference documents it
cat > /etc/kubernetes/kube-scheduler-config.yaml <<'EOF'
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: "/etc/kubernetes/scheduler-config.conf"
enableProfiling: false
EOF
echo 'apiVersion: v1' > /etc/kubernetes/scheduler-config.conf
chmod 644 /etc/kubernetes/scheduler-config.conf
echo 'apiVersion: v1' > /etc/kubernetes/scheduler.conf
chmod 600 /etc/kubernetes/scheduler.conf
cat > /etc/kubernetes/authn.yaml <<'EOF'
apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
  - path: /livez
  - path: /readyz
EOF
printf 'kind: Policy\\nrules: [\\n' > /etc/kubernetes/broken-policy.yaml
# CNI: a bridge config and host-local IPAM state (a 0755 directory per network)
echo '{{"cniVersion": "1.0.0"}}' > /etc/cni/net.d/10-bridge.conflist
chmod 600 /etc/cni/net.d/10-bridge.conflist
echo 'c-1' > /var/lib/cni/networks/cbr0/10.85.0.2
chmod 600 /var/lib/cni/networks/cbr0/10.85.0.2
chmod 755 /var/lib/cni/networks/cbr0
"""

SCHEDULER = ["/usr/local/bin/kube-scheduler", "--config=/etc/kubernetes/kube-scheduler-config.yaml",
             "--kubeconfig=/etc/kubernetes/scheduler.conf", "--profiling=true", "--bind-address=127.0.0.1"]
APISERVER = ["/usr/local/bin/kube-apiserver", "--authentication-config=/etc/kubernetes/authn.yaml",
             "--audit-policy-file=/etc/kubernetes/broken-policy.yaml", "--profiling=false"]
KUBELET = ["/usr/bin/kubelet", "--kubeconfig=/etc/kubernetes/kubelet.conf"]


@pytest.fixture(scope="module")
def node(sshd: SshdServer, pause_exe: Path, etcd_pki: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeNode, Path, int]]:
    client_port, peer_port = free_port(), free_port()
    # only --config-file counts: the flags after it say the opposite and etcd ignores them
    etcd = ("exec /usr/bin/etcd --config-file=/etc/etcd/etcd.conf.yml --client-cert-auth=false "
            "--data-dir=/var/lib/etcd")
    setup = SETUP.format(pki=etcd_pki, pki_dir=PKI, client_port=client_port, peer_port=peer_port)
    cp = start_fake_node("cp-1", setup, [SCHEDULER, APISERVER, KUBELET], pause_exe, raw_processes=[etcd],
                         wait_ports=[client_port])
    key = client_key(tmp_path_factory.mktemp("cpkeys"), "cp-1")
    sshd.authorize(key.with_suffix(".pub"), command=cp.enter_command())
    yield cp, key, client_port
    cp.stop()


def _collect(sshd: SshdServer, key: Path, tmp_path: Path) -> NodeFacts:
    opts = SshOptions(known_hosts=str(sshd.known_hosts(tmp_path / "known_hosts")),
                      connect_timeout=5, command_timeout=20)
    nf = SshCollector(opts).collect_node(InventoryNode(name="cp-1", address="127.0.0.1", port=sshd.port,
                                                       key=str(key)))
    assert nf.unreachable is None, nf.unreachable
    return nf


def _judge(check_id: str, nf: NodeFacts):
    facts = Facts(cluster=ClusterFacts(identity=ClusterIdentity(version="v1.32.3"), source="manifests"),
                  nodes=[nf], node_access="ssh")
    return evaluate_check(CATALOG.by_id(check_id), facts)


def test_collector_reads_the_files_control_plane_configs_name(sshd, node, tmp_path):
    _, key, _ = node
    nf = _collect(sshd, key, tmp_path)
    assert "enableProfiling: false" in nf.contents["/etc/kubernetes/kube-scheduler-config.yaml"]
    assert nf.files["/etc/kubernetes/scheduler-config.conf"].mode == 0o644      # named in the scheduler config
    assert "client-transport-security" in nf.contents["/etc/etcd/etcd.conf.yml"]
    assert nf.files["/var/lib/etcd-data"].type == "dir"                        # named in the etcd config
    assert nf.files[f"{PKI}/server.crt"].exists
    assert "anonymous" in nf.contents["/etc/kubernetes/authn.yaml"]
    assert nf.files["/var/lib/cni/networks/cbr0"].type == "dir"
    assert nf.files["/var/lib/cni/networks/cbr0/10.85.0.2"].type == "file"
    assert nf.list_errors == {}


def test_checks_judge_what_the_components_really_use(sshd, node, tmp_path):
    _, key, _ = node
    nf = _collect(sshd, key, tmp_path)
    profiling = _judge("1.4.1", nf)
    assert [r.status for r in profiling] == [Status.PASS]
    assert "kube-scheduler-config.yaml" in profiling[0].evidence[0].what
    kubeconfig = _judge("1.1.15", nf)
    assert [r.status for r in kubeconfig] == [Status.FAIL]
    assert "/etc/kubernetes/scheduler-config.conf" in kubeconfig[0].message
    for check_id in ("2.1", "2.2", "2.4", "2.5"):
        results = _judge(check_id, nf)
        assert [r.status for r in results] == [Status.PASS], (check_id, results[0].message)
        assert "/etc/etcd/etcd.conf.yml" in results[0].evidence[0].what
    data_dir = _judge("1.1.11", nf)
    assert [r.status for r in data_dir] == [Status.PASS]
    assert any("/var/lib/etcd-data" in e.what for e in data_dir[0].evidence)
    anonymous = _judge("1.2.1", nf)
    assert [r.status for r in anonymous] == [Status.PASS]
    assert "/etc/kubernetes/authn.yaml" in anonymous[0].evidence[0].what
    cni = _judge("1.1.9", nf)
    assert [r.status for r in cni] == [Status.PASS], cni[0].message
    # a config file that does not parse: ERROR naming the file and line, others keep their verdicts
    policy = _judge("3.2.2", nf)
    assert [r.status for r in policy] == [Status.ERROR]
    assert "/etc/kubernetes/broken-policy.yaml" in policy[0].message and "line" in policy[0].message
    assert [r.status for r in _judge("1.2.15", nf)] == [Status.PASS]


def test_the_real_etcd_obeys_its_config_file_not_its_flags(node, etcd_pki):
    """--client-cert-auth=false on the command line, true in the file: etcd
    refuses a client without a certificate, as kaudit's 2.2 PASS says."""
    _, _, port = node
    ctx = ssl.create_default_context(cafile=str(etcd_pki / "ca.crt"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                if not tls.recv(4096):
                    raise ConnectionError("closed without an answer")
    ctx.load_cert_chain(str(etcd_pki / "peer.crt"), str(etcd_pki / "peer.key"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            assert b'"health":"true"' in tls.recv(4096)


def _host_with_cni(base: Path) -> tuple[Path, Path]:
    root, proc = base / "host", base / "proc"
    (root / "etc/cni/net.d").mkdir(parents=True)
    for i in range(5):
        (root / f"etc/cni/net.d/{i}-net.conflist").write_text("{}")
        (root / f"etc/cni/net.d/{i}-net.conflist").chmod(0o600)
    (root / "etc/hostname").write_text("w-1\n")
    (proc / "42").mkdir(parents=True)
    (proc / "42/cmdline").write_bytes(b"/usr/bin/kubelet\0--kubeconfig=/etc/kubernetes/kubelet.conf\0")
    return root, proc


def _record(root: Path, proc: Path, *prefix: str, **env: str) -> str:
    import subprocess

    from kaudit.collect.node.local import collector_script
    done = subprocess.run([*prefix, "sh", "-s"], input=collector_script(), capture_output=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "KAUDIT_ROOT": str(root), "KAUDIT_PROC": str(proc),
                                          **env})
    return done.stdout.decode("ascii")


def _run_collector(root: Path, proc: Path, *prefix: str, **env: str) -> NodeFacts:
    from kaudit.collect.node.parse import parse_collector_output
    return parse_collector_output(_record(root, proc, *prefix, **env), "w-1", "local")


def _cni_verdict_and_report(nf: NodeFacts):
    from kaudit.scan import build_report
    results = _judge("1.1.9", nf)
    facts = Facts(cluster=ClusterFacts(source="manifests"), nodes=[nf], node_access="local")
    return results, build_report(CATALOG, facts, results, "2026-12-01T00:00:00Z")


def test_listing_cut_short_by_the_file_limit_is_error_and_incomplete(tmp_path):
    root, proc = _host_with_cni(tmp_path)
    whole = _run_collector(root, proc)
    assert [r.status for r in _judge("1.1.9", whole)] == [Status.PASS]
    # a limit reached while listing /etc/cni/net.d leaves some of its files unseen:
    # let the collector record the directory and two of its five files
    stats = [line.split(" ")[1] for line in _record(root, proc).splitlines()
             if line.split(" ")[0] in ("FILE", "MISSING", "FILEERR")]
    limited = _run_collector(root, proc, KAUDIT_MAX_FILES=str(stats.index("/etc/cni/net.d") + 3))
    assert 0 < len([p for p in limited.files if p.startswith("/etc/cni/net.d/")]) < 5
    assert "/etc/cni/net.d" in limited.list_errors
    results, report = _cni_verdict_and_report(limited)
    assert [r.status for r in results] == [Status.ERROR]
    assert "/etc/cni/net.d" in results[0].message
    assert not report.scan.complete


def test_unlistable_directory_is_error_not_skip(request):
    import os
    import shutil
    import tempfile
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop privileges")
    base = Path(tempfile.mkdtemp(prefix="kaudit-unlist-"))      # pytest's tmp dirs are 0700 root
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    base.chmod(0o755)
    root, proc = _host_with_cni(base)
    for d in (root, root / "etc", root / "etc/cni", proc, proc / "42"):
        d.chmod(0o755)
    (proc / "42/cmdline").chmod(0o644)
    (root / "etc/cni/net.d").chmod(0o700)
    nf = _run_collector(root, proc, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    assert nf.list_errors == {"/etc/cni/net.d": "permission denied"}
    results, report = _cni_verdict_and_report(nf)
    assert [r.status for r in results] == [Status.ERROR]
    assert "permission denied" in results[0].message
    assert not report.scan.complete
