"""The built image runs the node collector as the DaemonSet kaudit creates
runs it (command, env, user, capabilities, read-only host paths under /host,
hostPID) against a namespaced test node, and sees what a collector running
directly on that node sees."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from container import Container, Mount, pod_argv
from kaudit.collect.node.daemonset import COLLECTOR_CONTAINER, DaemonSetSource
from kaudit.model import NodeFacts
from nodes import FakeNode, pause_exe, start_fake_node  # noqa: F401  (pause_exe is a fixture)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

NODE_SETUP = """
mkdir -p /etc/kubernetes/pki /etc/kubernetes/manifests /var/lib/kubelet
cat > /var/lib/kubelet/config.yaml <<'EOF'
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
readOnlyPort: 10255
authentication:
  anonymous:
    enabled: false
EOF
chmod 600 /var/lib/kubelet/config.yaml
printf 'apiVersion: v1\\nkind: Config\\n' > /etc/kubernetes/kubelet.conf
chmod 644 /etc/kubernetes/kubelet.conf
echo ca > /etc/kubernetes/pki/ca.crt
printf -- '-----BEGIN EC PRIVATE KEY-----\\nAAAA\\n' > /etc/kubernetes/pki/ca.key
chmod 600 /etc/kubernetes/pki/ca.key
chown 0:4242 /etc/kubernetes/pki/ca.crt
printf 'apiVersion: v1\\nkind: Pod\\nmetadata: {name: kube-apiserver}\\n' > /etc/kubernetes/manifests/kube-apiserver.yaml
chmod 640 /etc/kubernetes/manifests/kube-apiserver.yaml
"""

KUBELET = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml",
           "--kubeconfig=/etc/kubernetes/kubelet.conf", "--read-only-port=0"]
APISERVER = ["kube-apiserver", "--profiling=true", "--client-ca-file=/etc/kubernetes/pki/ca.crt"]


@pytest.fixture
def node(pause_exe: Path) -> Iterator[FakeNode]:   # noqa: F811
    n = start_fake_node("image-node-1", NODE_SETUP, [KUBELET, APISERVER], pause_exe)
    yield n
    n.stop()


def collector_container(image, rootfs: Path, work: Path, node: FakeNode) -> Container:
    """The init container of the collector DaemonSet kaudit creates."""
    manifest = DaemonSetSource().daemonset_manifest("imagetest")
    pod = manifest["spec"]["template"]["spec"]
    (container,) = [c for c in pod["initContainers"] if c["name"] == COLLECTOR_CONTAINER]
    assert pod["hostPID"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = []
    for vm in container["volumeMounts"]:
        volume = volumes[vm["name"]]
        if "hostPath" in volume:
            # A host path this node lacks is skipped (containerd would create it).
            mounts.append(Mount(Path(volume["hostPath"]["path"]), vm["mountPath"],
                                read_only=bool(vm.get("readOnly")), only_if_present=True))
        elif "emptyDir" in volume:
            d = work / "volumes" / vm["name"]
            d.mkdir(parents=True)
            d.chmod(0o777)
            mounts.append(Mount(d, vm["mountPath"]))
        else:
            raise AssertionError(f"volume type of {vm['name']} not modelled: {sorted(volume)}")
    env = dict(image.env)
    for e in container.get("env", ()):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            assert e["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}, e
            env[e["name"]] = node.name
    sc = container["securityContext"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    return Container(rootfs=rootfs, argv=pod_argv(container, image), uid=sc["runAsUser"],
                     gid=sc.get("runAsGroup", sc["runAsUser"]), env=env, workdir=image.workdir, mounts=mounts,
                     read_only_root=bool(sc.get("readOnlyRootFilesystem")),
                     capabilities=tuple(sc["capabilities"].get("add", ())),
                     enter_pid_namespace_of=node.pid)


def on_the_node(node: FakeNode) -> NodeFacts:
    """The same collector run directly on the node (development venv, --root /)."""
    out = subprocess.run(["nsenter", f"--target={node.pid}", "--pid", "--mount", "--uts", "--",
                          sys.executable, "-m", "kaudit", "node-facts", "--root", "/", "--node-name", node.name],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    return NodeFacts.from_json(json.loads(out.stdout))


def test_node_facts_in_the_image_as_the_daemonset_runs_it(image, rootfs, tmp_path, node):
    container = collector_container(image, rootfs, tmp_path, node)
    assert container.argv == ["kaudit", "node-facts", "--root", "/host"]
    proc = container.run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    facts = NodeFacts.from_json(json.loads(proc.stdout))
    assert facts.name == node.name and not facts.unreachable and not facts.errors, facts.errors
    # The node's processes, through hostPID, with their exact argv.
    argvs = [list(p.argv) for p in facts.processes]
    assert KUBELET in argvs and APISERVER in argvs
    # Host paths, not /host paths; root-only files read as the collector's root.
    key = facts.files["/etc/kubernetes/pki/ca.key"]
    assert (key.exists, key.mode, key.uid) == (True, 0o600, 0)
    assert "readOnlyPort: 10255" in facts.contents["/var/lib/kubelet/config.yaml"]
    assert not any(p.startswith("/host") for p in facts.files)
    assert "PRIVATE KEY" not in proc.stdout

    # What the image sees through the DaemonSet's mounts is what the node shows.
    local = on_the_node(node)
    assert sorted(map(list, (p.argv for p in local.processes))) == sorted(argvs)
    mounted = [m.target.removeprefix("/host") for m in container.mounts if m.target.startswith("/host/")]
    for path, info in local.files.items():
        if any(path == m or path.startswith(m + "/") for m in mounted):
            seen = facts.files.get(path)
            assert seen is not None, path
            assert (seen.exists, seen.type, seen.mode, seen.uid, seen.gid) == \
                (info.exists, info.type, info.mode, info.uid, info.gid), path
    for path, text in local.contents.items():
        if any(path.startswith(m + "/") for m in mounted):
            assert facts.contents.get(path) == text, path
