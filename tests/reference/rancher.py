"""k3s and RKE2 server nodes, laid out as those distributions lay them out.

k3s (k3s-io/k3s): one `k3s server` process embeds the API server, controller
manager, scheduler, kubelet and kube-proxy; their command lines are built in
memory (pkg/daemons/control/server.go apiServer/controllerManager/scheduler,
pkg/daemons/agent) from k3s's own defaults plus the `kube-*-arg` lists of
/etc/rancher/k3s/config.yaml or the command line (pkg/daemons/config
GetArgsList: a user value replaces k3s's). /proc shows none of it. State under
/var/lib/rancher/k3s/server (tls/, cred/, db/); kine over SQLite by default.

RKE2 (rancher/rke2): the control plane and kube-proxy run as static pods from
/var/lib/rancher/rke2/agent/pod-manifests (pkg/staticpod: written 0600 under
`profile: cis`, 0644 without; the flags in `args` after
`command: [<component>]`); etcd reads
/var/lib/rancher/rke2/server/db/etcd/config (--config-file, written by k3s's
pkg/etcd); the kubelet is a child process of `rke2 server` with its flags on
the command line. `profile: cis` in /etc/rancher/rke2/config.yaml applies
RKE2's CIS hardening (docs.rke2.io/security/hardening_guide): etcd runs as
and owns its data dir as the etcd user, PSA "restricted" via rke2-pss.yaml.
RKE2 always enables secrets encryption (rke2.go sets secrets-encryption);
`profile: cis` (or --audit-policy-file) turns on audit logging with
/etc/rancher/rke2/audit-policy.yaml, which RKE2 writes, when absent, as a
policy that logs nothing (one rule, level None).

These layouts are of the releases before k3s/RKE2 moved the kubelet's
settings into a kubelet.conf.d drop-in (k3s v1.32, k3s-io/k3s#2116): the
kubelet's flags are on its command line.

Sources, per fact below:
- RKE2: rancher/rke2 tag v1.28.15+rke2r1, commit
  96bb2a62fad8cb938a1761286b1d896623ac7014: pkg/podexecutor/staticpod.go
  (the arguments RKE2 adds per static pod, the kubelet's extra arguments, the
  default audit policy), pkg/rke2/rke2.go (secrets-encryption always on,
  profile: cis), pkg/rke2/psa.go (rke2-pss.yaml, 0600), pkg/staticpod/
  staticpod.go (manifests 0600 under profile: cis, else 0644),
  pkg/cli/defaults/defaults.go, pkg/logging/logging.go (klog flags are taken
  off the kubelet's command line). Its go.mod pins k3s
  v1.28.15-0.20241016053552-63bfb1936862 (k3s-io/k3s release-1.28).
- k3s: read in k3s-io/k3s (pkg/daemons/control/server.go,
  pkg/cli/server/server.go, pkg/util/args.go GetArgs, pkg/configfilearg/
  parser.go, pkg/cluster/managed.go assignManagedDriver); the stored copies
  could not be pinned to 63bfb1936862 itself, so only what those files share
  with the release-1.28 command lines RKE2's CIS self-assessment guides show
  (rancher/rke2-docs docs/security/cis_self_assessment*.md) is used.
"""
from __future__ import annotations

import yaml

from kaudit.collect.trim import to_kobject
from kaudit.model import ClusterFacts, ClusterIdentity, Facts, FileInfo, NodeFacts, ProcessInfo

K3S_VERSION = "v1.28.15+k3s1"
RKE2_VERSION = "v1.28.15+rke2r1"
IP = "10.0.0.20"


def _f(path: str, mode: int, kind: str = "file", owner: str = "root") -> FileInfo:
    ids = {"root": 0, "etcd": 1001}
    return FileInfo(path=path, exists=True, type=kind, mode=mode, uid=ids[owner], gid=ids[owner],
                    user=owner, group=owner)


# Paths the node collector always stats (collect.sh defaults()); on a k3s or
# RKE2 node they do not exist, and the collector records them as MISSING.
COLLECTOR_DEFAULT_PATHS = (
    "/etc/kubernetes/manifests", "/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/scheduler.conf", "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/bootstrap-kubelet.conf", "/etc/kubernetes", "/etc/kubernetes/pki",
    "/var/lib/kubelet/config.yaml", "/var/lib/kubelet/kubeconfig", "/var/lib/kubelet/pki", "/var/lib/etcd",
    "/var/lib/cni/networks", "/etc/kubernetes/proxy.conf", "/var/lib/kube-proxy/kubeconfig.conf",
    "/var/lib/kube-proxy/kubeconfig", "/var/lib/kube-proxy/config.conf",
    "/etc/systemd/system/kubelet.service", "/lib/systemd/system/kubelet.service",
    "/usr/lib/systemd/system/kubelet.service", "/etc/systemd/system/kubelet.service.d",
    "/run/systemd/system/kubelet.service.d", "/usr/lib/systemd/system/kubelet.service.d",
    "/lib/systemd/system/kubelet.service.d",
)


def _missing_defaults(present: dict[str, FileInfo]) -> dict[str, FileInfo]:
    return {p: FileInfo(p, exists=False) for p in COLLECTOR_DEFAULT_PATHS if p not in present}


def _node_object(name: str, version: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"node-{name}",
                         "labels": {"kubernetes.io/hostname": name, "node-role.kubernetes.io/control-plane": "true",
                                    "node-role.kubernetes.io/master": "true"}},
            "status": {"nodeInfo": {"kubeletVersion": version}}}


def _cluster(version: str, objects: list[dict]) -> ClusterFacts:
    cf = ClusterFacts(identity=ClusterIdentity(version=version), source="api")
    for o in objects:
        cf.add(to_kobject(o, origin="reference"))
    return cf


# ---------------------------------------------------------------------------
# k3s
# ---------------------------------------------------------------------------

K3S = "/var/lib/rancher/k3s"
K3S_NODE = "k3s-server-1"

# The k3s CIS hardening guide's config (docs.k3s.io/security/hardening-guide),
# the file an operator writes: k3s reads it at start (pkg/configfilearg).
K3S_CONFIG = """\
protect-kernel-defaults: true
secrets-encryption: true
kube-apiserver-arg:
  - "admission-control-config-file=/var/lib/rancher/k3s/server/psa.yaml"
  - "audit-log-path=/var/lib/rancher/k3s/server/logs/audit.log"
  - "audit-policy-file=/var/lib/rancher/k3s/server/audit.yaml"
  - "audit-log-maxage=30"
  - "audit-log-maxbackup=10"
  - "audit-log-maxsize=100"
kube-controller-manager-arg:
  - "terminated-pod-gc-threshold=10"
kubelet-arg:
  - "streaming-connection-idle-timeout=5m"
"""


# The hardening guide's audit policy (docs.k3s.io/security/hardening-guide#api-server-audit-configuration).
K3S_AUDIT_POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"


def k3s_node(config: str = K3S_CONFIG) -> NodeFacts:
    files = [
        _f("/etc/rancher/k3s", 0o755, "dir"),
        _f("/etc/rancher/k3s/config.yaml", 0o600),
        _f("/etc/rancher/k3s/k3s.yaml", 0o600),       # --write-kubeconfig-mode default 0600
        _f(f"{K3S}/server/tls", 0o700, "dir"),         # server.go prepare(): MkdirAll(..., 0700)
        _f(f"{K3S}/server/cred", 0o700, "dir"),
        _f(f"{K3S}/server/db", 0o700, "dir"),
        _f(f"{K3S}/server/token", 0o600),
        _f(f"{K3S}/agent", 0o755, "dir"),
        _f(f"{K3S}/agent/kubelet.kubeconfig", 0o600),
        _f(f"{K3S}/agent/kubeproxy.kubeconfig", 0o600),
        _f(f"{K3S}/agent/client-ca.crt", 0o644),
        _f(f"{K3S}/agent/serving-kubelet.crt", 0o644),
        _f(f"{K3S}/agent/serving-kubelet.key", 0o600),
        _f(f"{K3S}/agent/etc", 0o755, "dir"),
        _f(f"{K3S}/agent/pod-manifests", 0o755, "dir"),   # agent_linux.go MkdirAll(..., 0755), empty
        # flannel, embedded in k3s, writes its CNI config here (pkg/agent/flannel setup.go, 0644)
        _f(f"{K3S}/agent/etc/cni/net.d", 0o755, "dir"),
        _f(f"{K3S}/agent/etc/cni/net.d/10-flannel.conflist", 0o644),
        _f(f"{K3S}/server/audit.yaml", 0o600),            # hardening guide: written by the operator
        _f(f"{K3S}/server/psa.yaml", 0o600),
        _f("/etc/cni/net.d", 0o755, "dir"),
    ]
    for crt in ("client-ca", "server-ca", "request-header-ca", "serving-kube-apiserver",
                "client-kube-apiserver", "client-admin", "client-auth-proxy"):
        files += [_f(f"{K3S}/server/tls/{crt}.crt", 0o644), _f(f"{K3S}/server/tls/{crt}.key", 0o600)]
    files += [_f(f"{K3S}/server/tls/service.key", 0o600)]
    for kc in ("admin", "controller", "scheduler", "api-server", "supervisor"):
        files.append(_f(f"{K3S}/server/cred/{kc}.kubeconfig", 0o600))
    files.append(_f(f"{K3S}/server/cred/encryption-config.json", 0o600))
    # kine/SQLite, not etcd (pkg/cluster/managed.go assignManagedDriver: no
    # initialized etcd data dir, no cluster-init, no server to join, no
    # datastore-endpoint): kine keeps the cluster in server/db/state.db
    # (created by SQLite with its default 0644 less the umask; not judged).
    files.append(FileInfo(f"{K3S}/server/db/etcd", exists=False))
    files.append(_f(f"{K3S}/server/db/state.db", 0o644))
    # no config.yaml.d drop-in directory (pkg/configfilearg dotDFiles)
    files.append(FileInfo("/etc/rancher/k3s/config.yaml.d", exists=False))
    present = {f.path: f for f in files}
    return NodeFacts(
        name=K3S_NODE, roles=("control-plane",), hostname=K3S_NODE, transport="saved",
        # install.sh's unit: ExecStart=/usr/local/bin/k3s server; no K3S_*
        # variable the collector keeps (datastore, cluster-init, join URL ...)
        processes=(ProcessInfo(1210, ("/usr/local/bin/k3s", "server"), env={}),),
        files={**_missing_defaults(present), **present},
        contents={"/etc/rancher/k3s/config.yaml": config,
                  f"{K3S}/server/audit.yaml": K3S_AUDIT_POLICY,
                  f"{K3S}/server/cred/encryption-config.json":
                      '{"kind":"EncryptionConfiguration","apiVersion":"apiserver.config.k8s.io/v1","resources":'
                      '[{"resources":["secrets"],"providers":[{"aescbc":{"keys":[{"name":"aescbckey",'
                      '"secret":"<redacted by kaudit>"}]}},{"identity":{}}]}]}'},
    )


def k3s() -> Facts:
    # k3s runs no control-plane pods: the API shows only the Node and addons.
    return Facts(cluster=_cluster(K3S_VERSION, [_node_object(K3S_NODE, K3S_VERSION)]),
                 nodes=[k3s_node()], node_access="ssh")


# ---------------------------------------------------------------------------
# RKE2 (profile: cis)
# ---------------------------------------------------------------------------

RKE2 = "/var/lib/rancher/rke2"
RKE2_NODE = "rke2-server-1"
TLS = f"{RKE2}/server/tls"
MANIFESTS = f"{RKE2}/agent/pod-manifests"
RKE2_CONFIG = "profile: cis\n"
RKE2_CIPHERS = ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,"
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")

RKE2_ARGS = {
    "kube-apiserver": [
        "--admission-control-config-file=/etc/rancher/rke2/rke2-pss.yaml", f"--advertise-address={IP}",
        "--allow-privileged=true", "--anonymous-auth=false",
        "--api-audiences=https://kubernetes.default.svc.cluster.local,rke2",
        "--audit-log-maxage=30", "--audit-log-maxbackup=10", "--audit-log-maxsize=100",
        f"--audit-log-path={RKE2}/server/logs/audit.log", "--audit-policy-file=/etc/rancher/rke2/audit-policy.yaml",
        "--authorization-mode=Node,RBAC", "--bind-address=0.0.0.0", f"--cert-dir={TLS}/temporary-certs",
        f"--client-ca-file={TLS}/client-ca.crt",
        f"--egress-selector-config-file={RKE2}/server/etc/egress-selector-config.yaml",
        "--enable-admission-plugins=NodeRestriction", "--enable-aggregator-routing=true",
        "--enable-bootstrap-token-auth=true", f"--encryption-provider-config={RKE2}/server/cred/encryption-config.json",
        f"--etcd-cafile={TLS}/etcd/server-ca.crt", f"--etcd-certfile={TLS}/etcd/client.crt",
        f"--etcd-keyfile={TLS}/etcd/client.key", "--etcd-servers=https://127.0.0.1:2379",
        f"--kubelet-certificate-authority={TLS}/server-ca.crt",
        f"--kubelet-client-certificate={TLS}/client-kube-apiserver.crt",
        f"--kubelet-client-key={TLS}/client-kube-apiserver.key",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname", "--profiling=false",
        f"--proxy-client-cert-file={TLS}/client-auth-proxy.crt", f"--proxy-client-key-file={TLS}/client-auth-proxy.key",
        "--requestheader-allowed-names=system:auth-proxy", f"--requestheader-client-ca-file={TLS}/request-header-ca.crt",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User", "--secure-port=6443",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={TLS}/service.key",
        f"--service-account-signing-key-file={TLS}/service.current.key",
        "--service-cluster-ip-range=10.43.0.0/16", "--service-node-port-range=30000-32767",
        "--storage-backend=etcd3", f"--tls-cert-file={TLS}/serving-kube-apiserver.crt",
        f"--tls-cipher-suites={RKE2_CIPHERS}", f"--tls-private-key-file={TLS}/serving-kube-apiserver.key",
    ],
    # staticpod.go ControllerManager prepends these to k3s's arguments
    "kube-controller-manager": [
        "--flex-volume-plugin-dir=/var/lib/kubelet/volumeplugins", "--terminated-pod-gc-threshold=1000",
        "--permit-port-sharing=true",
        "--allocate-node-cidrs=true", f"--authentication-kubeconfig={RKE2}/server/cred/controller.kubeconfig",
        f"--authorization-kubeconfig={RKE2}/server/cred/controller.kubeconfig", "--bind-address=127.0.0.1",
        f"--cluster-cidr=10.42.0.0/16", f"--cluster-signing-kube-apiserver-client-cert-file={TLS}/client-ca.nochain.crt",
        f"--cluster-signing-kube-apiserver-client-key-file={TLS}/client-ca.key",
        f"--cluster-signing-kubelet-serving-cert-file={TLS}/server-ca.nochain.crt",
        f"--cluster-signing-kubelet-serving-key-file={TLS}/server-ca.key",
        "--configure-cloud-routes=false", "--controllers=*,tokencleaner,-service,-route,-cloud-node-lifecycle",
        f"--kubeconfig={RKE2}/server/cred/controller.kubeconfig", "--profiling=false",
        f"--root-ca-file={TLS}/server-ca.crt", "--secure-port=10257",
        f"--service-account-private-key-file={TLS}/service.current.key", "--service-cluster-ip-range=10.43.0.0/16",
        "--use-service-account-credentials=true",
    ],
    "kube-scheduler": [
        "--permit-port-sharing=true",     # staticpod.go Scheduler
        f"--authentication-kubeconfig={RKE2}/server/cred/scheduler.kubeconfig",
        f"--authorization-kubeconfig={RKE2}/server/cred/scheduler.kubeconfig", "--bind-address=127.0.0.1",
        f"--kubeconfig={RKE2}/server/cred/scheduler.kubeconfig", "--profiling=false", "--secure-port=10259",
    ],
    "etcd": [f"--config-file={RKE2}/server/db/etcd/config"],
    "kube-proxy": [
        "--cluster-cidr=10.42.0.0/16", "--conntrack-max-per-core=0", "--conntrack-tcp-timeout-close-wait=0s",
        "--conntrack-tcp-timeout-established=0s", "--healthz-bind-address=127.0.0.1",
        f"--hostname-override={RKE2_NODE}", f"--kubeconfig={RKE2}/agent/kubeproxy.kubeconfig",
        "--proxy-mode=iptables",
    ],
}

# k3s pkg/etcd ETCDConfig, marshalled to the file etcd reads with --config-file.
RKE2_ETCD_CONFIG = f"""\
advertise-client-urls: https://{IP}:2379
client-transport-security:
  cert-file: {TLS}/etcd/server-client.crt
  client-cert-auth: true
  key-file: {TLS}/etcd/server-client.key
  trusted-ca-file: {TLS}/etcd/server-ca.crt
data-dir: {RKE2}/server/db/etcd
election-timeout: 5000
experimental-initial-corrupt-check: true
heartbeat-interval: 500
listen-client-urls: https://127.0.0.1:2379,https://{IP}:2379
listen-metrics-urls: http://127.0.0.1:2381
listen-peer-urls: https://127.0.0.1:2380,https://{IP}:2380
log-outputs:
- stderr
logger: zap
name: {RKE2_NODE}-3f9c1a2b
peer-transport-security:
  cert-file: {TLS}/etcd/peer-server-client.crt
  client-cert-auth: true
  key-file: {TLS}/etcd/peer-server-client.key
  trusted-ca-file: {TLS}/etcd/peer-ca.crt
snapshot-count: 10000
"""

# staticpod.go Kubelet: its three extra arguments first, then k3s's; the klog
# flags RKE2's defaults add (stderrthreshold, log-file, ...) are taken off by
# logging.ExtractFromArgs and never reach the kubelet's command line.
RKE2_KUBELET_ARGV = (
    f"{RKE2}/data/v1.28.15-rke2r1-0a1b2c3d4e5f/bin/kubelet", "--volume-plugin-dir=/var/lib/kubelet/volumeplugins",
    "--file-check-frequency=5s", "--sync-frequency=30s", "--address=0.0.0.0",
    "--anonymous-auth=false", "--authentication-token-webhook=true", "--authorization-mode=Webhook",
    "--cgroup-driver=systemd", f"--client-ca-file={RKE2}/agent/client-ca.crt", "--cloud-provider=external",
    "--cluster-dns=10.43.0.10", "--cluster-domain=cluster.local",
    "--container-runtime-endpoint=unix:///run/k3s/containerd/containerd.sock",
    "--containerd=/run/k3s/containerd/containerd.sock", "--eviction-hard=imagefs.available<5%,nodefs.available<5%",
    "--eviction-minimum-reclaim=imagefs.available=10%,nodefs.available=10%", "--fail-swap-on=false",
    "--healthz-bind-address=127.0.0.1", f"--hostname-override={RKE2_NODE}",
    f"--kubeconfig={RKE2}/agent/kubelet.kubeconfig", f"--node-ip={IP}", "--node-labels=",
    "--pod-infra-container-image=index.docker.io/rancher/mirrored-pause:3.6",
    f"--pod-manifest-path={MANIFESTS}", "--protect-kernel-defaults=true", "--read-only-port=0",
    "--resolv-conf=/etc/resolv.conf", "--serialize-image-pulls=false",
    f"--tls-cert-file={RKE2}/agent/serving-kubelet.crt", f"--tls-private-key-file={RKE2}/agent/serving-kubelet.key",
)


def rke2_static_pod(component: str, node: str | None = None) -> dict:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": component if node is None else f"{component}-{node}", "namespace": "kube-system",
                        "labels": {"component": component, "tier": "control-plane"}},
           "spec": {"hostNetwork": True, "priorityClassName": "system-node-critical",
                    "containers": [{"name": component, "image": f"index.docker.io/rancher/hardened-kubernetes:"
                                    f"{RKE2_VERSION.replace('+', '-')}-build20241022",
                                    "command": [component], "args": RKE2_ARGS[component]}]}}
    if node is not None:
        pod["spec"]["nodeName"] = node
        pod["metadata"]["annotations"] = {"kubernetes.io/config.source": "file",
                                          "kubernetes.io/config.mirror": "9b8e"}
    return pod


def rke2_node() -> NodeFacts:
    files = [
        _f("/etc/rancher/rke2", 0o755, "dir"), _f("/etc/rancher/rke2/config.yaml", 0o600),
        FileInfo("/etc/rancher/rke2/config.yaml.d", exists=False),
        _f("/etc/rancher/rke2/rke2.yaml", 0o600), _f("/etc/rancher/rke2/audit-policy.yaml", 0o600),
        _f("/etc/rancher/rke2/rke2-pss.yaml", 0o600),
        _f(MANIFESTS, 0o700, "dir"),
        _f(TLS, 0o700, "dir"), _f(f"{TLS}/etcd", 0o700, "dir"),
        _f(f"{RKE2}/server/cred", 0o700, "dir"), _f(f"{RKE2}/server/cred/encryption-config.json", 0o600),
        _f(f"{RKE2}/server/db/etcd", 0o700, "dir", owner="etcd"),      # profile: cis
        _f(f"{RKE2}/server/db/etcd/config", 0o600),
        _f(f"{RKE2}/agent/kubelet.kubeconfig", 0o600), _f(f"{RKE2}/agent/kubeproxy.kubeconfig", 0o600),
        _f(f"{RKE2}/agent/client-ca.crt", 0o644),
        _f("/etc/cni/net.d", 0o700, "dir"), _f("/etc/cni/net.d/05-cilium.conflist", 0o600),
    ]
    for kc in ("admin", "controller", "scheduler", "api-server", "supervisor"):
        files.append(_f(f"{RKE2}/server/cred/{kc}.kubeconfig", 0o600))
    for crt in ("client-ca", "server-ca", "request-header-ca", "serving-kube-apiserver", "client-kube-apiserver",
                "client-auth-proxy", "etcd/server-ca", "etcd/peer-ca", "etcd/client", "etcd/server-client",
                "etcd/peer-server-client"):
        files += [_f(f"{TLS}/{crt}.crt", 0o644), _f(f"{TLS}/{crt}.key", 0o600)]
    files += [_f(f"{TLS}/service.key", 0o600), _f(f"{TLS}/service.current.key", 0o600)]
    contents = {"/etc/rancher/rke2/config.yaml": RKE2_CONFIG,
                f"{RKE2}/server/db/etcd/config": RKE2_ETCD_CONFIG,
                f"{RKE2}/server/cred/encryption-config.json":
                    '{"kind":"EncryptionConfiguration","apiVersion":"apiserver.config.k8s.io/v1","resources":'
                    '[{"resources":["secrets"],"providers":[{"aescbc":{"keys":[{"name":"aescbckey",'
                    '"secret":"<redacted by kaudit>"}]}},{"identity":{}}]}]}',
                # RKE2's default policy (staticpod.go writeDefaultPolicyFile, written
                # 0600 when absent under profile: cis): one rule, level None.
                "/etc/rancher/rke2/audit-policy.yaml":
                    "apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata:\n  creationTimestamp: null\n"
                    "rules:\n- level: None\n"}
    procs = [ProcessInfo(900, ("/usr/local/bin/rke2", "server"), env={}), ProcessInfo(950, RKE2_KUBELET_ARGV)]
    pid = 1000
    for comp in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
        path = f"{MANIFESTS}/{comp}.yaml"
        files.append(_f(path, 0o600))
        contents[path] = yaml.safe_dump(rke2_static_pod(comp), sort_keys=False)
        pid += 13
        procs.append(ProcessInfo(pid, (comp, *RKE2_ARGS[comp]), env={} if comp == "etcd" else None))
    present = {f.path: f for f in files}
    return NodeFacts(name=RKE2_NODE, roles=("control-plane", "etcd"), hostname=RKE2_NODE, transport="saved",
                     processes=tuple(procs), files={**_missing_defaults(present), **present}, contents=contents)


def rke2() -> Facts:
    objects = [_node_object(RKE2_NODE, RKE2_VERSION),
               *(rke2_static_pod(c, RKE2_NODE) for c in
                 ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"))]
    return Facts(cluster=_cluster(RKE2_VERSION, objects), nodes=[rke2_node()], node_access="ssh")
