"""CIS 5.1: RBAC effective permissions, allow-list, service accounts."""
from __future__ import annotations

from tests.unit.section5_helpers import (by_target, container, facts_of, make_binding, make_deployment_with_pods,
                              make_namespace, make_role, make_sa, pod_spec, rule, run, statuses, subject)

# Kubernetes' own objects, as a kubeadm cluster has them.
BOOTSTRAP = [
    make_role("cluster-admin", [rule(["*"], ["*"], ["*"]), rule(["*"], [], urls=["*"])]),
    make_binding("cluster-admin", "cluster-admin", [subject("Group", "system:masters")]),
    make_role("system:controller:generic-garbage-collector", [rule(["get", "list", "watch", "patch", "update",
                                                                     "delete"], ["*"], ["*"])]),
    make_binding("system:controller:generic-garbage-collector", "system:controller:generic-garbage-collector",
                 [subject("ServiceAccount", "generic-garbage-collector", "kube-system")]),
    make_role("system:kube-controller-manager", [rule(["create", "delete", "get", "update"], ["secrets"]),
                                                 rule(["create"], ["serviceaccounts/token"])]),
    make_binding("system:kube-controller-manager", "system:kube-controller-manager",
                 [subject("User", "system:kube-controller-manager")]),
    make_role("system:node", [rule(["get", "list", "watch"], ["secrets"])]),
    make_binding("system:node", "system:node", []),
]


def chain_of(result) -> str:
    return " | ".join(f"{e.what} :: {e.value}" for e in result.evidence)


def test_cluster_admin_binding_fails_and_bootstrap_one_is_shown_allow_listed():
    facts = facts_of(BOOTSTRAP, make_binding("ci-deployer-admin", "cluster-admin",
                                             [subject("ServiceAccount", "deployer", "ci")]))
    results = run("5.1.1", facts)
    st = statuses(results)
    assert st[("ClusterRoleBinding", None, "ci-deployer-admin")] == "FAIL"
    allow = [r for r in results if r.target.kind == "Cluster" and "allow-listed" in r.message]
    assert allow and allow[0].status.value == "PASS"
    assert "system:masters" in chain_of(allow[0])


def test_cluster_admin_only_defaults_passes():
    results = run("5.1.1", facts_of(BOOTSTRAP))
    assert {r.status.value for r in results} == {"PASS"}


def test_rolebinding_to_cluster_admin_in_a_namespace_fails():
    facts = facts_of(BOOTSTRAP, make_binding("team-admin", "cluster-admin", [subject("User", "alice")],
                                             namespace="shop", role_kind="ClusterRole"))
    assert statuses(run("5.1.1", facts))[("RoleBinding", "shop", "team-admin")] == "FAIL"


def test_secrets_read_through_aggregated_role_shows_full_chain():
    # monitoring-view aggregates every ClusterRole labelled for it; one of them reads secrets
    facts = facts_of(
        BOOTSTRAP,
        make_role("monitoring-view", [], aggregate=[{"matchLabels": {"example.com/aggregate-to-monitoring": "true"}}]),
        make_role("monitoring-secrets", [rule(["get", "list"], ["secrets"])],
                  labels={"example.com/aggregate-to-monitoring": "true"}),
        make_role("monitoring-pods", [rule(["get"], ["pods"])], labels={"example.com/aggregate-to-monitoring": "true"}),
        make_binding("prometheus", "monitoring-view", [subject("ServiceAccount", "prometheus", "monitoring")]),
    )
    results = run("5.1.2", facts)
    r = by_target(results)[("ServiceAccount", "monitoring", "prometheus")]
    assert r.status.value == "FAIL"
    ev = r.evidence[0]
    assert "ServiceAccount monitoring/prometheus → ClusterRoleBinding prometheus → ClusterRole monitoring-view" in ev.what
    assert "secrets" in ev.value and "aggregated from ClusterRole monitoring-secrets" in ev.note
    # controller-manager reads secrets through its bootstrap binding: allow-listed, shown, not dropped
    allow = [x for x in results if x.target.kind == "Cluster" and "allow-listed" in x.message]
    assert "User system:kube-controller-manager" in allow[0].message


def test_wildcard_resources_and_verbs_grant_secrets_and_subresources():
    facts = facts_of(BOOTSTRAP,
                     make_role("ops-all", [rule(["*"], ["*"], ["*"])]),
                     make_binding("ops-all", "ops-all", [subject("Group", "ops")]))
    for cid in ("5.1.2", "5.1.4", "5.1.8", "5.1.9", "5.1.10", "5.1.11", "5.1.12", "5.1.13"):
        assert statuses(run(cid, facts))[("Group", None, "ops")] == "FAIL", cid


def test_subresource_matching_follows_kubernetes():
    # nodes/* does not match nodes/proxy in Kubernetes RBAC; */proxy does
    facts = facts_of(BOOTSTRAP,
                     make_role("node-reader", [rule(["get"], ["nodes", "nodes/*"])]),
                     make_role("any-proxy", [rule(["get"], ["*/proxy"])]),
                     make_binding("node-reader", "node-reader", [subject("User", "reader")]),
                     make_binding("any-proxy", "any-proxy", [subject("User", "proxier")]))
    st = statuses(run("5.1.10", facts))
    assert ("User", None, "reader") not in st
    assert st[("User", None, "proxier")] == "FAIL"


def test_resource_names_narrow_to_warn_and_never_allow_create_of_top_level():
    facts = facts_of(BOOTSTRAP,
                     make_role("read-one", [rule(["get"], ["secrets"], names=["tls-cert"])], namespace="shop"),
                     make_binding("read-one", "read-one", [subject("ServiceAccount", "web", "shop")], namespace="shop"),
                     make_role("create-named-pv", [rule(["create"], ["persistentvolumes"], names=["pv1"])]),
                     make_binding("create-named-pv", "create-named-pv", [subject("User", "bob")]))
    assert statuses(run("5.1.2", facts))[("ServiceAccount", "shop", "web")] == "WARN"
    assert ("User", None, "bob") not in statuses(run("5.1.9", facts))


def test_rolebinding_cannot_grant_cluster_scoped_resources():
    facts = facts_of(BOOTSTRAP,
                     make_role("pv-maker", [rule(["create"], ["persistentvolumes"])]),
                     make_binding("pv-maker", "pv-maker", [subject("User", "carol")], namespace="shop",
                                  role_kind="ClusterRole"),
                     make_binding("pv-maker", "pv-maker", [subject("User", "dave")]))
    st = statuses(run("5.1.9", facts))
    assert ("User", None, "carol") not in st
    assert st[("User", None, "dave")] == "FAIL"


def test_bind_escalate_impersonate_and_broad_group_named():
    facts = facts_of(BOOTSTRAP,
                     make_role("impersonator", [rule(["impersonate"], ["users", "groups"])]),
                     make_binding("everyone-impersonates", "impersonator", [subject("Group", "system:authenticated")]),
                     make_role("role-binder", [rule(["bind", "escalate"], ["clusterroles"], ["rbac.authorization.k8s.io"])]),
                     make_binding("role-binder", "role-binder", [subject("User", "erin")]))
    results = run("5.1.8", facts)
    st = statuses(results)
    assert st[("Group", None, "system:authenticated")] == "FAIL"
    assert "every authenticated user" in by_target(results)[("Group", None, "system:authenticated")].message
    assert st[("User", None, "erin")] == "FAIL"


def test_csr_approval_webhooks_and_token_creation():
    facts = facts_of(BOOTSTRAP,
                     make_role("csr-approver", [rule(["update"], ["certificatesigningrequests/approval"],
                                                     ["certificates.k8s.io"])]),
                     make_binding("csr-approver", "csr-approver", [subject("User", "pki-bot")]),
                     make_role("hook-admin", [rule(["patch"], ["mutatingwebhookconfigurations"],
                                                   ["admissionregistration.k8s.io"])]),
                     make_binding("hook-admin", "hook-admin", [subject("ServiceAccount", "installer", "ops")]),
                     make_role("token-maker", [rule(["create"], ["serviceaccounts/token"])], namespace="ci"),
                     make_binding("token-maker", "token-maker", [subject("ServiceAccount", "runner", "ci")],
                                  namespace="ci"))
    assert statuses(run("5.1.11", facts))[("User", None, "pki-bot")] == "FAIL"
    assert statuses(run("5.1.12", facts))[("ServiceAccount", "ops", "installer")] == "FAIL"
    st13 = statuses(run("5.1.13", facts))
    assert st13[("ServiceAccount", "ci", "runner")] == "FAIL"
    assert ("User", None, "system:kube-controller-manager") not in st13   # allow-listed
    # read-only access to CSRs is not approval
    facts2 = facts_of(BOOTSTRAP, make_role("csr-view", [rule(["get", "list"], ["certificatesigningrequests"],
                                                             ["certificates.k8s.io"])]),
                      make_binding("csr-view", "csr-view", [subject("User", "viewer")]))
    assert ("User", None, "viewer") not in statuses(run("5.1.11", facts2))


def test_subject_added_to_bootstrap_binding_is_not_allow_listed():
    hijacked = make_binding("system:kube-controller-manager", "system:kube-controller-manager",
                            [subject("User", "system:kube-controller-manager"), subject("User", "mallory")])
    facts = facts_of([o for o in BOOTSTRAP if o["metadata"]["name"] != "system:kube-controller-manager"
                      or o["kind"] != "ClusterRoleBinding"], hijacked)
    st = statuses(run("5.1.2", facts))
    assert st[("User", None, "mallory")] == "FAIL"
    assert ("User", None, "system:kube-controller-manager") not in st


def test_wildcards_in_roles_and_aggregated_roles():
    facts = facts_of(BOOTSTRAP,
                     make_role("crd-admin", [rule(["*"], ["widgets"], ["example.com"])], namespace="shop"),
                     make_role("tidy", [rule(["get"], ["pods"])]),
                     make_role("agg", [], aggregate=[{"matchLabels": {"agg": "yes"}}]),
                     make_role("agg-src", [rule(["list"], ["*"], ["apps"])], labels={"agg": "yes"}))
    results = run("5.1.3", facts)
    st = statuses(results)
    assert st[("Role", "shop", "crd-admin")] == "FAIL"
    assert st[("ClusterRole", None, "agg")] == "FAIL"
    assert "aggregated from ClusterRole agg-src" in by_target(results)[("ClusterRole", None, "agg")].evidence[0].note
    assert ("ClusterRole", None, "tidy") not in st
    assert ("ClusterRole", None, "cluster-admin") not in st   # allow-listed, shown in the PASS line
    assert any(r.target.kind == "Cluster" and "cluster-admin" in chain_of(r) for r in results)


def test_system_masters_binding_fails_and_warns_about_certificates():
    facts = facts_of(BOOTSTRAP, make_binding("legacy-admins", "view", [subject("Group", "system:masters")]))
    results = run("5.1.7", facts)
    st = statuses(results)
    assert st[("ClusterRoleBinding", None, "legacy-admins")] == "FAIL"
    assert st[("ClusterRoleBinding", None, "cluster-admin")] == "PASS"
    warn = by_target(results)[("Cluster", None, "cluster")]
    assert warn.status.value == "WARN" and "client certificate" in warn.message


def test_default_service_accounts():
    facts = facts_of(BOOTSTRAP, make_namespace("shop"), make_namespace("payments"), make_namespace("batch"),
                     make_sa("default", "shop", automount=False),
                     make_sa("default", "payments"),                                  # automounts
                     make_sa("default", "batch", automount=False),
                     make_binding("batch-default", "edit", [subject("ServiceAccount", "default", "batch")],
                                  namespace="batch", role_kind="ClusterRole"),
                     make_role("edit", [rule(["get"], ["pods"])]))
    st = statuses(run("5.1.5", facts))
    assert st[("ServiceAccount", "shop", "default")] == "PASS"
    assert st[("ServiceAccount", "payments", "default")] == "FAIL"
    assert st[("ServiceAccount", "batch", "default")] == "FAIL"


def test_token_mounts_pod_setting_wins_over_service_account():
    facts = facts_of(
        BOOTSTRAP, make_namespace("shop"),
        make_sa("web", "shop"),                                     # SA does not opt out, no RBAC
        make_sa("quiet", "shop", automount=False),
        make_sa("operator", "shop"),
        make_role("operator", [rule(["get"], ["configmaps"])], namespace="shop"),
        make_binding("operator", "operator", [subject("ServiceAccount", "operator", "shop")], namespace="shop"),
        make_deployment_with_pods("web", spec=pod_spec(container(), sa="web")),
        make_deployment_with_pods("web-optout", spec=pod_spec(container(), sa="web", automountServiceAccountToken=False)),
        make_deployment_with_pods("quiet-but-pod-says-yes",
                                  spec=pod_spec(container(), sa="quiet", automountServiceAccountToken=True)),
        make_deployment_with_pods("quiet", spec=pod_spec(container(), sa="quiet")),
        make_deployment_with_pods("operator", spec=pod_spec(container(), sa="operator")),
    )
    st = statuses(run("5.1.6", facts))
    assert st[("Deployment", "shop", "web")] == "FAIL"
    assert st[("Deployment", "shop", "quiet-but-pod-says-yes")] == "FAIL"
    assert ("Deployment", "shop", "web-optout") not in st
    assert ("Deployment", "shop", "quiet") not in st
    assert ("Deployment", "shop", "operator") not in st


def test_unavailable_rbac_kinds_are_errors_not_pass():
    facts = facts_of(BOOTSTRAP, unavailable={"ClusterRoleBinding": "forbidden: needs list on "
                                                                  "clusterrolebindings.rbac.authorization.k8s.io"})
    results = run("5.1.2", facts)
    assert any(r.status.value == "ERROR" and "ClusterRoleBinding" in r.message and "forbidden" in r.message
               for r in results)
    assert not any(r.status.value == "PASS" and "no subject" in r.message for r in results)


def test_no_rbac_objects_at_all_is_an_error():
    results = run("5.1.4", facts_of(make_namespace("shop")))
    assert [r.status.value for r in results] == ["ERROR"]


def test_aggregation_with_match_expressions_and_transitive_sources():
    facts = facts_of(BOOTSTRAP,
                     make_role("top", [], aggregate=[{"matchExpressions": [{"key": "tier", "operator": "In",
                                                                            "values": ["mid"]}]}]),
                     make_role("mid", [], labels={"tier": "mid"}, aggregate=[{"matchLabels": {"tier": "leaf"}}]),
                     make_role("leaf", [rule(["create"], ["pods"])], labels={"tier": "leaf"}),
                     make_binding("top", "top", [subject("User", "frank")]))
    r = by_target(run("5.1.4", facts))[("User", None, "frank")]
    assert r.status.value == "FAIL" and "aggregated from ClusterRole leaf" in r.evidence[0].note


def test_hostile_rule_fields_do_not_crash():
    bad = make_role("weird", [{"verbs": "get", "resources": [1, None, "secrets"], "apiGroups": None},
                              "not-a-rule"])
    facts = facts_of(BOOTSTRAP, bad, make_binding("weird", "weird", [subject("User", "x\x1b[31m"), {"kind": 5}]))
    results = run("5.1.2", facts)
    assert all(r.status.value != "ERROR" for r in results)
