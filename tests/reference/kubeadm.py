"""A stock kubeadm control plane and worker (1.30 and 1.34), and the same
cluster with the CIS remediations applied.

Sources, per file (kubernetes/kubernetes at the release tag, cmd/kubeadm/app):
- Static pod manifests: phases/controlplane/manifests.go (getAPIServerCommand,
  getControllerManagerCommand, getSchedulerCommand) and phases/etcd/local.go
  (getEtcdCommand); the arguments are sorted by name (util/arguments.go
  ArgumentsToCommand). Written 0600 into a 0700 /etc/kubernetes/manifests
  (util/staticpod/utils.go WriteStaticPodToDisk).
- kubeconfig files admin.conf, super-admin.conf (init node, 1.29+),
  controller-manager.conf, scheduler.conf, kubelet.conf: phases/kubeconfig,
  written 0600 by client-go clientcmd.WriteToFile.
- PKI: phases/certs through client-go util/cert WriteCert (0644) and
  util/keyutil WriteKey (0600); sa.pub via WritePublicKey (0644); the
  directories are created 0755 (MkdirAll in WriteCert/WriteKey).
- /var/lib/etcd: phases/etcd/local.go CreateLocalEtcdStaticPodManifestFile
  creates the data dir 0700; kubeadm runs etcd as root, there is no etcd user,
  so it is root:root.
- /var/lib/kubelet/config.yaml: phases/kubelet/config.go writeConfigBytesToDisk,
  0644 (tests/unit/kubeadm_node.py has its contents).
- 10-kubeadm.conf and kubelet.service: the pkgs.k8s.io packages, 0644 root:root
  (tests/unit/kubeadm_node.py). That stock kubeadm fails 4.1.1, 4.1.9 and 1.1.12
  is also what kube-bench reports (kubernetes-sigs/image-builder PR #1497).
- kube-proxy ConfigMap and DaemonSet: phases/addons/proxy (tests/unit/kubeadm_node.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import yaml

from kaudit.model import ClusterFacts, ClusterIdentity, Facts, FileInfo, NodeFacts, ProcessInfo
from kaudit.collect.trim import to_kobject
from tests.unit import kubeadm_node as kn

PKI = "/etc/kubernetes/pki"
CP_IP = "10.0.0.10"
CP = "cp-1"
WORKER = "worker-1"


@dataclass(frozen=True)
class Release:
    """What differs between the kubeadm releases modelled here."""
    version: str          # the API server's gitVersion
    etcd_image: str       # constants.go DefaultEtcdVersion / SupportedEtcdVersion
    pause_image: str      # constants.go PauseVersion
    # etcd 3.6 dropped the --experimental-* spellings; kubeadm 1.34's
    # getEtcdCommand passes the feature gate and the new flag name instead.
    etcd_extra: tuple[str, ...]
    # kubeadm 1.34 (NodeLocalCRISocket, beta and on) writes the CRI endpoint into
    # the kubelet's config.yaml instead of kubeadm-flags.env.
    cri_in_config: bool


V1_30 = Release("v1.30.14", "3.5.15-0", "3.9",
                ("--experimental-initial-corrupt-check=true",
                 "--experimental-watch-progress-notify-interval=5s"), False)
V1_34 = Release("v1.34.1", "3.6.4-0", "3.10.1",
                ("--feature-gates=InitialCorruptCheck=true",
                 "--watch-progress-notify-interval=5s"), True)
RELEASES = {"1.30": V1_30, "1.34": V1_34}


def apiserver_argv(rel: Release) -> list[str]:
    return [
        "kube-apiserver", f"--advertise-address={CP_IP}", "--allow-privileged=true",
        "--authorization-mode=Node,RBAC", f"--client-ca-file={PKI}/ca.crt",
        "--enable-admission-plugins=NodeRestriction", "--enable-bootstrap-token-auth=true",
        f"--etcd-cafile={PKI}/etcd/ca.crt", f"--etcd-certfile={PKI}/apiserver-etcd-client.crt",
        f"--etcd-keyfile={PKI}/apiserver-etcd-client.key", "--etcd-servers=https://127.0.0.1:2379",
        f"--kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt",
        f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        f"--proxy-client-cert-file={PKI}/front-proxy-client.crt",
        f"--proxy-client-key-file={PKI}/front-proxy-client.key",
        "--requestheader-allowed-names=front-proxy-client",
        f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User", "--secure-port=6443",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={PKI}/sa.pub", f"--service-account-signing-key-file={PKI}/sa.key",
        "--service-cluster-ip-range=10.96.0.0/12", f"--tls-cert-file={PKI}/apiserver.crt",
        f"--tls-private-key-file={PKI}/apiserver.key",
    ]


def controller_manager_argv(rel: Release) -> list[str]:
    conf = "/etc/kubernetes/controller-manager.conf"
    # --allocate-node-cidrs/--cluster-cidr/--service-cluster-ip-range: `kubeadm init
    # --pod-network-cidr=10.244.0.0/16`, as most CNI quick starts ask.
    return [
        "kube-controller-manager", "--allocate-node-cidrs=true", f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}", "--bind-address=127.0.0.1", f"--client-ca-file={PKI}/ca.crt",
        "--cluster-cidr=10.244.0.0/16", "--cluster-name=kubernetes",
        f"--cluster-signing-cert-file={PKI}/ca.crt", f"--cluster-signing-key-file={PKI}/ca.key",
        "--controllers=*,bootstrapsigner,tokencleaner", f"--kubeconfig={conf}", "--leader-elect=true",
        f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt", f"--root-ca-file={PKI}/ca.crt",
        f"--service-account-private-key-file={PKI}/sa.key", "--service-cluster-ip-range=10.96.0.0/12",
        "--use-service-account-credentials=true",
    ]


def scheduler_argv(rel: Release) -> list[str]:
    conf = "/etc/kubernetes/scheduler.conf"
    return ["kube-scheduler", f"--authentication-kubeconfig={conf}", f"--authorization-kubeconfig={conf}",
            "--bind-address=127.0.0.1", f"--kubeconfig={conf}", "--leader-elect=true"]


def etcd_argv(rel: Release) -> list[str]:
    argv = [
        "etcd", f"--advertise-client-urls=https://{CP_IP}:2379", f"--cert-file={PKI}/etcd/server.crt",
        "--client-cert-auth=true", "--data-dir=/var/lib/etcd",
        *rel.etcd_extra,
        f"--initial-advertise-peer-urls=https://{CP_IP}:2380", f"--initial-cluster={CP}=https://{CP_IP}:2380",
        f"--key-file={PKI}/etcd/server.key", f"--listen-client-urls=https://127.0.0.1:2379,https://{CP_IP}:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381", f"--listen-peer-urls=https://{CP_IP}:2380",
        f"--name={CP}", f"--peer-cert-file={PKI}/etcd/peer.crt", "--peer-client-cert-auth=true",
        f"--peer-key-file={PKI}/etcd/peer.key", f"--peer-trusted-ca-file={PKI}/etcd/ca.crt",
        "--snapshot-count=10000", f"--trusted-ca-file={PKI}/etcd/ca.crt",
    ]
    return [argv[0]] + sorted(argv[1:], key=lambda a: a.split("=", 1)[0])


def control_plane_argvs(rel: Release) -> dict[str, list[str]]:
    return {"kube-apiserver": apiserver_argv(rel), "kube-controller-manager": controller_manager_argv(rel),
            "kube-scheduler": scheduler_argv(rel), "etcd": etcd_argv(rel)}


# Host paths each static pod mounts (phases/controlplane/volumes.go, etcd/local.go).
_MOUNTS = {
    "kube-apiserver": [("k8s-certs", PKI, True), ("ca-certs", "/etc/ssl/certs", True)],
    "kube-controller-manager": [("k8s-certs", PKI, True), ("ca-certs", "/etc/ssl/certs", True),
                                ("kubeconfig", "/etc/kubernetes/controller-manager.conf", True),
                                ("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec", False)],
    "kube-scheduler": [("kubeconfig", "/etc/kubernetes/scheduler.conf", True)],
    "etcd": [("etcd-data", "/var/lib/etcd", False), ("etcd-certs", f"{PKI}/etcd", False)],
}


def static_pod(component: str, argv: list[str], rel: Release, node: str = CP,
               extra_mounts: list[tuple[str, str, bool]] = ()) -> dict:
    """The pod kubeadm writes (its manifest); the API shows it as the mirror pod."""
    mounts = list(_MOUNTS[component]) + list(extra_mounts)
    image = (f"registry.k8s.io/etcd:{rel.etcd_image}" if component == "etcd"
             else f"registry.k8s.io/{component}:{rel.version}")
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": component, "namespace": "kube-system",
                     "labels": {"component": component, "tier": "control-plane"}},
        "spec": {"hostNetwork": True, "priority": 2000001000, "priorityClassName": "system-node-critical",
                 "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": component, "image": image, "imagePullPolicy": "IfNotPresent",
                                 "command": argv,
                                 "volumeMounts": [{"name": n, "mountPath": p, "readOnly": ro}
                                                  for n, p, ro in mounts]}],
                 "volumes": [{"name": n, "hostPath": {"path": p}} for n, p, _ in mounts]},
    }


def mirror_pod(manifest: dict, node: str = CP) -> dict:
    """How the API server shows a static pod: named <name>-<node>, owned by the Node."""
    pod = yaml.safe_load(yaml.safe_dump(manifest))
    pod["metadata"]["name"] = f"{manifest['metadata']['name']}-{node}"
    pod["metadata"]["annotations"] = {"kubernetes.io/config.source": "file",
                                      "kubernetes.io/config.mirror": "3f1c0d9a"}
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                           "uid": f"node-{node}", "controller": True}]
    pod["spec"]["nodeName"] = node
    pod["status"] = {"phase": "Running"}
    return pod


def kubelet_config(rel: Release) -> str:
    text = kn.KUBEADM_KUBELET_CONFIG
    if rel.cri_in_config:
        text = text.replace('containerRuntimeEndpoint: ""',
                            "containerRuntimeEndpoint: unix:///var/run/containerd/containerd.sock")
    return text


def kubelet_argv(rel: Release) -> tuple[str, ...]:
    # ExecStart of 10-kubeadm.conf with /var/lib/kubelet/kubeadm-flags.env.
    base = ("/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
            "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml")
    if rel.cri_in_config:
        return base + (f"--pod-infra-container-image=registry.k8s.io/pause:{rel.pause_image}",)
    return base + ("--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
                   f"--pod-infra-container-image=registry.k8s.io/pause:{rel.pause_image}")


def _f(path: str, mode: int, kind: str = "file", owner: str = "root") -> FileInfo:
    ids = {"root": 0, "etcd": 998}
    return FileInfo(path=path, exists=True, type=kind, mode=mode, uid=ids[owner], gid=ids[owner],
                    user=owner, group=owner)


PKI_PAIRS = ("ca", "apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-ca",
             "front-proxy-client", "etcd/ca", "etcd/server", "etcd/peer", "etcd/healthcheck-client")


def control_plane_files(manifests: dict[str, dict], etcd_owner: str = "root",
                        manifest_mode: int = 0o600) -> tuple[list[FileInfo], dict[str, str]]:
    files = [_f("/etc/kubernetes", 0o755, "dir"), _f("/etc/kubernetes/manifests", 0o700, "dir")]
    contents: dict[str, str] = {}
    for name, pod in manifests.items():
        path = f"/etc/kubernetes/manifests/{name}.yaml"
        files.append(_f(path, manifest_mode))
        contents[path] = yaml.safe_dump(pod, sort_keys=False)
    for conf in ("admin", "super-admin", "controller-manager", "scheduler"):
        files.append(_f(f"/etc/kubernetes/{conf}.conf", 0o600))
    files += [_f(PKI, 0o755, "dir"), _f(f"{PKI}/etcd", 0o755, "dir")]
    for pair in PKI_PAIRS:
        files += [_f(f"{PKI}/{pair}.crt", 0o644), _f(f"{PKI}/{pair}.key", 0o600)]
    files += [_f(f"{PKI}/sa.key", 0o600), _f(f"{PKI}/sa.pub", 0o644)]
    files.append(_f("/var/lib/etcd", 0o700, "dir", owner=etcd_owner))
    files.append(_f("/var/lib/etcd/member", 0o700, "dir", owner=etcd_owner))
    return files, contents


def kubelet_node(name: str, rel: Release, roles: tuple[str, ...]) -> NodeFacts:
    """The kubelet and kube-proxy side every kubeadm node has (kubeadm_node.worker)."""
    nf = kn.worker(name, kubelet_argv(rel))
    nf.roles = roles
    nf.contents["/var/lib/kubelet/config.yaml"] = kubelet_config(rel)
    # kubeadm writes no CNI configuration; a CNI plugin does. Flannel's
    # kube-flannel.yml install-cni container copies 10-flannel.conflist in with `cp`
    # (mode 0644 under the usual umask): 1.1.9 is a finding of the CNI, not of kubeadm.
    nf.files["/etc/cni/net.d"] = _f("/etc/cni/net.d", 0o755, "dir")
    nf.files["/etc/cni/net.d/10-flannel.conflist"] = _f("/etc/cni/net.d/10-flannel.conflist", 0o644)
    nf.files["/var/lib/cni/networks"] = FileInfo("/var/lib/cni/networks", exists=False)
    return nf


def stock_nodes(rel: Release) -> tuple[NodeFacts, NodeFacts]:
    manifests = {c: static_pod(c, argv, rel) for c, argv in control_plane_argvs(rel).items()}
    cp = kubelet_node(CP, rel, ("control-plane",))
    files, contents = control_plane_files(manifests)
    cp.files.update({f.path: f for f in files})
    cp.contents.update(contents)
    pid = 700
    procs = []
    for comp, argv in control_plane_argvs(rel).items():
        pid += 11
        procs.append(ProcessInfo(pid, tuple(argv), env={} if comp == "etcd" else None))
    cp.processes = tuple(procs) + cp.processes
    return cp, kubelet_node(WORKER, rel, ("worker",))


def node_object(name: str, control_plane: bool) -> dict:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": f"node-{name}", "labels": labels},
            "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
                     if control_plane else []}}


def cluster_objects(rel: Release, argvs: dict[str, list[str]] | None = None) -> list[dict]:
    """What an API scan of the cluster sees: Nodes, the mirror pods, kube-proxy."""
    argvs = argvs or control_plane_argvs(rel)
    ds = kn.proxy_daemonset()
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = f"registry.k8s.io/kube-proxy:{rel.version}"
    return [node_object(CP, True), node_object(WORKER, False),
            *(mirror_pod(static_pod(c, a, rel)) for c, a in argvs.items()),
            ds, kn.proxy_configmap()]


def cluster(objects: list[dict], rel: Release, source: str = "api") -> ClusterFacts:
    cf = ClusterFacts(identity=ClusterIdentity(version=rel.version), source=source)
    for o in objects:
        cf.add(to_kobject(o, origin="reference"))
    return cf


# What stock kubeadm really fails in sections 1-4, and why (docs/checks.md has
# the same table for auditors). Decided from kubeadm's source (above) and the
# CIS v1.12 text, not from kaudit's output.
STOCK_FAILS: dict[str, str] = {
    "1.1.9": "the CNI plugin's files (flannel copies 10-flannel.conflist in 0644); kubeadm writes none",
    "1.1.12": "kubeadm creates /var/lib/etcd 0700 root:root and runs etcd as root; there is no etcd user",
    "1.2.1": "kubeadm sets no --anonymous-auth (default true); its own liveness probes rely on anonymous /livez",
    "1.2.3": "kubeadm enables only NodeRestriction; DenyServiceExternalIPs is off by default",
    "1.2.5": "kubeadm sets no --kubelet-certificate-authority: kubelet serving certs are self-signed by default",
    "1.2.9": "EventRateLimit is not enabled (needs an admission config file kubeadm does not write)",
    "1.2.11": "AlwaysPullImages is not enabled",
    "1.2.15": "--profiling is not set; the API server default is true",
    "1.2.16": "no --audit-log-path: kubeadm configures no auditing",
    "1.2.17": "no --audit-log-maxage (default 0)",
    "1.2.18": "no --audit-log-maxbackup (default 0)",
    "1.2.19": "no --audit-log-maxsize (default 0)",
    "1.2.27": "no --encryption-provider-config: Secrets are stored unencrypted in etcd",
    "1.2.28": "no encryption provider configured at all",
    "1.2.29": "no --tls-cipher-suites: Go's default list applies",
    "1.2.30": "--service-account-extend-token-expiration is not set; the default is true",
    "1.3.2": "kube-controller-manager --profiling is not set; the default is true",
    "1.4.1": "kube-scheduler --profiling is not set; the default is true",
    "3.2.1": "no --audit-policy-file: nothing is audited",
    "3.2.2": "no audit policy, so no coverage of the key resources",
    "4.1.1": "10-kubeadm.conf is installed 0644 by the kubeadm package; CIS asks 600",
    "4.1.9": "kubeadm writes /var/lib/kubelet/config.yaml 0644; CIS asks 600",
    "4.2.9": "no tlsCertFile/serverTLSBootstrap: the kubelet serves a self-signed certificate",
    "4.2.12": "no tlsCipherSuites in the kubelet config: Go's default list applies",
    "4.2.13": "no podPidsLimit: the default -1 is unlimited",
    "4.2.14": "no seccompDefault: the default is false (Unconfined)",
}


def stock(minor: str) -> Facts:
    """A stock `kubeadm init` control plane plus one `kubeadm join` worker."""
    rel = RELEASES[minor]
    return Facts(cluster=cluster(cluster_objects(rel), rel), nodes=list(stock_nodes(rel)), node_access="ssh")


# ---------------------------------------------------------------------------
# The same cluster with the CIS Kubernetes Benchmark v1.12 remediations applied
# (each change below names the recommendation it answers).
# ---------------------------------------------------------------------------

AUDIT_POLICY_PATH = "/etc/kubernetes/audit/policy.yaml"
ENCRYPTION_CONFIG_PATH = "/etc/kubernetes/enc/encryption-config.yaml"
ADMISSION_CONFIG_PATH = "/etc/kubernetes/admission/config.yaml"
EVENT_RATE_LIMIT_PATH = "/etc/kubernetes/admission/eventratelimit.yaml"
AUTHN_CONFIG_PATH = "/etc/kubernetes/authn/authentication-config.yaml"

# 3.2.1/3.2.2: a minimal policy covering the CIS list (secrets, configmaps and
# token reviews at Metadata, exec/attach/portforward and RBAC at RequestResponse),
# shaped as the audit-policy example of kubernetes.io/docs/tasks/debug/debug-cluster/audit/.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods/exec", "pods/attach", "pods/portforward"]
      - group: "rbac.authorization.k8s.io"
  - level: Metadata
"""
# 1.2.27/1.2.28: aescbc first, as kubernetes.io/docs/tasks/administer-cluster/encrypt-data/;
# the collector redacts key material (collect.sh redact_secrets).
ENCRYPTION_CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: ["secrets"]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: "<redacted by kaudit>"
      - identity: {}
"""
# 1.2.9: EventRateLimit needs its configuration through the admission config file.
ADMISSION_CONFIG = f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: EventRateLimit
    path: {EVENT_RATE_LIMIT_PATH}
"""
# 1.2.1 on 1.32+: anonymous requests only to the health endpoints kubeadm's probes
# use (kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-authenticator-configuration).
AUTHN_CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
    - path: /livez
    - path: /readyz
    - path: /healthz
"""
# 1.2.29 / 4.2.12: the CIS list of strong ciphers.
CIS_CIPHERS = ("TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,"
               "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
               "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
               "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305")

# 4.2.12: the kubelet's strong list (TLS 1.2 ECDHE with AES-GCM or ChaCha20).
KUBELET_CIS_CIPHERS = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                       "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                       "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]


def _set(argv: list[str], **flags: str) -> list[str]:
    """argv with the flags set, kept sorted as kubeadm's ArgumentsToCommand does
    with ClusterConfiguration extraArgs."""
    names = {"--" + k.replace("_", "-") for k in flags}
    out = [a for a in argv[1:] if a.split("=", 1)[0] not in names]
    out += [f"--{k.replace('_', '-')}={v}" for k, v in flags.items()]
    return [argv[0]] + sorted(out, key=lambda a: a.split("=", 1)[0])


def hardened_argvs(rel: Release) -> dict[str, list[str]]:
    api = _set(apiserver_argv(rel),
               profiling="false",                                              # 1.2.15
               audit_log_path="/var/log/kubernetes/audit/audit.log",          # 1.2.16
               audit_log_maxage="30", audit_log_maxbackup="10", audit_log_maxsize="100",  # 1.2.17-19
               audit_policy_file=AUDIT_POLICY_PATH,                           # 3.2.1
               kubelet_certificate_authority=f"{PKI}/ca.crt",                 # 1.2.5
               enable_admission_plugins="NodeRestriction,EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs",
               admission_control_config_file=ADMISSION_CONFIG_PATH,           # 1.2.9
               encryption_provider_config=ENCRYPTION_CONFIG_PATH,             # 1.2.27
               tls_cipher_suites=CIS_CIPHERS,                                 # 1.2.29
               service_account_extend_token_expiration="false")               # 1.2.30
    if rel is V1_34:
        api = _set(api, authentication_config=AUTHN_CONFIG_PATH)              # 1.2.1 (1.32+)
    return {
        "kube-apiserver": api,
        "kube-controller-manager": _set(controller_manager_argv(rel), profiling="false",   # 1.3.2
                                        terminated_pod_gc_threshold="10"),                  # 1.3.1
        "kube-scheduler": _set(scheduler_argv(rel), profiling="false"),                     # 1.4.1
        "etcd": etcd_argv(rel),
    }


def hardened_kubelet_config(rel: Release) -> str:
    cfg = yaml.safe_load(kubelet_config(rel))
    cfg["streamingConnectionIdleTimeout"] = "5m0s"          # 4.2.5
    cfg["tlsCipherSuites"] = KUBELET_CIS_CIPHERS            # 4.2.12
    cfg["podPidsLimit"] = 4096                              # 4.2.13
    cfg["seccompDefault"] = True                            # 4.2.14
    cfg["serverTLSBootstrap"] = True                        # 4.2.9 with 1.2.5: CA-signed serving certs
    cfg["featureGates"] = {"RotateKubeletServerCertificate": True}   # 4.2.11
    return yaml.safe_dump(cfg, sort_keys=True)


def _harden_kubelet_files(nf: NodeFacts, rel: Release) -> None:
    for path in ("/var/lib/kubelet/config.yaml",                               # 4.1.9
                 "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",  # 4.1.1
                 "/etc/cni/net.d/10-flannel.conflist"):                        # 1.1.9
        nf.files[path] = _f(path, 0o600)
    nf.contents["/var/lib/kubelet/config.yaml"] = hardened_kubelet_config(rel)


def hardened_nodes(rel: Release) -> tuple[NodeFacts, NodeFacts]:
    argvs = hardened_argvs(rel)
    manifests = {c: static_pod(c, a, rel) for c, a in argvs.items()}
    cp = kubelet_node(CP, rel, ("control-plane",))
    files, contents = control_plane_files(manifests, etcd_owner="etcd")    # 1.1.12
    cp.files.update({f.path: f for f in files})
    cp.contents.update(contents)
    for path, text in ((AUDIT_POLICY_PATH, AUDIT_POLICY), (ENCRYPTION_CONFIG_PATH, ENCRYPTION_CONFIG),
                       (ADMISSION_CONFIG_PATH, ADMISSION_CONFIG), (AUTHN_CONFIG_PATH, AUTHN_CONFIG)):
        cp.files[path] = _f(path, 0o600)
        cp.contents[path] = text
    cp.processes = tuple(ProcessInfo(711 + 11 * i, tuple(a), env={} if c == "etcd" else None)
                         for i, (c, a) in enumerate(argvs.items())) + cp.processes
    worker = kubelet_node(WORKER, rel, ("worker",))
    for nf in (cp, worker):
        _harden_kubelet_files(nf, rel)
    return cp, worker


def hardened(minor: str) -> Facts:
    """The stock cluster with the CIS v1.12 remediations applied."""
    rel = RELEASES[minor]
    return Facts(cluster=cluster(cluster_objects(rel, hardened_argvs(rel)), rel),
                 nodes=list(hardened_nodes(rel)), node_access="ssh")
