"""DaemonSetSource against the test API server's DaemonSet lifecycle."""
from __future__ import annotations

import json
import os
import signal

import pytest

from apiserver import PodOutcome, sample_cluster
from kaudit.collect.api import ApiSource, connect
from kaudit.collect.node.daemonset import DaemonSetSource, node_collector_rules
from kaudit.collect.permissions import cluster_role_rules
from kaudit.model import FileInfo, NodeFacts


def node_facts_json(node: str) -> str:
    facts = NodeFacts(name=f"host-{node}", hostname=f"host-{node}", transport="local",
                      files={"/etc/kubernetes/admin.conf": FileInfo("/etc/kubernetes/admin.conf", True, "file",
                                                                    0o600, 0, 0, "root", "root")})
    return json.dumps(facts.to_json(), indent=2)


@pytest.fixture
def setup(api_server, kubeconfig_for):
    """A scan's cluster facts, and a DaemonSetSource factory on the same server."""
    kubeconfig = kubeconfig_for(api_server)
    cluster = ApiSource(kubeconfig).collect()
    api_server.default_pod_outcome = lambda node: PodOutcome(logs=node_facts_json(node))

    def source(**kw):
        kw.setdefault("poll_interval", 0.05)
        kw.setdefault("timeout", 5)
        return DaemonSetSource(kubeconfig, **kw)

    return api_server, cluster, source


def remaining_daemonsets(server):
    return server.objects_of("daemonsets", "apps")


def test_collects_every_node_and_cleans_up(setup):
    server, cluster, source = setup
    messages = []
    facts = source().collect(cluster, messages.append)
    assert [f.name for f in facts] == ["cp-1", "worker-1", "worker-2"]   # the API's names, not the node's
    assert all(f.transport == "daemonset" and f.unreachable is None for f in facts)
    assert facts[0].hostname == "host-cp-1" and facts[0].roles == ("control-plane",)
    assert facts[1].file("/etc/kubernetes/admin.conf").mode == 0o600
    assert remaining_daemonsets(server) == [] and server.objects_of("pods") and \
        not [p for p in server.objects_of("pods") if p["metadata"]["namespace"] == "kaudit"]
    assert "node collectors: 3/3 finished" in messages
    # The namespace did not exist: created for the scan (privileged PSA), then deleted.
    created = [r for r in server.requests if r.method == "POST" and r.resource == "namespaces"]
    assert len(created) == 1 and not [n for n in server.objects_of("namespaces") if n["metadata"]["name"] == "kaudit"]


def test_the_collector_pod_is_hardened(setup):
    server, cluster, source = setup
    source(read_process_env=False).collect(cluster)
    ds = server.created_daemonsets[0]
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"] is True and spec["hostNetwork"] is False and spec["hostIPC"] is False
    assert spec["automountServiceAccountToken"] is False
    assert spec["tolerations"] == [{"operator": "Exists"}]
    collector = spec["initContainers"][0]
    assert collector["command"] == ["kaudit", "node-facts", "--root", "/host"]
    sc = collector["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["DAC_READ_SEARCH"]}
    host_mounts = [m for m in collector["volumeMounts"] if m["mountPath"].startswith("/host/")]
    assert host_mounts and all(m["readOnly"] for m in host_mounts)
    assert {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v} >= {
        "/etc/kubernetes", "/var/lib/kubelet", "/var/lib/etcd"}
    assert not [v for v in spec["volumes"] if v.get("hostPath", {}).get("path") in ("/", "/proc", "/var/run")]
    waiter = spec["containers"][0]["securityContext"]
    assert waiter["runAsNonRoot"] is True and waiter["capabilities"] == {"drop": ["ALL"]}
    assert "SYS_PTRACE" in source().daemonset_manifest("x")["spec"]["template"]["spec"][
        "initContainers"][0]["securityContext"]["capabilities"]["add"]


def test_failed_missing_and_garbled_nodes_are_unreachable_with_reasons(setup):
    server, cluster, source = setup
    server.pod_outcomes["worker-1"] = PodOutcome(logs="kaudit: cannot read /host/etc\n", exit_code=2)
    server.pod_outcomes["worker-2"] = None                                   # never scheduled
    server.pod_outcomes["cp-1"] = PodOutcome(logs="warning: slow disk\n" + node_facts_json("cp-1") + "\n")
    facts = {f.name: f for f in source(timeout=0.5).collect(cluster)}
    assert facts["cp-1"].unreachable is None and facts["cp-1"].hostname == "host-cp-1"
    assert facts["worker-1"].unreachable.startswith("node collector in pod kaudit-node-")
    assert "exited with code 2: kaudit: cannot read /host/etc" in facts["worker-1"].unreachable
    assert facts["worker-2"].unreachable.startswith("no collector pod ran on this node within 0.5s")
    assert remaining_daemonsets(server) == []


def test_garbage_output_and_pending_pod(setup):
    server, cluster, source = setup
    server.pod_outcomes["worker-1"] = PodOutcome(logs='{"schema": "something/else"}')
    server.pod_outcomes["worker-2"] = PodOutcome(exit_code=None, waiting_reason="ImagePullBackOff")
    facts = {f.name: f for f in source(timeout=0.5).collect(cluster)}
    assert facts["worker-1"].unreachable.startswith("collector output is not valid NodeFacts")
    assert "ImagePullBackOff" in facts["worker-2"].unreachable
    assert facts["cp-1"].unreachable is None


def test_interrupt_still_deletes_the_daemonset(setup):
    server, cluster, source = setup
    server.default_pod_outcome = lambda node: PodOutcome(exit_code=None)     # never finishes

    def progress(message):
        if message.startswith("node collectors:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        source().collect(cluster, progress)
    assert len(server.created_daemonsets) == 1 and remaining_daemonsets(server) == []


def test_sigterm_still_deletes_the_daemonset(setup):
    server, cluster, source = setup
    server.default_pod_outcome = lambda node: PodOutcome(exit_code=None)
    before = signal.getsignal(signal.SIGTERM)

    def progress(message):
        if message.startswith("node collectors:"):
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt):
        source().collect(cluster, progress)
    assert remaining_daemonsets(server) == []
    assert signal.getsignal(signal.SIGTERM) is before          # handler restored


def test_existing_namespace_is_kept_and_role_suffices(make_api_server, kubeconfig_for):
    objs = sample_cluster() + [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kaudit"}}]
    reader = cluster_role_rules()
    writer = node_collector_rules() + [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"],
                                        "resourceNames": ["kaudit"]}]
    server = make_api_server(objs, tokens={"scan": reader + writer})
    server.default_pod_outcome = lambda node: PodOutcome(logs=node_facts_json(node))
    kubeconfig = kubeconfig_for(server, "scan")
    cluster = ApiSource(kubeconfig).collect()
    facts = DaemonSetSource(api_client_factory=lambda: connect(kubeconfig), poll_interval=0.05,
                            timeout=5).collect(cluster)
    assert [f.unreachable for f in facts] == [None, None, None]
    assert [n["metadata"]["name"] for n in server.objects_of("namespaces")].count("kaudit") == 1
    assert not [r for r in server.requests if r.status == 403]


def test_malformed_node_facts_in_a_log_are_read_like_saved_facts(setup):
    server, cluster, source = setup
    bad = json.loads(node_facts_json("worker-1"))
    bad["files"]["/etc/kubernetes/admin.conf"]["mode"] = "rw-------"
    server.pod_outcomes["worker-1"] = PodOutcome(logs=json.dumps(bad))
    facts = {f.name: f for f in source().collect(cluster)}
    assert facts["worker-1"].unreachable == ("collector output is not valid NodeFacts: "
                                             "files['/etc/kubernetes/admin.conf'].mode: not an octal mode")
    assert facts["cp-1"].unreachable is None


def test_a_log_cut_short_is_unreachable(setup):
    server, cluster, source = setup
    whole = node_facts_json("worker-1")
    server.pod_outcomes["worker-1"] = PodOutcome(logs=whole[: len(whole) // 2])
    facts = {f.name: f for f in source().collect(cluster)}
    assert facts["worker-1"].unreachable == "no JSON document in the collector output"
    assert facts["worker-1"].files == {} and facts["cp-1"].unreachable is None
