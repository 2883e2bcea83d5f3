"""Builds the bundled demo cluster's control-plane manifests and node facts.

A realistic 3-node kubeadm cluster (cp-1, worker-1, worker-2), mostly
hardened, with the failures real clusters have: the API server's profiling
left on, a kubelet config file at 0644, anonymous auth on one kubelet.
The workloads (section 5) live in manifests/50-apps.yaml.

Run `python -m kaudit.demo.build` after editing; the outputs are committed.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

HERE = Path(__file__).parent
VERSION = "v1.30.4"
PKI = "/etc/kubernetes/pki"
NODES = ("cp-1", "worker-1", "worker-2")
UIDS = {"kube-system": "6f1c2a9e-3d4b-4c1e-9a57-0b2d7e8f4a11"}

APISERVER_ARGS = [
    "kube-apiserver", "--advertise-address=10.0.0.10", "--allow-privileged=true",
    "--anonymous-auth=false",
    "--authorization-mode=Node,RBAC", f"--client-ca-file={PKI}/ca.crt",
    "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages",
    "--admission-control-config-file=/etc/kubernetes/admission/config.yaml",
    "--enable-bootstrap-token-auth=true", f"--etcd-cafile={PKI}/etcd/ca.crt",
    f"--etcd-certfile={PKI}/apiserver-etcd-client.crt", f"--etcd-keyfile={PKI}/apiserver-etcd-client.key",
    "--etcd-servers=https://127.0.0.1:2379",
    f"--kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt",
    f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key",
    f"--kubelet-certificate-authority={PKI}/ca.crt",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    f"--proxy-client-cert-file={PKI}/front-proxy-client.crt", f"--proxy-client-key-file={PKI}/front-proxy-client.key",
    "--requestheader-allowed-names=front-proxy-client", f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt",
    "--secure-port=6443", "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    f"--service-account-key-file={PKI}/sa.pub", f"--service-account-signing-key-file={PKI}/sa.key",
    "--service-account-extend-token-expiration=false",
    "--service-cluster-ip-range=10.96.0.0/12", f"--tls-cert-file={PKI}/apiserver.crt",
    f"--tls-private-key-file={PKI}/apiserver.key",
    "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxage=30",
    "--audit-log-maxbackup=10", "--audit-log-maxsize=100",
    "--audit-policy-file=/etc/kubernetes/audit/policy.yaml",
    "--encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml",
    # --profiling is absent: the Kubernetes default (true) applies -> 1.2.15 FAIL
]
CONTROLLER_MANAGER_ARGS = [
    "kube-controller-manager", "--allocate-node-cidrs=true", "--bind-address=127.0.0.1",
    f"--client-ca-file={PKI}/ca.crt", "--cluster-cidr=10.244.0.0/16", "--cluster-name=kubernetes",
    f"--cluster-signing-cert-file={PKI}/ca.crt", f"--cluster-signing-key-file={PKI}/ca.key",
    "--controllers=*,bootstrapsigner,tokencleaner", "--kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--leader-elect=true", "--profiling=false", f"--root-ca-file={PKI}/ca.crt",
    f"--service-account-private-key-file={PKI}/sa.key", "--service-cluster-ip-range=10.96.0.0/12",
    "--terminated-pod-gc-threshold=100", "--use-service-account-credentials=true",
]
SCHEDULER_ARGS = ["kube-scheduler", "--bind-address=127.0.0.1", "--kubeconfig=/etc/kubernetes/scheduler.conf",
                  "--leader-elect=true", "--profiling=false"]
ETCD_ARGS = [
    "etcd", "--advertise-client-urls=https://10.0.0.10:2379", f"--cert-file={PKI}/etcd/server.crt",
    "--client-cert-auth=true", "--data-dir=/var/lib/etcd", "--experimental-initial-corrupt-check=true",
    "--initial-advertise-peer-urls=https://10.0.0.10:2380", "--initial-cluster=cp-1=https://10.0.0.10:2380",
    f"--key-file={PKI}/etcd/server.key", "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379",
    "--listen-peer-urls=https://10.0.0.10:2380", "--name=cp-1", f"--peer-cert-file={PKI}/etcd/peer.crt",
    "--peer-client-cert-auth=true", f"--peer-key-file={PKI}/etcd/peer.key",
    f"--peer-trusted-ca-file={PKI}/etcd/ca.crt", "--snapshot-count=10000", f"--trusted-ca-file={PKI}/etcd/ca.crt",
]
KUBELET_ARGS = ["/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
                "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
                "--pod-infra-container-image=registry.k8s.io/pause:3.9"]
KUBE_PROXY_ARGS = ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                   "--hostname-override=$(NODE_NAME)"]


def kubelet_config(anonymous: bool) -> str:
    cfg = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": anonymous}, "webhook": {"enabled": True, "cacheTTL": "0s"},
                           "x509": {"clientCAFile": f"{PKI}/ca.crt"}},
        "authorization": {"mode": "AlwaysAllow" if anonymous else "Webhook"},
        "cgroupDriver": "systemd", "clusterDNS": ["10.96.0.10"], "clusterDomain": "cluster.local",
        "readOnlyPort": 0, "rotateCertificates": True, "serverTLSBootstrap": True,
        "staticPodPath": "/etc/kubernetes/manifests", "streamingConnectionIdleTimeout": "5m0s",
        "podPidsLimit": 4096, "seccompDefault": True, "eventRecordQPS": 50,
        "tlsCipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"],
    }
    return yaml.safe_dump(cfg, sort_keys=False)


AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods/exec", "pods/attach", "pods/portforward"]
      - group: "rbac.authorization.k8s.io"
  - level: Metadata
"""
ENCRYPTION_CONFIG = """apiVersion: apiserver.config.k8s.io/v1
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
KUBEADM_DROPIN = """[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""


def f(mode: int, user: str = "root", group: str = "root", kind: str = "file") -> dict:
    uid = {"root": 0, "etcd": 998}[user]
    gid = {"root": 0, "etcd": 998}[group]
    return {"exists": True, "type": kind, "mode": format(mode, "04o"), "uid": uid, "gid": gid,
            "user": user, "group": group}


def node_facts(name: str) -> dict:
    cp = name == "cp-1"
    procs = []
    files: dict[str, dict] = {}
    contents: dict[str, str] = {}
    pid = 800
    if cp:
        for argv in (ETCD_ARGS, APISERVER_ARGS, CONTROLLER_MANAGER_ARGS, SCHEDULER_ARGS):
            pid += 17
            procs.append({"pid": pid, "argv": argv, **({"env": {}} if argv[0] == "etcd" else {})})
        for comp_name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
            files[f"/etc/kubernetes/manifests/{comp_name}.yaml"] = f(0o600)
        files["/etc/kubernetes/manifests"] = f(0o700, kind="dir")
        files["/etc/kubernetes/admin.conf"] = f(0o600)
        files["/etc/kubernetes/super-admin.conf"] = f(0o600)
        files["/etc/kubernetes/scheduler.conf"] = f(0o600)
        files["/etc/kubernetes/controller-manager.conf"] = f(0o600)
        files["/var/lib/etcd"] = f(0o700, kind="dir")   # kubeadm: root-owned -> 1.1.12 FAIL
        files[PKI] = f(0o755, kind="dir")
        files[f"{PKI}/etcd"] = f(0o755, kind="dir")
        for crt in ("ca", "apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-ca",
                    "front-proxy-client", "etcd/ca", "etcd/server", "etcd/peer", "etcd/healthcheck-client"):
            files[f"{PKI}/{crt}.crt"] = f(0o644)
            files[f"{PKI}/{crt}.key"] = f(0o600)
        files[f"{PKI}/sa.key"] = f(0o600)
        files[f"{PKI}/sa.pub"] = f(0o644)
        files["/etc/kubernetes/audit/policy.yaml"] = f(0o600)
        contents["/etc/kubernetes/audit/policy.yaml"] = AUDIT_POLICY
        files["/etc/kubernetes/enc/encryption-config.yaml"] = f(0o600)
        contents["/etc/kubernetes/enc/encryption-config.yaml"] = ENCRYPTION_CONFIG
    else:
        files["/etc/kubernetes/manifests"] = f(0o700, kind="dir")
        files[f"{PKI}/ca.crt"] = f(0o644)
        files[PKI] = f(0o755, kind="dir")
    pid += 200
    procs.append({"pid": pid, "argv": KUBELET_ARGS})
    procs.append({"pid": pid + 310, "argv": KUBE_PROXY_ARGS})
    config_mode = 0o644 if name == "worker-1" else 0o600          # 4.1.9 FAIL on worker-1
    files["/var/lib/kubelet/config.yaml"] = f(config_mode)
    contents["/var/lib/kubelet/config.yaml"] = kubelet_config(anonymous=(name == "worker-2"))  # 4.2.1 FAIL
    files["/etc/kubernetes/kubelet.conf"] = f(0o600)
    files["/etc/systemd/system/kubelet.service.d"] = f(0o755, kind="dir")
    files["/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"] = f(0o600)
    contents["/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"] = KUBEADM_DROPIN
    files["/lib/systemd/system/kubelet.service"] = f(0o644)         # packaged unit: not what 4.1.1 judges
    files["/etc/cni/net.d"] = f(0o755, kind="dir")
    files["/etc/cni/net.d/10-calico.conflist"] = f(0o600)
    files["/etc/cni/net.d/calico-kubeconfig"] = f(0o600)
    files["/var/lib/cni/networks"] = {"exists": False}
    files["/etc/kubernetes/proxy.conf"] = {"exists": False}
    files["/var/lib/kube-proxy/config.conf"] = {"exists": False}       # mounted from a ConfigMap
    files["/var/lib/kube-proxy/kubeconfig.conf"] = {"exists": False}   # idem: 4.1.3/4.1.4 not applicable
    return {
        "schema": "kaudit.nodefacts/v1", "name": name,
        "roles": ["control-plane"] if cp else ["worker"], "hostname": name, "transport": "saved",
        "collected_at": "2026-11-20T09:00:00Z", "collector_version": "1",
        "processes": procs, "files": files, "contents": contents, "content_errors": {},
        "errors": [], "unreachable": None,
    }


def static_pod(component: str, argv: list[str], node: str = "cp-1") -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{component}-{node}", "namespace": "kube-system",
                     "labels": {"component": component, "tier": "control-plane"},
                     "annotations": {"kubernetes.io/config.source": "file",
                                     "kubernetes.io/config.mirror": "0c1d2e3f"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node,
                                          "uid": f"node-{node}", "controller": True}]},
        "spec": {"nodeName": node, "hostNetwork": True, "priorityClassName": "system-node-critical",
                 "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": component, "image": f"registry.k8s.io/{component}:{VERSION}"
                                 if component != "etcd" else "registry.k8s.io/etcd:3.5.15-0",
                                 "command": argv}]},
        "status": {"phase": "Running"},
    }


def cluster_manifests() -> list[dict]:
    docs: list[dict] = []
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        docs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns, "uid": UIDS.get(ns, f"ns-{ns}"),
                                  "labels": {"kubernetes.io/metadata.name": ns}},
                     "status": {"phase": "Active"}})
    for i, name in enumerate(NODES):
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        if name == "cp-1":
            labels["node-role.kubernetes.io/control-plane"] = ""
        docs.append({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": name, "uid": f"node-{name}", "labels": labels},
                     "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
                              if name == "cp-1" else []},
                     "status": {"addresses": [{"type": "InternalIP", "address": f"10.0.0.{10 + i}"},
                                              {"type": "Hostname", "address": name}],
                                "nodeInfo": {"kubeletVersion": VERSION, "osImage": "Ubuntu 22.04.4 LTS",
                                             "containerRuntimeVersion": "containerd://1.7.20"}}})
    docs.append(static_pod("kube-apiserver", APISERVER_ARGS))
    docs.append(static_pod("kube-controller-manager", CONTROLLER_MANAGER_ARGS))
    docs.append(static_pod("kube-scheduler", SCHEDULER_ARGS))
    docs.append(static_pod("etcd", ETCD_ARGS))
    proxy_cfg = yaml.safe_dump({"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
                                "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"},
                                "metricsBindAddress": "127.0.0.1:10249", "mode": "iptables"}, sort_keys=False)
    docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
                 "data": {"config.conf": proxy_cfg}})
    docs.extend(system_workloads())
    return docs


def _ds(name: str, containers: list[dict], **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "kube-system", "uid": f"ds-{name}", "labels": {"k8s-app": name}},
            "spec": {"selector": {"matchLabels": {"k8s-app": name}},
                     "template": {"metadata": {"labels": {"k8s-app": name}},
                                  "spec": {"containers": containers, **spec}}},
            "status": {"desiredNumberScheduled": 3, "numberReady": 3}}


def system_workloads() -> list[dict]:
    proxy = _ds("kube-proxy", [{"name": "kube-proxy", "image": f"registry.k8s.io/kube-proxy:{VERSION}",
                                "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                            "--hostname-override=$(NODE_NAME)"],
                                "securityContext": {"privileged": True}}],
                hostNetwork=True, serviceAccountName="kube-proxy", priorityClassName="system-node-critical")
    calico = _ds("calico-node", [{"name": "calico-node", "image": "docker.io/calico/node:v3.28.1",
                                  "securityContext": {"privileged": True}}],
                 hostNetwork=True, serviceAccountName="calico-node", priorityClassName="system-node-critical")
    coredns = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "coredns", "namespace": "kube-system", "uid": "deploy-coredns",
                            "labels": {"k8s-app": "kube-dns"}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                                     "spec": {"serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                                              "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                                              "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                                                              "args": ["-conf", "/etc/coredns/Corefile"],
                                                              "securityContext": {"allowPrivilegeEscalation": False,
                                                                                  "readOnlyRootFilesystem": True,
                                                                                  "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}}}]}}}}
    rbac = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubeadm:cluster-admins"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}]},
    ]
    def binding(name: str, role: str, sa: str) -> dict:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "kube-system"}]}

    def role(name: str, rules: list[dict]) -> dict:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": name}, "rules": rules}

    rbac += [
        role("system:node-proxier", [
            {"apiGroups": [""], "resources": ["endpoints", "services", "nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]}]),
        binding("kubeadm:node-proxier", "system:node-proxier", "kube-proxy"),
        role("calico-node", [
            {"apiGroups": [""], "resources": ["pods", "nodes", "namespaces", "endpoints", "services"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["crd.projectcalico.org"], "resources": ["felixconfigurations", "ippools", "ipamblocks",
                                                                   "blockaffinities", "networkpolicies",
                                                                   "globalnetworkpolicies"],
             "verbs": ["get", "list", "watch", "create", "update"]}]),
        binding("calico-node", "calico-node", "calico-node"),
        role("system:coredns", [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]),
        binding("system:coredns", "system:coredns", "coredns"),
    ]
    sas = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": n, "namespace": "kube-system"},
            **({"automountServiceAccountToken": False} if n == "default" else {})}
           for n in ("default", "kube-proxy", "calico-node", "coredns")]
    # Every namespace has a default ServiceAccount; only kube-system's is hardened here.
    sas += [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}
            for ns in ("default", "kube-public", "kube-node-lease")]
    pods = []
    for ds in (proxy, calico):
        for i, node in enumerate(NODES):
            pods.append(_owned_pod(f"{ds['metadata']['name']}-{'abcde'[i]}{i}x7q", "DaemonSet", ds, node))
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": "coredns-7db6d8ff4d", "namespace": "kube-system", "uid": "rs-coredns",
                       "labels": {"k8s-app": "kube-dns"},
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "coredns",
                                            "uid": "deploy-coredns", "controller": True}]},
          "spec": coredns["spec"]}
    for i in range(2):
        pods.append(_owned_pod(f"coredns-7db6d8ff4d-{'pq'[i]}z2k{i}", "ReplicaSet", rs, NODES[1 + i]))
    return [proxy, calico, coredns, rs, *rbac, *sas, *pods]


def _owned_pod(name: str, owner_kind: str, owner: dict, node: str) -> dict:
    template = owner["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind,
                                              "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                              "controller": True}]},
            "spec": {**template["spec"], "nodeName": node}, "status": {"phase": "Running"}}


def main() -> None:
    (HERE / "nodes").mkdir(exist_ok=True)
    for name in NODES:
        (HERE / "nodes" / f"{name}.json").write_text(json.dumps(node_facts(name), indent=1) + "\n")
    (HERE / "manifests").mkdir(exist_ok=True)
    header = ("# Demo cluster: kubeadm control plane and kube-system (generated by kaudit/demo/build.py).\n")
    (HERE / "manifests" / "00-cluster.yaml").write_text(
        header + yaml.safe_dump_all(cluster_manifests(), sort_keys=False))


if __name__ == "__main__":
    main()
