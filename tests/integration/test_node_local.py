"""The collector run locally on a prefixed host filesystem (the DaemonSet
layout: KAUDIT_ROOT=/host), node-facts JSON, and saved facts."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kaudit.collect import SourceError
from kaudit.collect.node.local import collect_local, collector_script, node_facts_main
from kaudit.collect.node.parse import parse_collector_output
from kaudit.collect.node.saved import SavedNodeFactsSource
from kaudit.model import ClusterFacts

pytestmark = pytest.mark.integration


@pytest.fixture
def host(tmp_path: Path) -> tuple[Path, Path]:
    """A k3s-ish host tree and a /proc with one crafted k3s server process."""
    root, proc = tmp_path / "host", tmp_path / "proc"
    (root / "etc/rancher/k3s").mkdir(parents=True)
    (root / "var/lib/rancher/k3s/server/tls").mkdir(parents=True)
    (root / "var/lib/rancher/k3s/server/cred").mkdir(parents=True)
    (root / "etc/hostname").write_text("k3s-node\n")
    (root / "etc/rancher/k3s/config.yaml").write_text("write-kubeconfig-mode: '0600'\n")
    (root / "etc/rancher/k3s/k3s.yaml").write_text("users: [{user: {token: SECRET}}]\n")
    tls = root / "var/lib/rancher/k3s/server/tls"
    (tls / "server-ca.key").write_text("-----BEGIN EC PRIVATE KEY-----\nAAAA\n")
    (tls / "server-ca.crt").write_text("cert")
    (tls / "odd.pem").write_text("# bundle\n-----BEGIN PRIVATE KEY-----\nBBBB\n")
    (root / "var/lib/rancher/k3s/server/cred/encryption-config.json").write_text(
        '{"kind":"EncryptionConfiguration","resources":[{"providers":[{"aescbc":{"keys":'
        '[{"name":"a","secret":"S3CR3T1"},{"name":"b","secret":"S3CR3T2"}]}}]}]}')
    (root / "etc/rancher/k3s/audit.yaml").write_bytes(b"\x7fELF\x00\x01binary")
    (root / "etc/rancher/k3s/huge.yaml").write_bytes(b"a: b\n" * 60000)
    (proc / "99").mkdir(parents=True)
    (proc / "99/cmdline").write_bytes(
        b"/usr/local/bin/k3s\0server\0--kube-apiserver-arg=audit-policy-file=/etc/rancher/k3s/audit.yaml\0"
        b"--kube-apiserver-arg=admission-control-config-file=/etc/rancher/k3s/huge.yaml\0"
        b"--node-label=caf\xe9\xff\0")
    (proc / "100").mkdir()
    (proc / "100/cmdline").write_bytes(b"/usr/bin/containerd\0")
    return root, proc


def test_prefixed_host(host):
    root, proc = host
    facts = collect_local(str(root), proc=str(proc))
    assert facts.name == "k3s-node" and facts.transport == "local"
    assert facts.roles == ("control-plane", "worker")
    [k3s] = facts.processes
    assert k3s.argv[-1] == "--node-label=caf\\xe9\\xff"        # undecodable bytes stay visible
    # paths are host paths: no prefix anywhere
    assert all(not p.startswith(str(root)) for p in facts.files)
    tls = "/var/lib/rancher/k3s/server/tls"
    assert facts.files[f"{tls}/server-ca.key"].exists
    assert facts.contents["/etc/rancher/k3s/config.yaml"] == "write-kubeconfig-mode: '0600'\n"
    assert "/etc/rancher/k3s/k3s.yaml" in facts.files and "/etc/rancher/k3s/k3s.yaml" not in facts.contents
    enc = facts.contents["/var/lib/rancher/k3s/server/cred/encryption-config.json"]
    assert "S3CR3T" not in enc
    assert json.loads(enc)["resources"][0]["providers"][0]["aescbc"]["keys"][1] == {
        "name": "b", "secret": "REDACTED"}
    assert facts.content_errors["/etc/rancher/k3s/audit.yaml"].startswith("binary content")
    assert facts.content_errors["/etc/rancher/k3s/huge.yaml"] == "too large (300000 bytes)"
    everything = json.dumps(facts.to_json())
    assert "PRIVATE KEY" not in everything and "SECRET" not in everything


def test_unreadable_files_as_an_unprivileged_user(host, request):
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop privileges")
    # pytest's tmp dirs are 0700 root; the unprivileged user needs a path in
    base = Path(tempfile.mkdtemp(prefix="kaudit-unpriv-"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    shutil.copytree(host[0].parent, base, dirs_exist_ok=True)
    root, proc = base / "host", base / "proc"
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    cfg = root / "etc/rancher/k3s/config.yaml"
    cfg.chmod(0o600)
    tls = root / "var/lib/rancher/k3s/server/tls"
    tls.chmod(0o700)
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s"],
                          input=collector_script(), capture_output=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "KAUDIT_ROOT": str(root), "KAUDIT_PROC": str(proc)})
    facts = parse_collector_output(done.stdout, "n", "local")
    assert facts.content_errors["/etc/rancher/k3s/config.yaml"] == "permission denied"
    assert facts.files["/etc/rancher/k3s/config.yaml"].mode == 0o600
    assert any("cannot list /var/lib/rancher/k3s/server/tls" in e for e in facts.errors)


def test_node_facts_json_reads_back_as_saved_facts(host, tmp_path):
    root, proc = host
    text = node_facts_main(str(root), "cp-7", proc=str(proc))
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved/cp-7.json").write_text(text)
    [facts] = SavedNodeFactsSource([str(tmp_path / "saved")]).collect(ClusterFacts())
    assert facts.name == "cp-7" and facts.files == collect_local(str(root), "x", proc=str(proc)).files


def test_saved_facts_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SourceError) as e:
        SavedNodeFactsSource(str(bad)).collect(ClusterFacts())
    assert e.value.exit_code == 2 and str(bad) in str(e.value)
    bad.write_text('{"schema": "other"}')
    with pytest.raises(SourceError, match="unsupported NodeFacts schema"):
        SavedNodeFactsSource(str(bad)).collect(ClusterFacts())
    with pytest.raises(SourceError, match="no such file"):
        SavedNodeFactsSource(str(tmp_path / "nope")).collect(ClusterFacts())


def test_collector_is_fast_here():
    import time
    started = time.monotonic()
    collect_local("/")
    assert time.monotonic() - started < 2.0


def test_k3s_config_dropins_datastore_and_environment_are_collected(host):
    # What kaudit needs to resolve k3s as k3s does: config.yaml.d/*.yaml|*.yml
    # (pkg/configfilearg), server/db/state.db and the K3S_* variables that pick
    # the datastore (pkg/cluster/managed.go); the endpoint's value and the token never leave.
    root, proc = host
    d = root / "etc/rancher/k3s/config.yaml.d"
    d.mkdir()
    (d / "10-a.yaml").write_text("kube-apiserver-arg+:\n  - profiling=true\n")
    (d / "20-b.YML").write_text("write-kubeconfig-mode: '0644'\n")
    (d / "30-c.yaml.bak").write_text("ignored: true\n")
    (root / "var/lib/rancher/k3s/server/db").mkdir(parents=True)
    (root / "var/lib/rancher/k3s/server/db/state.db").write_bytes(b"SQLite format 3\0")
    (proc / "99/environ").write_bytes(
        b"PATH=/usr/bin\0K3S_TOKEN=TOPSECRET\0K3S_DATASTORE_ENDPOINT=postgres://u:PASSWORD@db/k3s\0"
        b"K3S_CLUSTER_INIT=true\0K3S_KUBECONFIG_MODE=644\0")
    facts = collect_local(str(root), proc=str(proc))
    base = "/etc/rancher/k3s/config.yaml.d"
    assert facts.contents[f"{base}/10-a.yaml"] == "kube-apiserver-arg+:\n  - profiling=true\n"
    assert f"{base}/20-b.YML" in facts.contents
    assert f"{base}/30-c.yaml.bak" in facts.files and f"{base}/30-c.yaml.bak" not in facts.contents
    assert facts.files["/var/lib/rancher/k3s/server/db/state.db"].exists
    assert not facts.files["/var/lib/rancher/k3s/server/db/etcd"].exists
    [k3s] = facts.processes
    assert k3s.env == {"K3S_DATASTORE_ENDPOINT": "<redacted by kaudit>", "K3S_CLUSTER_INIT": "true",
                       "K3S_KUBECONFIG_MODE": "644"}
    everything = json.dumps(facts.to_json())
    assert "TOPSECRET" not in everything and "PASSWORD" not in everything


def test_k3s_without_environment_or_dropins_is_recorded_as_such(host):
    root, proc = host
    (proc / "99/environ").write_bytes(b"PATH=/usr/bin\0")
    facts = collect_local(str(root), proc=str(proc))
    [k3s] = facts.processes
    assert k3s.env == {}
    assert facts.files["/etc/rancher/k3s/config.yaml.d"].exists is False


def test_k3s_managed_etcd_config_and_its_files_are_collected(host):
    root, proc = host
    db = root / "var/lib/rancher/k3s/server/db/etcd"
    db.mkdir(parents=True)
    (db / "config").write_text(
        "data-dir: /var/lib/rancher/k3s/server/db/etcd\nclient-transport-security:\n"
        "  cert-file: /var/lib/rancher/k3s/server/tls/etcd/server-client.crt\n")
    facts = collect_local(str(root), proc=str(proc))
    assert "client-transport-security" in facts.contents["/var/lib/rancher/k3s/server/db/etcd/config"]
    assert "/var/lib/rancher/k3s/server/tls/etcd/server-client.crt" in facts.files
