"""Node collection over a real OpenSSH server into real namespaced nodes."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from kaudit.collect.node.inventory import InventoryNode, JumpHost, load_inventory
from kaudit.collect.node.ssh import SshCollector, SshNodeSource, SshOptions
from kaudit.model import ClusterFacts
from nodes import (TEST_USER, FakeNode, SshdServer, client_key,  # noqa: F401
                                     etcd_pki, free_port, pause_exe, sshd, start_fake_node)

pytestmark = pytest.mark.integration

# An argv no shell-quoting layer may damage.
TRICKY = ["/usr/local/bin/kube-apiserver", "--advertise-address=10.0.0.1",
          "--token-auth-file=/etc/kubernetes/tokens dir/tokens.csv",
          "--service-account-issuer=https://a \"quoted\" 'single' $HOME `x`\nsecond line",
          "", "--encryption-provider-config=/etc/kubernetes/enc/enc.yaml",
          "--client-ca-file=/etc/kubernetes/pki/ca.crt", "--profiling=false"]

CP_SETUP = """
mkdir -p /etc/kubernetes/pki/etcd /etc/kubernetes/manifests /etc/kubernetes/enc "/etc/kubernetes/tokens dir"
cp {pki}/ca.crt {pki}/server.crt {pki}/server.key {pki}/peer.crt {pki}/peer.key /etc/kubernetes/pki/etcd/
cp {pki}/ca.crt /etc/kubernetes/pki/ca.crt
cp {pki}/ca.key /etc/kubernetes/pki/ca.key
chmod 600 /etc/kubernetes/pki/etcd/*.key /etc/kubernetes/pki/ca.key
chmod 644 /etc/kubernetes/pki/ca.crt
printf 'apiVersion: v1\\nkind: Config\\nusers:\\n- name: admin\\n  user: {{token: SECRET-TOKEN}}\\n' > /etc/kubernetes/admin.conf
chmod 600 /etc/kubernetes/admin.conf
printf 'apiVersion: v1\\nkind: Pod\\nmetadata: {{name: kube-apiserver}}\\n' > /etc/kubernetes/manifests/kube-apiserver.yaml
chmod 640 /etc/kubernetes/manifests/kube-apiserver.yaml
cat > /etc/kubernetes/enc/enc.yaml <<'EOF'
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==
  - identity: {{}}
EOF
echo 'token,user,uid' > "/etc/kubernetes/tokens dir/tokens.csv"
mkdir -m 700 /var/lib/etcd
chown etcd:etcd /var/lib/etcd
"""

WORKER_SETUP = """
mkdir -p /var/lib/kubelet /srv/static /etc/kubernetes/pki /etc/systemd/system/kubelet.service.d
cat > /var/lib/kubelet/config.yaml <<'EOF'
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: /srv/static
authentication:
  x509:
    clientCAFile: "/etc/kubernetes/pki/ca.crt"
  anonymous:
    enabled: false
EOF
chmod 600 /var/lib/kubelet/config.yaml
echo 'kind: Pod' > /srv/static/web.yaml
echo ca > /etc/kubernetes/pki/ca.crt
chown 0:4242 /etc/kubernetes/pki/ca.crt
chmod 640 /etc/kubernetes/pki/ca.crt
printf '[Service]\\nEnvironment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf"\\n' \
    > /etc/systemd/system/kubelet.service.d/10-kubeadm.conf
head -c 300000 /dev/zero | tr '\\0' 'a' > /var/lib/kubelet/big.yaml
"""

WORKER_KUBELET = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml",
                  "--kubeconfig", "/etc/kubernetes/kubelet.conf",
                  "--pod-manifest-path=/var/lib/kubelet/big.yaml"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def cluster_nodes(sshd: SshdServer, pause_exe: Path, etcd_pki: Path,
                  keys: Path) -> Iterator[dict[str, tuple[FakeNode, Path]]]:
    """Two namespaced nodes: a control plane (real etcd + an apiserver), a worker."""
    client_port, peer_port = free_port(), free_port()
    pki = "/etc/kubernetes/pki/etcd"
    etcd = (f"ETCD_LOG_LEVEL=error ETCD_NOT_SECRET_MARKER=ok HIDDEN_PASSWORD=hunter2 "
            f"exec /usr/bin/etcd --name cp-1 --data-dir=/var/lib/etcd "
            f"--listen-client-urls=https://127.0.0.1:{client_port} "
            f"--advertise-client-urls=https://127.0.0.1:{client_port} "
            f"--listen-peer-urls=https://127.0.0.1:{peer_port} "
            f"--initial-advertise-peer-urls=https://127.0.0.1:{peer_port} "
            f"--initial-cluster=cp-1=https://127.0.0.1:{peer_port} "
            f"--client-cert-auth --trusted-ca-file={pki}/ca.crt "
            f"--cert-file={pki}/server.crt --key-file={pki}/server.key "
            f"--peer-client-cert-auth --peer-trusted-ca-file={pki}/ca.crt "
            f"--peer-cert-file={pki}/peer.crt --peer-key-file={pki}/peer.key")
    cp = start_fake_node("cp-1", CP_SETUP.format(pki=etcd_pki), [TRICKY], pause_exe,
                         raw_processes=[etcd], wait_ports=[client_port])
    cp.ports["etcd"] = client_port
    worker = start_fake_node("worker-1", WORKER_SETUP, [WORKER_KUBELET], pause_exe)
    out = {}
    for node in (cp, worker):
        key = client_key(keys, node.name)
        sshd.authorize(key.with_suffix(".pub"), command=node.enter_command())
        out[node.name] = (node, key)
    yield out
    for node, _ in out.values():
        node.stop()


def _options(sshd: SshdServer, tmp_path: Path, **kw) -> SshOptions:
    return SshOptions(known_hosts=str(sshd.known_hosts(tmp_path / "known_hosts")),
                      connect_timeout=5, command_timeout=20, **kw)


def _inv(name: str, key: Path, sshd: SshdServer, **kw) -> InventoryNode:
    return InventoryNode(name=name, address="127.0.0.1", port=sshd.port, key=str(key), **kw)


def test_inventory_scan_of_two_nodes_and_a_dead_one(sshd, cluster_nodes, tmp_path):
    (cp, cp_key), (worker, worker_key) = cluster_nodes["cp-1"], cluster_nodes["worker-1"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"""
defaults:
  port: {sshd.port}
  user: root
nodes:
  - {{name: cp-1, address: 127.0.0.1, key: {cp_key}, role: etcd}}
  - {{name: worker-1, address: 127.0.0.1, key: {worker_key}}}
  - {{name: gone, address: 127.0.0.1, port: {free_port()}, key: {worker_key}}}
""")
    source = SshNodeSource(load_inventory(str(inventory)), _options(sshd, tmp_path))
    facts = {f.name: f for f in source.collect(ClusterFacts())}
    assert list(facts) == ["cp-1", "worker-1", "gone"]

    # a dead node does not stop the others
    assert "cannot connect to 127.0.0.1" in facts["gone"].unreachable

    cp_facts = facts["cp-1"]
    assert cp_facts.unreachable is None, cp_facts.unreachable
    assert cp_facts.hostname == "cp-1" and cp_facts.transport == "ssh"
    assert cp_facts.roles == ("control-plane", "etcd")
    by_exe = {os.path.basename(p.argv[0]): p for p in cp_facts.processes}
    # argv survives byte for byte: spaces, quotes, $, backticks, a newline, an empty arg
    assert list(by_exe["kube-apiserver"].argv) == TRICKY
    etcd = by_exe["etcd"]
    assert "--client-cert-auth" in etcd.argv
    assert "--cert-file=/etc/kubernetes/pki/etcd/server.crt" in etcd.argv
    assert etcd.argv[etcd.argv.index("--name") + 1] == "cp-1"
    # only ETCD_* variables leave the node
    assert etcd.env == {"ETCD_LOG_LEVEL": "error", "ETCD_NOT_SECRET_MARKER": "ok"}

    files = cp_facts.files
    assert files["/var/lib/etcd"].mode == 0o700 and files["/var/lib/etcd"].user == "etcd"
    assert files["/var/lib/etcd"].type == "dir"
    key = files["/etc/kubernetes/pki/etcd/server.key"]
    assert (key.exists, key.mode, key.user, key.group) == (True, 0o600, "root", "root")
    assert files["/etc/kubernetes/pki/ca.key"].mode == 0o600      # found by walking pki/
    assert files["/etc/kubernetes/admin.conf"].mode == 0o600
    assert files["/etc/kubernetes/tokens dir/tokens.csv"].exists
    assert files["/etc/kubernetes/manifests/kube-apiserver.yaml"].mode == 0o640
    assert "kube-apiserver" in cp_facts.contents["/etc/kubernetes/manifests/kube-apiserver.yaml"]
    # never: private keys, kubeconfig credentials, encryption secrets
    text = "\n".join(cp_facts.contents.values())
    assert "PRIVATE KEY" not in text and "SECRET-TOKEN" not in text
    assert "/etc/kubernetes/admin.conf" not in cp_facts.contents
    enc = cp_facts.contents["/etc/kubernetes/enc/enc.yaml"]
    assert "c2VjcmV0" not in enc and "secret: REDACTED" in enc and "aescbc" in enc

    w = facts["worker-1"]
    assert w.roles == ("worker",)
    assert [p.argv for p in w.processes] == [tuple(WORKER_KUBELET)]
    # files named inside the kubelet config: staticPodPath and clientCAFile
    assert w.contents["/srv/static/web.yaml"] == "kind: Pod\n"
    ca = w.files["/etc/kubernetes/pki/ca.crt"]
    assert (ca.mode, ca.gid, ca.group) == (0o640, 4242, None)   # no name for gid 4242
    assert "staticPodPath: /srv/static" in w.contents["/var/lib/kubelet/config.yaml"]
    assert w.content_errors["/var/lib/kubelet/big.yaml"] == "too large (300000 bytes)"
    assert "/var/lib/kubelet/big.yaml" not in w.contents
    assert "KUBELET_KUBECONFIG_ARGS" in w.contents["/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"]
    # a missing component is simply absent, and what it would name is reported missing
    assert not any(os.path.basename(p.argv[0]) == "kube-proxy" for p in w.processes)
    assert w.files["/etc/kubernetes/manifests"].exists is False


def test_etcd_really_serves_tls_with_client_cert_auth(cluster_nodes, etcd_pki):
    """The etcd whose argv was captured is a real, working, TLS-only etcd."""
    import ssl
    import socket
    cp, _ = cluster_nodes["cp-1"]
    ctx = ssl.create_default_context(cafile=str(etcd_pki / "ca.crt"))
    ctx.load_cert_chain(str(etcd_pki / "peer.crt"), str(etcd_pki / "peer.key"))
    with socket.create_connection(("127.0.0.1", cp.ports["etcd"]), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            assert b'"health":"true"' in tls.recv(4096)


def test_unknown_host_key_refused_then_trusted_on_first_use(sshd, cluster_nodes, tmp_path):
    _, key = cluster_nodes["worker-1"]
    known = tmp_path / "kh" / "known_hosts"
    strict = SshCollector(SshOptions(known_hosts=str(known), connect_timeout=5))
    refused = strict.collect_node(_inv("worker-1", key, sshd))
    assert "is not in" in refused.unreachable and "SHA256:" in refused.unreachable
    assert f"[127.0.0.1]:{sshd.port}" in refused.unreachable
    assert not known.exists()

    tofu = SshCollector(SshOptions(known_hosts=str(known), trust_on_first_use=True, connect_timeout=5))
    assert tofu.collect_node(_inv("worker-1", key, sshd)).unreachable is None
    assert sshd.host_key_pub.split()[1] in known.read_text()
    # the key written is now trusted without opting in again
    assert strict.collect_node(_inv("worker-1", key, sshd)).unreachable is None


def test_changed_host_key_is_refused(sshd, cluster_nodes, tmp_path):
    _, key = cluster_nodes["worker-1"]
    other = client_key(tmp_path, "impostor").with_suffix(".pub").read_text().split()
    known = sshd.known_hosts(tmp_path / "known_hosts", f"{other[0]} {other[1]}")
    facts = SshCollector(SshOptions(known_hosts=str(known), connect_timeout=5)).collect_node(
        _inv("worker-1", key, sshd))
    assert "CHANGED" in facts.unreachable and "SHA256:" in facts.unreachable
    assert facts.processes == () and facts.files == {}


def test_bad_key_fails_authentication(sshd, cluster_nodes, tmp_path):
    stranger = client_key(tmp_path, "stranger")
    facts = SshCollector(_options(sshd, tmp_path)).collect_node(_inv("worker-1", stranger, sshd))
    assert facts.unreachable.startswith("authentication failed for root@127.0.0.1")


def test_hanging_command_times_out(sshd, tmp_path):
    key = client_key(tmp_path, "hang")
    sshd.authorize(key.with_suffix(".pub"), command="sleep 30")
    options = _options(sshd, tmp_path)
    options.command_timeout = 1
    started = time.monotonic()
    facts = SshCollector(options).collect_node(_inv("hangs", key, sshd))
    assert "did not finish within 1 s" in facts.unreachable
    assert time.monotonic() - started < 5


def test_proxy_jump_through_a_bastion(sshd, cluster_nodes, tmp_path):
    _, worker_key = cluster_nodes["worker-1"]
    bastion_key = client_key(tmp_path, "bastion")
    sshd.authorize(bastion_key.with_suffix(".pub"))     # plain root login on the bastion
    node = _inv("worker-1", worker_key, sshd,
                jump=JumpHost(address="127.0.0.1", port=sshd.port, key=str(bastion_key)))
    facts = SshCollector(_options(sshd, tmp_path)).collect_node(node)
    assert facts.unreachable is None and facts.hostname == "worker-1"
    bad = _inv("worker-1", worker_key, sshd,
               jump=JumpHost(address="127.0.0.1", port=free_port(), key=str(bastion_key)))
    assert SshCollector(_options(sshd, tmp_path)).collect_node(bad).unreachable.startswith("jump host")


# --- a non-root user: sudo -n, and what it cannot read without it -----------

@pytest.fixture(scope="module")
def sudo_user(sshd: SshdServer, keys: Path) -> Iterator[tuple[Path, Path]]:
    """A non-root user whose sessions see a host filesystem mounted under a
    prefix (KAUDIT_ROOT, the DaemonSet layout) and a crafted /proc."""
    if not os.path.exists("/usr/bin/sudo"):
        pytest.skip("sudo not installed")
    base = Path(tempfile.mkdtemp(prefix="kaudit-sudo-"))   # not under pytest's 0700 tmp
    base.chmod(0o755)
    root = base / "host"
    proc = base / "proc"
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    (root / "etc/kubernetes/pki").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\netcd:x:4242:4243::/:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\netcdgrp:x:4243:\n")
    manifest = root / "etc/kubernetes/manifests/kube-apiserver.yaml"
    manifest.write_text("kind: Pod\nmetadata: {name: kube-apiserver}\n")
    manifest.chmod(0o600)
    os.chown(root / "etc/kubernetes/pki", 4242, 4243)
    (root / "etc/kubernetes/pki").chmod(0o700)
    (root / "etc/kubernetes/pki/ca.crt").write_text("x")
    (proc / "4242").mkdir(parents=True)
    (proc / "4242/cmdline").write_bytes(b"kube-scheduler\0--kubeconfig=/etc/kubernetes/scheduler.conf\0"
                                            b"--client-ca-file=/etc/kubernetes/pki/ca.crt\0")
    for d in (root, proc):
        d.chmod(0o755)
    subprocess.run(["userdel", TEST_USER], capture_output=True)
    subprocess.run(["useradd", "-M", "-d", "/", "-s", "/bin/sh", TEST_USER], check=True)
    subprocess.run(["usermod", "-p", "*", TEST_USER], check=True)     # not locked, no password
    sudoers = Path(f"/etc/sudoers.d/{TEST_USER}")
    sudoers.write_text(f'Defaults:{TEST_USER} env_keep += "KAUDIT_ROOT KAUDIT_PROC"\n'
                       f"{TEST_USER} ALL=(root) NOPASSWD: /usr/bin/sh, /bin/sh\n")
    sudoers.chmod(0o440)
    enter = base / "enter-prefix.sh"
    enter.write_text(f"#!/bin/sh\nKAUDIT_ROOT={root} KAUDIT_PROC={proc}\nexport KAUDIT_ROOT KAUDIT_PROC\n"
                     'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
    enter.chmod(0o755)
    key = client_key(base, "sudo-user")
    key.chmod(0o600)
    sshd.authorize(key.with_suffix(".pub"), user=TEST_USER, command=str(enter))
    try:
        yield key, root
    finally:
        sudoers.unlink()
        subprocess.run(["userdel", TEST_USER], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_non_root_user_uses_sudo(sshd, sudo_user, tmp_path):
    key, _ = sudo_user
    node = _inv("prefixed", key, sshd, user=TEST_USER)
    assert node.use_sudo
    facts = SshCollector(_options(sshd, tmp_path)).collect_node(node)
    assert facts.unreachable is None, facts.unreachable
    manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
    assert "kube-apiserver" in facts.contents[manifest]        # 0600 root: read through sudo
    pki = facts.files["/etc/kubernetes/pki"]
    # owner names come from the host's passwd/group under the prefix
    assert (pki.uid, pki.user, pki.gid, pki.group) == (4242, "etcd", 4243, "etcdgrp")
    assert facts.files["/etc/kubernetes/pki/ca.crt"].exists
    assert [p.argv for p in facts.processes] == [
        ("kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf",
         "--client-ca-file=/etc/kubernetes/pki/ca.crt")]
    assert facts.roles == ("control-plane",)


def test_without_sudo_unreadable_files_are_errors_not_absent(sshd, sudo_user, tmp_path):
    key, _ = sudo_user
    node = _inv("prefixed", key, sshd, user=TEST_USER, sudo=False)
    facts = SshCollector(_options(sshd, tmp_path)).collect_node(node)
    assert facts.unreachable is None, facts.unreachable
    manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
    assert facts.files[manifest].mode == 0o600                   # metadata still visible
    assert facts.content_errors[manifest] == "permission denied"
    assert manifest not in facts.contents
    hidden = facts.files["/etc/kubernetes/pki/ca.crt"]           # inside a 0700 dir
    assert hidden.exists and "Permission denied" in (hidden.error or "")
    assert any("cannot list /etc/kubernetes/pki" in e for e in facts.errors)
