"""Which Kubernetes component a process or a static pod is.

One place decides it, for the node collector's output, the static pods of
kube-system and the rules alike.
"""
from __future__ import annotations

import posixpath
from typing import Mapping, Sequence

APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
ETCD = "etcd"
KUBELET = "kubelet"
PROXY = "kube-proxy"

COMPONENTS = (APISERVER, CONTROLLER_MANAGER, SCHEDULER, ETCD, KUBELET, PROXY)
CONTROL_PLANE = (APISERVER, CONTROLLER_MANAGER, SCHEDULER, ETCD)

# All-in-one distributions: one binary runs several components in-process.
K3S_SERVER = "k3s-server"
K3S_AGENT = "k3s-agent"
RKE2_SERVER = "rke2-server"
RKE2_AGENT = "rke2-agent"
ALL_IN_ONE = (K3S_SERVER, K3S_AGENT, RKE2_SERVER, RKE2_AGENT)

# What an all-in-one process embeds (RKE2 runs its control plane as static
# pods, so the rke2 process itself embeds only what is listed here).
EMBEDDED: Mapping[str, tuple[str, ...]] = {
    K3S_SERVER: (APISERVER, CONTROLLER_MANAGER, SCHEDULER, KUBELET, PROXY),
    K3S_AGENT: (KUBELET, PROXY),
    RKE2_SERVER: (),
    RKE2_AGENT: (),
}


def identify_component(argv: Sequence[str]) -> str | None:
    """The component a command line runs, or None.

    Looks at argv[0]'s basename ("/usr/local/bin/kube-apiserver"), the
    hyperkube form ("hyperkube kube-apiserver ...") and the k3s/rke2
    subcommand ("k3s server", "rke2 agent").
    """
    if not argv:
        return None
    exe = posixpath.basename(argv[0])
    if exe in COMPONENTS:
        return exe
    if exe == "hyperkube" and len(argv) > 1:
        sub = argv[1].removeprefix("kube-")
        for comp in COMPONENTS:
            if comp.removeprefix("kube-") == sub:
                return comp
        return None
    if exe in ("k3s", "rke2"):
        # k3s renames its process title to "k3s server"; argv[1] may be missing
        # when the title carries both words in argv[0].
        sub = argv[1] if len(argv) > 1 else ""
        if sub in ("server", "agent"):
            return f"{exe}-{sub}"
        return None
    if exe in ("k3s server", "k3s agent", "rke2 server", "rke2 agent"):
        return exe.replace(" ", "-")
    return None


def component_of_static_pod(name: str, labels: Mapping[str, str]) -> str | None:
    """The control-plane component a kube-system pod runs: the `component`
    label (kubeadm, RKE2) or the name prefix ("kube-apiserver-cp-1")."""
    label = labels.get("component") or labels.get("k8s-app") or ""
    if label in COMPONENTS:
        return label
    for comp in COMPONENTS:
        if name == comp or name.startswith(comp + "-"):
            return comp
    return None
