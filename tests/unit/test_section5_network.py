"""CIS 5.3: CNI detection and NetworkPolicy coverage (Kubernetes, Cilium, Calico kinds)."""
from __future__ import annotations

from tests.unit.section5_helpers import (container, facts_of, make_namespace, make_netpol, make_workload, pod_spec,
                                         run, statuses)


def ds(name: str, image: str, namespace: str = "kube-system", extra_containers: list | None = None) -> dict:
    spec = pod_spec(container(name, image), sa=name, hostNetwork=True)
    spec["containers"] += extra_containers or []
    return make_workload("DaemonSet", name, namespace, spec)


def verdict(*objs) -> str:
    return [r for r in run("5.3.1", facts_of(*objs)) if r.target.kind == "Cluster"][0].status.value


def test_cni_detection():
    assert verdict(ds("calico-node", "docker.io/calico/node:v3.28.0")) == "PASS"
    assert verdict(ds("cilium", "quay.io/cilium/cilium:v1.15.6")) == "PASS"
    assert verdict(ds("anetd", "gke.gcr.io/cilium/cilium:v1.14-gke")) == "PASS"
    assert verdict(ds("antrea-agent", "antrea/antrea-agent-ubuntu:v2.0.0")) == "PASS"
    assert verdict(ds("weave-net", "weaveworks/weave-kube:2.8.1")) == "PASS"
    assert verdict(ds("kube-flannel-ds", "docker.io/flannel/flannel:v0.25.1", "kube-flannel")) == "FAIL"
    # Canal = Flannel networking + Calico policy
    assert verdict(ds("kube-flannel-ds", "docker.io/flannel/flannel:v0.25.1", "kube-flannel"),
                   ds("canal", "docker.io/calico/node:v3.28.0")) == "PASS"
    assert verdict(ds("some-overlay", "example.com/overlay:1")) == "WARN"
    # an app image called "node" is not Calico
    assert verdict(ds("log-agent", "library/node:20", "monitoring")) == "WARN"


def test_aws_vpc_cni_needs_its_network_policy_agent():
    agent_off = ds("aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.2",
                   extra_containers=[{"name": "aws-eks-nodeagent", "image": "x/aws-network-policy-agent:v1.1.2",
                                      "args": ["--enable-network-policy=false"]}])
    agent_on = ds("aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.2",
                  extra_containers=[{"name": "aws-eks-nodeagent", "image": "x/aws-network-policy-agent:v1.1.2",
                                     "args": ["--enable-network-policy=true"]}])
    assert verdict(agent_off) == "FAIL"
    assert verdict(agent_on) == "PASS"


def test_unknown_cni_warn_names_what_was_seen():
    r = run("5.3.1", facts_of(ds("kube-proxy", "registry.k8s.io/kube-proxy:v1.30.2")))[0]
    assert r.status.value == "WARN" and "kube-proxy" in r.evidence[0].value


def test_namespace_coverage_with_kubernetes_policies():
    facts = facts_of(
        make_namespace("shop"), make_namespace("payments"), make_namespace("monitoring"), make_namespace("kube-system"),
        make_netpol("default-deny", "shop", ["Ingress", "Egress"]),
        make_netpol("ingress-only", "payments", None),              # policyTypes defaults to Ingress
    )
    st = statuses(run("5.3.2", facts))
    assert st[("Namespace", None, "shop")] == "PASS"
    assert st[("Namespace", None, "payments")] == "PASS"            # a policy, ingress only (said in the message)
    assert st[("Namespace", None, "monitoring")] == "FAIL"
    assert st[("Namespace", None, "kube-system")] == "FAIL"         # CIS: every namespace, system ones included


def test_egress_inferred_from_rules_when_policy_types_absent():
    pol = make_netpol("web", "shop", spec={"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}],
                                          "egress": [{"to": [{"namespaceSelector": {}}]}]})
    assert statuses(run("5.3.2", facts_of(make_namespace("shop"), pol)))[("Namespace", None, "shop")] == "PASS"


def test_cilium_and_calico_kinds_count():
    cnp = make_netpol("deny-all", "shop", api="cilium.io/v2", kind="CiliumNetworkPolicy",
                      spec={"endpointSelector": {}, "ingress": [{}], "egress": [{}]})
    ccnp = {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "baseline"},
            "spec": {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "payments"}},
                     "egress": [{"toEndpoints": [{}]}], "ingress": [{"fromEndpoints": [{}]}]}}
    gnp = {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy", "metadata": {"name": "default-deny"},
           "spec": {"namespaceSelector": "has(tenant)", "types": ["Ingress", "Egress"]}}
    calico_ns = make_netpol("allow", "ops", api="projectcalico.org/v3", kind="NetworkPolicy",
                            spec={"selector": "all()", "types": ["Ingress"]})
    facts = facts_of(make_namespace("shop"), make_namespace("payments"), make_namespace("tenant-a", tenant="a"),
                     make_namespace("ops"), make_namespace("other"), cnp, ccnp, gnp, calico_ns)
    st = statuses(run("5.3.2", facts))
    assert st[("Namespace", None, "shop")] == "PASS"
    assert st[("Namespace", None, "payments")] == "PASS"
    assert st[("Namespace", None, "tenant-a")] == "PASS"
    assert st[("Namespace", None, "ops")] == "PASS"                 # Calico v3 policy, ingress only
    assert st[("Namespace", None, "other")] == "FAIL"


def test_unevaluable_calico_selector_is_warn_not_pass():
    gnp = {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy", "metadata": {"name": "x"},
           "spec": {"namespaceSelector": "tier in {'a','b'} && !has(skip)", "types": ["Ingress", "Egress"]}}
    st = statuses(run("5.3.2", facts_of(make_namespace("shop"), gnp)))
    assert st[("Namespace", None, "shop")] == "WARN"


def test_networkpolicy_unavailable_is_error():
    results = run("5.3.2", facts_of(make_namespace("shop"), unavailable={"NetworkPolicy": "forbidden"}))
    assert [r.status.value for r in results] == ["ERROR"]
    cilium_hidden = run("5.3.2", facts_of(make_namespace("shop"),
                                          unavailable={"CiliumNetworkPolicy.cilium.io": "forbidden"}))
    assert statuses(cilium_hidden)[("Namespace", None, "shop")] == "ERROR"
