"""ApiSource against the wire-level test API server (real client, real TLS)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from apiserver import KUBE_SYSTEM_UID, FakeApiServer, Hang, ResourceType, sample_cluster
from kaudit.collect import SourceError
from kaudit.collect.api import ApiSource
from kaudit.collect.permissions import READS, cluster_role_rules
from kaudit.model import CLUSTER_ROLE, CONFIG_MAP, NODE, POD


def scan(server: FakeApiServer, kubeconfig_for, token: str = "admin-token", **kw) -> "ApiSource":
    kw.setdefault("backoff", 0.01)
    return ApiSource(kubeconfig_for(server, token), **kw)


def test_full_scan_collects_every_kind_once_per_type(api_server, kubeconfig_for):
    messages: list[str] = []
    facts = scan(api_server, kubeconfig_for).collect(progress=messages.append)

    assert facts.source == "api"
    assert facts.unavailable == {} and facts.load_errors == [] and facts.configz_errors == {}
    ident = facts.identity
    assert ident.api_server == api_server.url
    assert ident.version == "v1.30.2" and ident.name == "kaudit-test"   # the context, as kubectl names it
    assert ident.cluster_id == KUBE_SYSTEM_UID and ident.node_count == 3
    assert ident.platform == "kubeadm" and ident.managed_control_plane is False
    assert sorted(facts.kubelet_configz) == ["cp-1", "worker-1", "worker-2"]
    assert facts.kubelet_configz["cp-1"]["readOnlyPort"] == 0

    pods = {p.ref(): p for p in facts.of_kind(POD)}
    assert "kube-system/kube-apiserver-cp-1" in pods            # static pods: the control plane
    apiserver_cmd = pods["kube-system/kube-apiserver-cp-1"].body["spec"]["containers"][0]["command"]
    assert "--authorization-mode=Node,RBAC" in apiserver_cmd
    # List items carry no kind/apiVersion on the wire; the collector sets them.
    assert {p.api_version for p in facts.of_kind(POD)} == {"v1"}
    # Literal env values never leave the collector.
    web = pods["app/web-5d8f-0"].body["spec"]["containers"][0]
    assert web["env"] == [{"name": "MODE"}]
    # Only the kube-system ConfigMap checks parse (kube-proxy's config), by name.
    assert sorted(c.ref() for c in facts.of_kind(CONFIG_MAP)) == ["kube-system/kube-proxy"]

    # One list per resource type across all namespaces; no per-namespace loops.
    lists = [r for r in api_server.requests if r.verb == "list"]
    per_type = {(r.group, r.resource, r.namespace) for r in lists}
    assert len(lists) == len(per_type)
    assert not any(r.namespace for r in lists if r.resource in ("pods", "roles", "deployments"))
    # Never Secrets, and nothing but reads.
    assert not [r for r in api_server.requests if r.resource and r.resource.startswith("secrets")]
    # The one POST is SelfSubjectReview (who the server says we are): it stores nothing.
    assert {(r.method, r.path) for r in api_server.requests if r.method != "GET"} == {
        ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews")}
    assert not [r for r in api_server.requests if r.resource == "configmaps" and r.verb == "list"]

    assert any(m.startswith("listing pods") for m in messages)
    assert "kubelet configz: 3/3 nodes (0 unavailable)" in messages


def test_token_that_may_not_list_clusterroles(make_api_server, kubeconfig_for):
    rules = [dict(r) for r in cluster_role_rules()]
    for r in rules:
        if "clusterroles" in r["resources"]:
            r["resources"] = [x for x in r["resources"] if x != "clusterroles"]
    server = make_api_server(tokens={"limited": rules})
    facts = scan(server, kubeconfig_for, "limited").collect()
    assert facts.unavailable == {
        CLUSTER_ROLE: "forbidden: needs list on clusterroles.rbac.authorization.k8s.io"}
    assert CLUSTER_ROLE not in facts.objects
    assert len(facts.of_kind("ClusterRoleBinding")) == 1 and len(facts.of_kind(POD)) == 7
    assert len(facts.kubelet_configz) == 3


def test_shipped_role_is_sufficient(make_api_server, kubeconfig_for):
    server = make_api_server(tokens={"kaudit": cluster_role_rules()})
    facts = scan(server, kubeconfig_for, "kaudit").collect()
    assert facts.unavailable == {} and facts.configz_errors == {}
    assert not [r for r in server.requests if r.status == 403]


def test_each_rule_of_the_shipped_role_is_needed(make_api_server, kubeconfig_for):
    """Minimality: dropping any one granted resource makes something unavailable."""
    full = cluster_role_rules()
    grants = [(i, res) for i, rule in enumerate(full) for res in rule["resources"]]
    tokens = {}
    for i, res in grants:
        rules = [dict(r) for r in full]
        rules[i] = {**rules[i], "resources": [x for x in rules[i]["resources"] if x != res]}
        tokens[f"without-{res}-{i}"] = rules
    server = make_api_server(tokens=tokens, addons=("cilium", "calico", "kyverno", "gatekeeper"),
                             extra_types=[ResourceType("projectcalico.org", "v3", "networkpolicies",
                                                       "NetworkPolicy", True, True),
                                          ResourceType("projectcalico.org", "v3", "globalnetworkpolicies",
                                                       "GlobalNetworkPolicy", False, True)])
    for token in tokens:
        facts = scan(server, kubeconfig_for, token, configz_timeout=2).collect()
        assert facts.unavailable or facts.configz_errors, f"{token}: dropping it changed nothing"


def test_absent_group_is_absent_not_an_error(api_server, kubeconfig_for):
    facts = scan(api_server, kubeconfig_for).collect()
    for key in ("CiliumNetworkPolicy.cilium.io", "ClusterPolicy.kyverno.io", "NetworkPolicy.crd.projectcalico.org",
                "ConstraintTemplate.templates.gatekeeper.sh"):
        assert key not in facts.objects and key not in facts.unavailable
    assert not [r for r in api_server.requests if r.group == "cilium.io"]


def test_addon_policies_and_dynamic_gatekeeper_constraints(make_api_server, kubeconfig_for):
    objs = sample_cluster() + [
        {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
         "metadata": {"name": "deny", "namespace": "app"}, "spec": {"endpointSelector": {}}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
         "metadata": {"name": "default-deny"}, "spec": {"selector": "all()", "types": ["Ingress"]}},
        {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "restrict"},
         "spec": {"validationFailureAction": "Enforce", "rules": []}},
        {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sPSPPrivilegedContainer",
         "metadata": {"name": "no-privileged"}, "spec": {"enforcementAction": "deny"}},
    ]
    server = make_api_server(objs, addons=("cilium", "calico", "kyverno", "gatekeeper"), extra_types=[
        ResourceType("constraints.gatekeeper.sh", "v1beta1", "k8spspprivilegedcontainer",
                     "K8sPSPPrivilegedContainer", False, True)])
    facts = scan(server, kubeconfig_for).collect()
    assert [o.name for o in facts.of_kind("CiliumNetworkPolicy.cilium.io")] == ["deny"]
    assert [o.name for o in facts.of_kind("GlobalNetworkPolicy.crd.projectcalico.org")] == ["default-deny"]
    assert facts.of_kind("ClusterPolicy.kyverno.io")[0].body["spec"]["validationFailureAction"] == "Enforce"
    constraint = facts.of_kind("K8sPSPPrivilegedContainer.constraints.gatekeeper.sh")
    assert constraint[0].body["spec"]["enforcementAction"] == "deny"
    assert facts.of_kind("NetworkPolicy")[0].name == "default-deny"   # not mixed with Calico's
    assert facts.unavailable == {}


def test_page_size_one_gives_the_same_objects(api_server, kubeconfig_for):
    big = scan(api_server, kubeconfig_for).collect()
    lists_before = len([r for r in api_server.requests if r.resource == "pods"])
    small = scan(api_server, kubeconfig_for, page_size=1).collect()
    pod_lists = [r for r in api_server.requests if r.resource == "pods"][lists_before:]
    assert len(pod_lists) == 7                       # one request per pod
    assert pod_lists[0].query["limit"] == ["1"] and "continue" in pod_lists[1].query
    for key, objs in big.objects.items():
        assert [(o.ref(), o.body) for o in small.of_kind(key)] == [(o.ref(), o.body) for o in objs], key


def test_server_error_twice_then_success_is_retried(api_server, kubeconfig_for):
    fault = api_server.add_fault(r"^/api/v1/pods$", 500, times=2)
    facts = scan(api_server, kubeconfig_for).collect()
    assert fault.hits == 2
    assert len(facts.of_kind(POD)) == 7 and POD not in facts.unavailable


def test_persistent_server_error_marks_the_kind_unavailable(api_server, kubeconfig_for):
    api_server.add_fault(r"^/apis/apps/v1/deployments$", 503, times=100)
    facts = scan(api_server, kubeconfig_for, max_attempts=3).collect()
    assert facts.unavailable["Deployment"].startswith("could not list deployments.apps: HTTP 503")
    assert len(facts.of_kind(POD)) == 7             # the rest is still collected


def test_429_honours_retry_after(api_server, kubeconfig_for):
    fault = api_server.add_fault(r"^/api/v1/nodes$", 429, times=1, retry_after="1")
    start = time.monotonic()
    facts = scan(api_server, kubeconfig_for).collect()
    assert time.monotonic() - start >= 1.0
    assert fault.hits == 1 and len(facts.of_kind(NODE)) == 3


def test_configz_timeout_on_one_node(api_server, kubeconfig_for):
    api_server.configz["worker-2"] = Hang(5)
    api_server.configz["worker-1"] = 503
    start = time.monotonic()
    facts = scan(api_server, kubeconfig_for, configz_timeout=0.5).collect()
    assert time.monotonic() - start < 4
    assert sorted(facts.kubelet_configz) == ["cp-1"]
    assert facts.configz_errors["worker-2"].startswith("timed out")
    assert facts.configz_errors["worker-1"].startswith("unavailable: HTTP 503")


def test_configz_forbidden_is_recorded_per_node(make_api_server, kubeconfig_for):
    rules = [r for r in cluster_role_rules() if r["resources"] != ["nodes/proxy"]]
    server = make_api_server(tokens={"no-proxy": rules})
    facts = scan(server, kubeconfig_for, "no-proxy").collect()
    assert facts.configz_errors == {n: "forbidden: needs get on nodes/proxy"
                                    for n in ("cp-1", "worker-1", "worker-2")}
    assert facts.unavailable == {}


def test_401_is_exit_3_naming_the_server(api_server, kubeconfig_for):
    with pytest.raises(SourceError) as err:
        scan(api_server, kubeconfig_for, "wrong-token").collect()
    assert err.value.exit_code == 3
    assert api_server.url in str(err.value) and "401" in str(err.value)
    assert "\n" not in str(err.value)


def test_unreachable_port_is_exit_3(api_server, kubeconfig_for, tmp_path):
    import socket
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = api_server.write_kubeconfig(tmp_path / "dead", server=f"https://127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        ApiSource(str(path)).collect()
    assert time.monotonic() - start < 5
    assert err.value.exit_code == 3
    assert f"https://127.0.0.1:{port}" in str(err.value) and "connection refused" in str(err.value)


def test_tls_failure_is_exit_3(make_api_server, kubeconfig_for, tmp_path):
    a, b = make_api_server(), make_api_server()
    cfg = a.kubeconfig_dict()
    cfg["clusters"][0]["cluster"]["certificate-authority"] = str(b.ca_file)   # the wrong CA
    path = tmp_path / "wrong-ca"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(SourceError) as err:
        ApiSource(str(path)).collect()
    assert err.value.exit_code == 3
    assert "TLS" in str(err.value) and a.url in str(err.value)


def test_kubeconfig_merged_from_two_files_via_env(api_server, tmp_path, monkeypatch):
    full = api_server.kubeconfig_dict(context="merged", cluster="prod-eu")
    first = {k: v for k, v in full.items() if k != "users"}
    second = {"apiVersion": "v1", "kind": "Config", "users": full["users"],
              "clusters": [], "contexts": []}
    (tmp_path / "a").write_text(yaml.safe_dump(first))
    (tmp_path / "b").write_text(yaml.safe_dump(second))
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    facts = ApiSource().collect()
    assert facts.identity.name == "merged" and len(facts.of_kind(NODE)) == 3   # the context's name


def test_context_selects_cluster_and_user(api_server, tmp_path):
    good = api_server.kubeconfig_dict(context="good", cluster="c-good", user="u-good")
    bad = api_server.kubeconfig_dict("wrong-token", context="bad", cluster="c-bad", user="u-bad")
    merged = {**bad, "clusters": bad["clusters"] + good["clusters"], "users": bad["users"] + good["users"],
              "contexts": bad["contexts"] + good["contexts"], "current-context": "bad"}
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(merged))
    assert ApiSource(str(path), context="good").collect().identity.name == "good"
    with pytest.raises(SourceError) as err:
        ApiSource(str(path)).collect()                  # current-context: the bad token
    assert err.value.exit_code == 3
    with pytest.raises(SourceError) as err:
        ApiSource(str(path), context="nope").collect()
    assert err.value.exit_code == 2


@pytest.mark.parametrize("text", ["clusters: [unclosed", "just a string", "apiVersion: v1\nkind: Config\n"])
def test_malformed_kubeconfig_is_exit_2(tmp_path, text, make_api_server):
    path = tmp_path / "kc"
    path.write_text(text)
    with pytest.raises(SourceError) as err:
        ApiSource(str(path)).collect()
    assert err.value.exit_code == 2
    assert str(path) in str(err.value)


def test_missing_kubeconfig_is_exit_2(tmp_path, make_api_server):
    with pytest.raises(SourceError) as err:
        ApiSource(str(tmp_path / "none")).collect()
    assert err.value.exit_code == 2


def test_in_cluster_config(api_server, tmp_path, monkeypatch):
    from kubernetes.config import incluster_config
    token = tmp_path / "token"
    token.write_text("admin-token")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(api_server.ca_file))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api_server.port))
    monkeypatch.setenv("HOME", str(tmp_path))          # no ~/.kube/config to fall back to
    facts = ApiSource().collect()
    assert facts.identity.name == "127.0.0.1" and facts.identity.api_server == api_server.url   # the API host
    assert len(facts.of_kind(POD)) == 7


def test_managed_control_plane_is_detected(make_api_server, kubeconfig_for):
    objs = [o for o in sample_cluster()
            if not (o["kind"] == "Pod" and o["metadata"]["namespace"] == "kube-system")]
    for o in objs:
        if o["kind"] == "Node":
            o["metadata"]["labels"].pop("node-role.kubernetes.io/control-plane", None)
            o["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "ng-1"
            o["spec"]["providerID"] = "aws:///eu-west-1a/i-0abc"
    server = make_api_server(objs, version="v1.30.4-eks-a737599")
    facts = scan(server, kubeconfig_for).collect()
    assert facts.identity.platform == "eks" and facts.identity.managed_control_plane is True


def test_every_read_in_the_table_is_requested(api_server, kubeconfig_for):
    """The permissions table drives the collector: nothing listed is skipped."""
    scan(api_server, kubeconfig_for).collect()
    seen = {(r.group, r.resource.split("/")[0]) for r in api_server.requests if r.resource}
    for read in READS:
        if not read.optional:
            assert (read.group, read.resource) in seen, read


def test_printed_cluster_role_is_read_only_and_secret_free():
    from kaudit.collect.permissions import cluster_role_manifest, cluster_role_yaml
    role = yaml.safe_load(cluster_role_yaml())
    assert role == cluster_role_manifest() and role["kind"] == "ClusterRole"
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list"}
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]
        assert not any(r.startswith("secrets") for r in rule["resources"])
    assert {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]} in role["rules"]
    cm = next(r for r in role["rules"] if "configmaps" in r["resources"])
    assert cm["verbs"] == ["get"] and cm["resourceNames"] == ["kube-proxy"]
    extra = cluster_role_manifest(constraint_resources=["k8spspprivilegedcontainer"])["rules"][-1]
    assert extra == {"apiGroups": ["constraints.gatekeeper.sh"], "resources": ["k8spspprivilegedcontainer"],
                     "verbs": ["list"]}


def test_malformed_kubeconfig_message_does_not_echo_credentials(tmp_path):
    path = tmp_path / "kc"
    path.write_text('users:\n- name: u\n  user:\n    token: "SUPER-SECRET-TOKEN\n')   # unclosed quote
    with pytest.raises(SourceError) as err:
        ApiSource(str(path)).collect()
    assert err.value.exit_code == 2 and "not valid YAML" in str(err.value)
    assert "SUPER-SECRET" not in str(err.value)
