"""CIS 5.3.2 as the CIS text has it: every namespace, system ones included,
needs at least one network policy that selects its pods. FAIL only without
one; the evidence names the directions covered so a reviewer sees an
ingress-only namespace. Cilium policies are read from `spec` and from the
top-level `specs` list, as the cilium.io/v2 CRDs define them."""
from __future__ import annotations

from tests.unit.section5_helpers import (_meta, by_target, container, facts_of, make_deployment_with_pods,
                                         make_namespace, make_netpol, pod_spec, run, statuses)


def ns_result(results, ns):
    return by_target(results)[("Namespace", None, ns)]


def cnp(name: str, namespace: str, spec: dict | None = None, specs: list[dict] | None = None) -> dict:
    obj = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": _meta(name, namespace)}
    if spec is not None:
        obj["spec"] = spec
    if specs is not None:
        obj["specs"] = specs
    return obj


def ccnp(name: str, spec: dict | None = None, specs: list[dict] | None = None) -> dict:
    obj = {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": _meta(name)}
    if spec is not None:
        obj["spec"] = spec
    if specs is not None:
        obj["specs"] = specs
    return obj


def test_cilium_policy_with_only_a_specs_list_counts():
    pol = cnp("shop-rules", "shop", specs=[
        {"endpointSelector": {"matchLabels": {"app": "web"}},
         "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "lb"}}]}]},
        {"endpointSelector": {}, "egress": [{"toEndpoints": [{"matchLabels": {
            "k8s:io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns"}}]}]},
    ])
    r = ns_result(run("5.3.2", facts_of(make_namespace("shop"), pol)), "shop")
    assert r.status.value == "PASS"
    assert "ingress" in r.message and "egress" in r.message


def test_clusterwide_cilium_policy_specs_list_covers_every_namespace_but_the_excluded():
    pol = ccnp("default-deny", specs=[{
        "endpointSelector": {"matchExpressions": [{"key": "io.kubernetes.pod.namespace", "operator": "NotIn",
                                                   "values": ["kube-system"]}]},
        "ingress": [{"fromEntities": ["cluster"]}], "egress": [{"toEntities": ["cluster"]}]}])
    st = statuses(run("5.3.2", facts_of(make_namespace("shop"), make_namespace("kube-system"), pol)))
    assert st[("Namespace", None, "shop")] == "PASS"
    assert st[("Namespace", None, "kube-system")] == "FAIL"


def test_system_namespaces_need_a_policy_too():
    facts = facts_of(make_namespace("kube-system"), make_namespace("kube-public"), make_namespace("kube-node-lease"),
                     make_netpol("allow-dns", "kube-system", ["Ingress"]))
    st = statuses(run("5.3.2", facts))
    assert st[("Namespace", None, "kube-system")] == "PASS"
    assert st[("Namespace", None, "kube-public")] == "FAIL"
    assert st[("Namespace", None, "kube-node-lease")] == "FAIL"


def test_ingress_only_namespace_passes_and_says_it_has_no_egress_policy():
    r = ns_result(run("5.3.2", facts_of(make_namespace("payments"), make_netpol("web", "payments", None))),
                  "payments")
    assert r.status.value == "PASS"
    assert "ingress only" in r.message and "no egress" in r.message


def test_namespace_without_any_policy_fails():
    facts = facts_of(make_namespace("shop"), make_namespace("ops"), make_netpol("deny-all", "ops", ["Ingress", "Egress"]))
    st = statuses(run("5.3.2", facts))
    assert st[("Namespace", None, "shop")] == "FAIL" and st[("Namespace", None, "ops")] == "PASS"


def test_clusterwide_policy_on_pod_labels_covers_only_namespaces_with_such_pods():
    pol = ccnp("web-ingress", spec={"endpointSelector": {"matchLabels": {"app": "web"}},
                                    "ingress": [{"fromEntities": ["world"]}]})
    facts = facts_of(make_namespace("shop"), make_namespace("batch"), pol,
                     make_deployment_with_pods("web", "shop", pod_spec(container())),
                     make_deployment_with_pods("worker", "batch", pod_spec(container())))
    st = statuses(run("5.3.2", facts))
    assert st[("Namespace", None, "shop")] == "PASS"
    assert st[("Namespace", None, "batch")] == "FAIL"


def test_host_policy_selects_no_pods():
    pol = ccnp("host-fw", spec={"nodeSelector": {"matchLabels": {"node-role.kubernetes.io/control-plane": ""}},
                                "ingress": [{"fromEntities": ["cluster"]}]})
    assert statuses(run("5.3.2", facts_of(make_namespace("shop"), pol)))[("Namespace", None, "shop")] == "FAIL"


def test_namespaced_policies_count_whatever_their_pod_selector():
    # CIS counts the policies a namespace has; a selective one is named as such in the evidence
    knp = make_netpol("web-only", "shop", ["Ingress"], selector={"matchLabels": {"app": "web"}})
    pol = cnp("db-only", "billing", spec={"endpointSelector": {"matchLabels": {"app": "db"}}, "egress": [{}]})
    results = run("5.3.2", facts_of(make_namespace("shop"), make_namespace("billing"), knp, pol))
    for name in ("shop", "billing"):
        r = ns_result(results, name)
        assert r.status.value == "PASS" and r.evidence[0].note == "selects some pods"


def test_pod_label_selector_without_collected_pods_is_not_a_fail():
    pol = ccnp("web-ingress", spec={"endpointSelector": {"matchLabels": {"app": "web"}},
                                    "ingress": [{"fromEntities": ["world"]}]})
    facts = facts_of(make_namespace("shop"), pol, unavailable={"Pod": "forbidden: needs list on pods"})
    assert statuses(run("5.3.2", facts))[("Namespace", None, "shop")] == "WARN"
