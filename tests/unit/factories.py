"""Small builders for facts in tests of sections 1-4 (pods, node facts, files)."""
from __future__ import annotations

import copy
from typing import Any, Iterable

from kaudit.collect.trim import to_kobject
from kaudit.demo import build as demo
from kaudit.model import ClusterFacts, ClusterIdentity, Facts, NodeFacts

PKI = "/etc/kubernetes/pki"

# A control plane that satisfies every flag recommendation of sections 1.2-1.4 and 2.
HARDENED_APISERVER = [a for a in demo.APISERVER_ARGS if not a.startswith("--enable-admission-plugins")] + [
    "--profiling=false",
    "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs",
]
HARDENED = {
    "kube-apiserver": HARDENED_APISERVER,
    "kube-controller-manager": list(demo.CONTROLLER_MANAGER_ARGS),
    "kube-scheduler": list(demo.SCHEDULER_ARGS),
    "etcd": list(demo.ETCD_ARGS),
}


def with_flags(argv: list[str], **changes: str | None) -> list[str]:
    """argv with flags replaced (value) or removed (None). Names use _ for -."""
    out = list(argv)
    for key, value in changes.items():
        name = "--" + key.replace("_", "-")
        out = [a for a in out if a != name and not a.startswith(name + "=")]
        if value is not None:
            out.append(f"{name}={value}")
    return out


def static_pod(component: str, argv: list[str], node: str = "cp-1", *, use_args: bool = False) -> dict:
    pod = demo.static_pod(component, argv, node)
    if use_args:   # k3s/RKE2 style: flags in args, no command
        c = pod["spec"]["containers"][0]
        c["args"] = argv[1:]
        del c["command"]
    return pod


def cluster(*raw: dict, version: str = "v1.30.4", managed: bool = False) -> ClusterFacts:
    cf = ClusterFacts(identity=ClusterIdentity(version=version, managed_control_plane=managed), source="manifests")
    for r in raw:
        cf.add(to_kobject(r, origin="test"))
    return cf


def control_plane_pods(**overrides: list[str]) -> list[dict]:
    argvs = {**HARDENED, **overrides}
    return [static_pod(c, argv) for c, argv in argvs.items()]


def node_facts(name: str = "cp-1", **kw: Any) -> NodeFacts:
    """The demo's node facts for `name`, hardened: etcd data dir owned by etcd,
    a mode-600 kubelet unit."""
    data = demo.node_facts(name)
    files = data["files"]
    if "/var/lib/etcd" in files:
        files["/var/lib/etcd"].update(user="etcd", group="etcd", uid=998, gid=998)
    files["/lib/systemd/system/kubelet.service"]["mode"] = "0600"
    data["files"]["/var/lib/kubelet/config.yaml"]["mode"] = "0600"
    data["contents"]["/var/lib/kubelet/config.yaml"] = demo.kubelet_config(anonymous=False)
    for proc in data["processes"]:
        if proc["argv"][0] == "kube-apiserver":
            proc["argv"] = list(HARDENED_APISERVER)
    data.update(kw)
    return NodeFacts.from_json(data)


def facts(cluster_facts: ClusterFacts | None = None, nodes: Iterable[NodeFacts] = ()) -> Facts:
    nodes = list(nodes)
    return Facts(cluster=cluster_facts or ClusterFacts(), nodes=nodes, node_access="saved" if nodes else "none")


def clone(nf: NodeFacts) -> NodeFacts:
    return copy.deepcopy(nf)


def demo_objects(*kinds: str) -> list[dict]:
    """The demo cluster's kube-system objects of the given kinds, in order."""
    return [o for o in demo.cluster_manifests() if o["kind"] in kinds]
