"""k3s: the command lines of the components a `k3s server`/`k3s agent` process
embeds, built as k3s builds them.

k3s runs the API server, controller manager, scheduler, kubelet and kube-proxy
in-process; /proc shows only `k3s server`. Each component's arguments are k3s's
own defaults (k3s-io/k3s pkg/daemons/control/server.go apiServer,
controllerManager, scheduler; pkg/daemons/agent/agent_linux.go kubeletArgs,
kubeProxyArgs) with the operator's `kube-*-arg` values applied by
pkg/daemons/config GetArgs: a key the operator gives replaces k3s's value for
that key (it is not appended to it). The operator's values come from
/etc/rancher/k3s/config.yaml first, then the command line, so for a repeated
key the command line's is the last one the component sees.

Only the arguments sections 1-4 judge are listed; paths are those of the
default data dir /var/lib/rancher/k3s (k3s `--data-dir`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

from kaudit import components as comp

DATA_DIR = "/var/lib/rancher/k3s"
_TLS = f"{DATA_DIR}/server/tls"
_CRED = f"{DATA_DIR}/server/cred"
_AGENT = f"{DATA_DIR}/agent"

BUILTIN_ARGS: Mapping[str, Mapping[str, str]] = {
    comp.APISERVER: {
        "allow-privileged": "true",
        "anonymous-auth": "false",
        "authorization-mode": "Node,RBAC",
        "enable-admission-plugins": "NodeRestriction",
        "profiling": "false",
        "client-ca-file": f"{_TLS}/client-ca.crt",
        "tls-cert-file": f"{_TLS}/serving-kube-apiserver.crt",
        "tls-private-key-file": f"{_TLS}/serving-kube-apiserver.key",
        "kubelet-certificate-authority": f"{_TLS}/server-ca.crt",
        "kubelet-client-certificate": f"{_TLS}/client-kube-apiserver.crt",
        "kubelet-client-key": f"{_TLS}/client-kube-apiserver.key",
        "service-account-key-file": f"{_TLS}/service.key",
        "service-account-signing-key-file": f"{_TLS}/service.key",
        "requestheader-client-ca-file": f"{_TLS}/request-header-ca.crt",
        "proxy-client-cert-file": f"{_TLS}/client-auth-proxy.crt",
        "proxy-client-key-file": f"{_TLS}/client-auth-proxy.key",
        "storage-backend": "etcd3",
    },
    comp.CONTROLLER_MANAGER: {
        "kubeconfig": f"{_CRED}/controller.kubeconfig",
        "authentication-kubeconfig": f"{_CRED}/controller.kubeconfig",
        "authorization-kubeconfig": f"{_CRED}/controller.kubeconfig",
        "service-account-private-key-file": f"{_TLS}/service.key",
        "root-ca-file": f"{_TLS}/server-ca.crt",
        "profiling": "false",
        "bind-address": "127.0.0.1",
        "use-service-account-credentials": "true",
    },
    comp.SCHEDULER: {
        "kubeconfig": f"{_CRED}/scheduler.kubeconfig",
        "authentication-kubeconfig": f"{_CRED}/scheduler.kubeconfig",
        "authorization-kubeconfig": f"{_CRED}/scheduler.kubeconfig",
        "bind-address": "127.0.0.1",
        "profiling": "false",
    },
    comp.KUBELET: {
        "healthz-bind-address": "127.0.0.1",
        "read-only-port": "0",
        "kubeconfig": f"{_AGENT}/kubelet.kubeconfig",
        "authentication-token-webhook": "true",
        "anonymous-auth": "false",
        "authorization-mode": "Webhook",
        "client-ca-file": f"{_AGENT}/client-ca.crt",
        "tls-cert-file": f"{_AGENT}/serving-kubelet.crt",
        "tls-private-key-file": f"{_AGENT}/serving-kubelet.key",
        "pod-manifest-path": f"{_AGENT}/pod-manifests",
        "cni-conf-dir": f"{_AGENT}/etc/cni/net.d",
    },
    comp.PROXY: {
        "proxy-mode": "iptables",
        "healthz-bind-address": "127.0.0.1",
        "kubeconfig": f"{_AGENT}/kubeproxy.kubeconfig",
    },
}

# k3s's own options that add component arguments (server.go, agent_linux.go).
_SWITCHES: Mapping[str, tuple[str, str, str]] = {
    "secrets-encryption": (comp.APISERVER, "encryption-provider-config", f"{_CRED}/encryption-config.json"),
    "protect-kernel-defaults": (comp.KUBELET, "protect-kernel-defaults", "true"),
}


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def embedded_args(component: str, user_args: Sequence[str],
                  options: Mapping[str, object]) -> tuple[tuple[str, ...], frozenset[str]]:
    """argv as k3s hands it to `component`, and the flags in it that are k3s's
    own (no operator value replaced them): k3s's built-in arguments, then the
    operator's `name=value` values (config file, then command line), each
    operator key dropping k3s's value for it. `options` are k3s's own settings
    (config file and command line merged, command line last)."""
    builtin = dict(BUILTIN_ARGS.get(component, {}))
    for option, (target, flag, value) in _SWITCHES.items():
        if target == component and _truthy(options.get(option)):
            builtin[flag] = value
    user_keys = {a.split("=", 1)[0].removesuffix("+") for a in user_args}
    kept = {k: v for k, v in builtin.items() if k not in user_keys}
    argv = [component] + [f"--{k}={v}" for k, v in kept.items()] + [f"--{a}" for a in user_args]
    return tuple(argv), frozenset(kept)
