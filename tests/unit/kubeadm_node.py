"""A stock kubeadm worker, literally as kubeadm and its packages write it.

Sources (cited per file below):
- /var/lib/kubelet/config.yaml: what `kubeadm init`/`kubeadm join` v1.30 write
  (cmd/kubeadm/app/phases/kubelet/config.go WriteConfigToDisk, the
  KubeletConfiguration of cmd/kubeadm/app/componentconfigs/kubelet.go
  marshalled with its zero durations as "0s").
- 10-kubeadm.conf and kubelet.service: the pkgs.k8s.io deb/rpm packages
  (kubernetes/release cmd/krel/templates/latest/kubeadm/10-kubeadm.conf and
  .../kubelet/kubelet.service), installed 0644 root:root under
  /usr/lib/systemd/system.
- The kubelet's argv: ExecStart of 10-kubeadm.conf with
  KUBELET_KUBEADM_ARGS from /var/lib/kubelet/kubeadm-flags.env (v1.30).
- The kube-proxy DaemonSet and ConfigMap: cmd/kubeadm/app/phases/addons/proxy/
  manifests.go (KubeProxyDaemonSet19, KubeProxyConfigMap19), config.conf being
  kubeadm's v1alpha1 KubeProxyConfiguration marshalled without kube-proxy's
  own defaulting (so `metricsBindAddress: ""`).
"""
from __future__ import annotations

from kaudit.collect.trim import to_kobject
from kaudit.model import ClusterFacts, ClusterIdentity, Facts, FileInfo, NodeFacts, ProcessInfo

KUBEADM_KUBELET_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
cpuManagerReconcilePeriod: 0s
evictionPressureTransitionPeriod: 0s
fileCheckFrequency: 0s
healthzBindAddress: 127.0.0.1
healthzPort: 10248
httpCheckFrequency: 0s
imageMaximumGCAge: 0s
imageMinimumGCAge: 0s
kind: KubeletConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
memorySwap: {}
nodeStatusReportFrequency: 0s
nodeStatusUpdateFrequency: 0s
rotateCertificates: true
runtimeRequestTimeout: 0s
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
volumeStatsAggPeriod: 0s
"""

KUBEADM_DROPIN = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

KUBEADM_KUBELET_ARGV = (
    "/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
    "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
    "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
    "--pod-infra-container-image=registry.k8s.io/pause:3.9",
)
# kube-proxy as the DaemonSet runs it; seen from the host's /proc.
KUBEADM_PROXY_ARGV = ("/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                      "--hostname-override=worker-1")

KUBEADM_PROXY_CONFIG = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ""
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
"""


def _f(path: str, mode: int, kind: str = "file") -> FileInfo:
    return FileInfo(path=path, exists=True, type=kind, mode=mode, uid=0, gid=0, user="root", group="root")


def _missing(path: str) -> FileInfo:
    return FileInfo(path=path, exists=False)


def worker(name: str = "worker-1", kubelet_argv: tuple[str, ...] = KUBEADM_KUBELET_ARGV) -> NodeFacts:
    files = [
        _f("/var/lib/kubelet/config.yaml", 0o644),     # kubeadm writes it 0644
        _f("/etc/kubernetes/kubelet.conf", 0o600),
        _f("/etc/kubernetes/pki", 0o755, "dir"),
        _f("/etc/kubernetes/pki/ca.crt", 0o644),
        _f("/usr/lib/systemd/system/kubelet.service", 0o644),
        _f("/usr/lib/systemd/system/kubelet.service.d", 0o755, "dir"),
        _f("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", 0o644),
        _missing("/etc/systemd/system/kubelet.service.d"),
        _missing("/run/systemd/system/kubelet.service.d"),
        _missing("/lib/systemd/system/kubelet.service.d"),
        _missing("/var/lib/kube-proxy/config.conf"),        # inside the pod, from the ConfigMap
        _missing("/var/lib/kube-proxy/kubeconfig.conf"),
        _missing("/etc/kubernetes/proxy.conf"),
    ]
    return NodeFacts(
        name=name, roles=("worker",), hostname=name, transport="saved",
        processes=(ProcessInfo(1021, kubelet_argv), ProcessInfo(1331, KUBEADM_PROXY_ARGV)),
        files={f.path: f for f in files},
        contents={"/var/lib/kubelet/config.yaml": KUBEADM_KUBELET_CONFIG,
                  "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROPIN},
    )


def proxy_daemonset() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": {
            "metadata": {"labels": {"k8s-app": "kube-proxy"}},
            "spec": {"priorityClassName": "system-node-critical", "hostNetwork": True,
                     "serviceAccountName": "kube-proxy",
                     "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.4",
                                     "command": ["/usr/local/bin/kube-proxy",
                                                 "--config=/var/lib/kube-proxy/config.conf",
                                                 "--hostname-override=$(NODE_NAME)"],
                                     "volumeMounts": [{"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                                                      {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                                                      {"mountPath": "/lib/modules", "name": "lib-modules",
                                                       "readOnly": True}]}],
                     "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                                 {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock",
                                                                       "type": "FileOrCreate"}},
                                 {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}]}}},
    }


def proxy_configmap(config: str = KUBEADM_PROXY_CONFIG) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
            "data": {"config.conf": config, "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"}}


def node_object(name: str = "worker-1") -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def cluster(*raw: dict, version: str = "v1.30.4") -> ClusterFacts:
    cf = ClusterFacts(identity=ClusterIdentity(version=version, platform="kubeadm"), source="api")
    for r in raw:
        cf.add(to_kobject(r, origin="test"))
    return cf


def facts(nodes: list[NodeFacts] | None = None, *raw: dict, version: str = "v1.30.4") -> Facts:
    nodes = list(nodes or [])
    return Facts(cluster=cluster(*raw, version=version), nodes=nodes, node_access="ssh" if nodes else "none")
