"""CIS 5.6.4: what in `default` is Kubernetes' own and what is a user's.

Kubernetes' own objects are recognised by what Kubernetes guarantees (a
Service of the same name, a Service ownerReference, the `kubernetes` names),
never by a label or annotation anyone can set."""
from __future__ import annotations

from tests.unit.section5_helpers import _meta, facts_of, make_namespace, make_sa, run, statuses

DEFAULT = ("Namespace", None, "default")


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, "default"),
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 443, "targetPort": 6443}]}}


def endpoints(name: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(name, "default", labels),
            "subsets": [{"addresses": [{"ip": "10.0.0.10"}], "ports": [{"name": "https", "port": 6443}]}]}


def endpoint_slice(name: str, service_name: str, owner: dict | None = None) -> dict:
    labels = {"kubernetes.io/service-name": service_name,
              "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    owners = None
    if owner is not None:
        owners = [{"apiVersion": "v1", "kind": "Service", "name": owner["metadata"]["name"],
                   "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": _meta(name, "default", labels, owners), "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.10"], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}


def builtin() -> list[dict]:
    """What a fresh kubeadm cluster has in `default`."""
    kube = service("kubernetes")
    kube_slice = endpoint_slice("kubernetes", "kubernetes")
    kube_slice["metadata"]["labels"] = {"kubernetes.io/service-name": "kubernetes"}   # the API server's own
    return [make_namespace("default"), kube, endpoints("kubernetes"), kube_slice,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("kube-root-ca.crt", "default")},
            make_sa("default", "default")]


def verdict(*objs) -> tuple[str, str]:
    results = run("5.6.4", facts_of(builtin(), *objs))
    r = [r for r in results if (r.target.kind, r.target.namespace, r.target.name) == DEFAULT][0]
    return r.status.value, " ".join(e.what for e in r.evidence)


def test_fresh_cluster_default_namespace_passes():
    assert verdict()[0] == "PASS"


def test_endpoints_of_an_existing_service_follow_it():
    web = service("web")
    status, ev = verdict(web, endpoints("web"), endpoint_slice("web-8x2kq", "web", owner=web))
    assert status == "FAIL" and ev == "Service default/web"      # the Service, not its endpoints


def test_endpoints_without_a_service_are_a_user_object():
    # a hand-written Endpoints (e.g. pointing at an external database) is user intent
    status, ev = verdict(endpoints("legacy-db"))
    assert status == "FAIL" and "Endpoints default/legacy-db" in ev


def test_a_label_does_not_make_an_object_kubernetes_own():
    # anyone can set kubernetes.io/service-name: kubernetes on their own EndpointSlice
    fake = endpoint_slice("exfil", "kubernetes")
    status, ev = verdict(fake)
    assert status == "FAIL" and "EndpointSlice default/exfil" in ev


def test_endpoint_slice_without_a_service_owner_is_a_user_object():
    status, ev = verdict(endpoint_slice("manual-slice", "external-api"))
    assert status == "FAIL" and "EndpointSlice default/manual-slice" in ev


def test_leases_in_default_are_user_objects():
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": _meta("my-operator-leader", "default"),
             "spec": {"holderIdentity": "my-operator-5d8f", "leaseDurationSeconds": 15}}
    status, ev = verdict(lease)
    assert status == "FAIL" and "Lease default/my-operator-leader" in ev


def test_an_annotation_does_not_make_a_secret_the_default_service_account_token():
    legacy_token = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                    "metadata": _meta("default-token-x7k2p", "default", annotations={
                        "kubernetes.io/service-account.name": "default",
                        "kubernetes.io/service-account.uid": "6d1c3a52-0c1d-4b8e-9d0f-1f2e3a4b5c6d"})}
    assert verdict(legacy_token)[0] == "PASS"       # the token controller's own (clusters before v1.24)
    opaque = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": _meta("app-credentials", "default",
                                annotations={"kubernetes.io/service-account.name": "default"})}
    status, ev = verdict(opaque)
    assert status == "FAIL" and "Secret default/app-credentials" in ev
