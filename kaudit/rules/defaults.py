"""Kubernetes' own defaults, per component and (where one changed) per minor version.

A flag that is absent is not "safe": it has the value Kubernetes gives it.
The values below are the upstream defaults of the component binaries (not
of kubeadm or any installer); sources: the `--help` of each component and
the component-config API defaults (k8s.io/kubelet/config/v1beta1,
k8s.io/kube-proxy/config/v1alpha1).

An entry is a value, or a tuple of (minimum minor version, value) pairs in
ascending order: the last pair whose minimum is <= the cluster's minor
applies. When the cluster version is unknown the newest value applies.
"""
from __future__ import annotations

from typing import Union

Versioned = tuple[tuple[int, str], ...]
DefaultValue = Union[str, Versioned, None]

# Flags registered as booleans: `--flag` alone means true, and `--flag value`
# only consumes the next argument when it is literally true/false.
BOOLEAN_FLAGS = frozenset({
    "anonymous-auth", "profiling", "service-account-lookup", "use-service-account-credentials",
    "client-cert-auth", "auto-tls", "peer-client-cert-auth", "peer-auto-tls",
    "make-iptables-util-chains", "rotate-certificates", "rotate-server-certificates",
    "service-account-extend-token-expiration", "seccomp-default", "protect-kernel-defaults",
    "enable-bootstrap-token-auth", "allow-privileged", "enable-debugging-handlers",
    "authentication-token-webhook", "enable-server", "enable-v2", "strict-reconfig-check",
    "contention-profiling", "enable-aggregator-routing", "fail-swap-on", "logtostderr",
})

# Flags of type stringSlice: repeating them appends (pflag semantics), while
# any other repeated flag keeps its last value.
LIST_FLAGS = frozenset({
    "enable-admission-plugins", "disable-admission-plugins", "authorization-mode",
    "tls-cipher-suites", "admission-control", "api-audiences", "service-account-issuer",
    "service-account-key-file", "feature-gates",
})

COMPONENT_FLAG_DEFAULTS: dict[str, dict[str, DefaultValue]] = {
    "kube-apiserver": {
        "anonymous-auth": "true",
        "profiling": "true",
        "authorization-mode": "AlwaysAllow",
        "enable-admission-plugins": "",
        "disable-admission-plugins": "",
        "service-account-lookup": "true",
        "service-account-extend-token-expiration": ((19, "true"),),
        "audit-log-maxage": "0",
        "audit-log-maxbackup": "0",
        "audit-log-maxsize": "0",
        "request-timeout": "1m0s",
        "enable-bootstrap-token-auth": "false",
        "secure-port": "6443",
        "tls-cipher-suites": None,     # Go's default suite list
        "token-auth-file": None,
        "kubelet-certificate-authority": None,
        "encryption-provider-config": None,
        "audit-log-path": None,
        "audit-policy-file": None,
    },
    "kube-controller-manager": {
        "profiling": "true",
        "use-service-account-credentials": "false",
        "bind-address": "0.0.0.0",
        "terminated-pod-gc-threshold": "12500",
        "feature-gates": "",
    },
    "kube-scheduler": {
        "profiling": "true",
        "bind-address": "0.0.0.0",
    },
    "etcd": {
        "client-cert-auth": "false",
        "auto-tls": "false",
        "peer-client-cert-auth": "false",
        "peer-auto-tls": "false",
        # etcd's own default is "${name}.etcd" relative to its working
        # directory; packaged etcd runs from /var/lib/etcd.
        "data-dir": "/var/lib/etcd/default.etcd",
    },
    # kubelet flag defaults: these apply only when the kubelet runs WITHOUT a
    # --config file. With a config file, the KubeletConfiguration defaults
    # below apply instead (and they are safer: anonymous auth off, Webhook
    # authorization, read-only port 0).
    "kubelet": {
        "anonymous-auth": "true",
        "authentication-token-webhook": "false",
        "authorization-mode": "AlwaysAllow",
        "client-ca-file": None,
        "read-only-port": "10255",
        "streaming-connection-idle-timeout": "4h0m0s",
        "make-iptables-util-chains": "true",
        "event-qps": "50",
        "rotate-certificates": "false",
        "pod-max-pids": "-1",
        "seccomp-default": "false",
        "tls-cert-file": None,
        "tls-private-key-file": None,
        "tls-cipher-suites": None,
        "hostname-override": None,
        "kubeconfig": "",
        "feature-gates": "",
    },
    "kube-proxy": {
        "metrics-bind-address": "127.0.0.1:10249",
    },
}

# KubeletConfiguration (kubelet.config.k8s.io/v1beta1) defaults, by field path.
# Source: SetDefaults_KubeletConfiguration, pkg/kubelet/apis/config/v1beta1/defaults.go.
KUBELET_CONFIG_DEFAULTS: dict[str, DefaultValue] = {
    "authentication.anonymous.enabled": "false",
    "authentication.webhook.enabled": "true",
    "authentication.x509.clientCAFile": None,
    "authorization.mode": "Webhook",
    "authentication.webhook.cacheTTL": "2m0s",
    "authorization.webhook.cacheAuthorizedTTL": "5m0s",
    "authorization.webhook.cacheUnauthorizedTTL": "30s",
    "address": "0.0.0.0",
    "port": "10250",
    "healthzBindAddress": "127.0.0.1",
    "syncFrequency": "1m0s",
    "fileCheckFrequency": "20s",
    "httpCheckFrequency": "20s",
    "nodeStatusUpdateFrequency": "10s",
    "cgroupDriver": "cgroupfs",
    "maxPods": "110",
    "eventBurst": "100",
    "registryBurst": "10",
    "readOnlyPort": "0",
    "streamingConnectionIdleTimeout": "4h0m0s",
    "makeIPTablesUtilChains": "true",
    "eventRecordQPS": "50",
    "rotateCertificates": "false",
    "serverTLSBootstrap": "false",
    "podPidsLimit": "-1",
    "seccompDefault": "false",
    "tlsCertFile": None,
    "tlsPrivateKeyFile": None,
    "tlsCipherSuites": None,
    "staticPodPath": None,
}

# Fields SetDefaults_KubeletConfiguration (pkg/kubelet/apis/config/v1beta1/
# defaults.go) defaults when the config file gives their zero value ("", 0,
# 0s), not only when absent: `if obj.X == zeroDuration` / `== ""` / `== 0`.
# Pointer fields (anonymous.enabled, eventRecordQPS, makeIPTablesUtilChains,
# seccompDefault, ...) are defaulted only when absent: their zero stays.
KUBELET_CONFIG_ZERO_DEFAULTED = frozenset({
    "streamingConnectionIdleTimeout", "authorization.mode", "authentication.webhook.cacheTTL",
    "authorization.webhook.cacheAuthorizedTTL", "authorization.webhook.cacheUnauthorizedTTL",
    "address", "port", "healthzBindAddress", "syncFrequency", "fileCheckFrequency", "httpCheckFrequency",
    "nodeStatusUpdateFrequency", "cgroupDriver", "maxPods", "eventBurst", "registryBurst",
})

# KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) defaults.
KUBE_PROXY_CONFIG_DEFAULTS: dict[str, DefaultValue] = {
    "metricsBindAddress": "127.0.0.1:10249",
    "clientConnection.kubeconfig": None,
}

# Feature gates whose default matters to a check: gate -> default.
FEATURE_GATE_DEFAULTS: dict[str, DefaultValue] = {
    # Beta and on by default since 1.12.
    "RotateKubeletServerCertificate": ((0, "false"), (12, "true")),
}

# Admission plugins the API server enables when --enable-admission-plugins
# does not mention them (plugin -> first minor version it was default-on).
DEFAULT_ADMISSION_PLUGINS: dict[str, int] = {
    "NamespaceLifecycle": 0, "LimitRanger": 0, "ServiceAccount": 0,
    "TaintNodesByCondition": 17, "Priority": 11, "DefaultTolerationSeconds": 0,
    "DefaultStorageClass": 0, "StorageObjectInUseProtection": 11,
    "PersistentVolumeClaimResize": 15, "RuntimeClass": 20, "CertificateApproval": 18,
    "CertificateSigning": 18, "CertificateSubjectRestriction": 18, "DefaultIngressClass": 18,
    "MutatingAdmissionWebhook": 0, "ValidatingAdmissionWebhook": 0, "ResourceQuota": 0,
    "PodSecurity": 23, "ValidatingAdmissionPolicy": 30, "ClusterTrustBundleAttest": 27,
}


def resolve(value: DefaultValue, minor: int | None) -> str | None:
    """A default for the given Kubernetes minor (newest when unknown)."""
    if value is None or isinstance(value, str):
        return value
    chosen: str | None = None
    for min_minor, v in value:
        if minor is None or minor >= min_minor:
            chosen = v
    return chosen


def flag_default(component: str, flag: str, minor: int | None) -> tuple[bool, str | None]:
    """(known, value): known is False when kaudit has no default for the flag."""
    table = COMPONENT_FLAG_DEFAULTS.get(component, {})
    if flag not in table:
        return False, None
    return True, resolve(table[flag], minor)


def default_admission_plugins(minor: int | None) -> set[str]:
    return {p for p, since in DEFAULT_ADMISSION_PLUGINS.items() if minor is None or minor >= since}
