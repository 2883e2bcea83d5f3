"""CIS 5.1.1, 5.1.4, 5.1.8: permissions as Kubernetes really evaluates them.

5.1.8 follows pkg/registry/rbac/escalation_check.go: `escalate` is checked
with the role request's own namespace (none for a ClusterRole, so only a
ClusterRoleBinding can grant it), `bind` with the namespace of the binding
being created (so a RoleBinding that grants `bind` on clusterroles lets its
subjects bind ClusterRoles in that namespace)."""
from __future__ import annotations

import pytest

from tests.unit.section5_helpers import by_target, facts_of, make_binding, make_role, make_sa, rule, run, statuses, subject
from tests.unit.test_section5_rbac import BOOTSTRAP

RBAC = ["rbac.authorization.k8s.io"]


def _granted(check_id: str, rules: list[dict], namespace: str | None, role_namespace: str | None = None) -> str | None:
    """Status for User alice bound to a role with `rules` (RoleBinding in `namespace`, or cluster-wide)."""
    role = make_role("delegated", rules, namespace=role_namespace)
    binding = make_binding("alice-delegated", "delegated", [subject("User", "alice")], namespace=namespace,
                           role_kind="Role" if role_namespace else "ClusterRole")
    return statuses(run(check_id, facts_of(BOOTSTRAP, role, binding))).get(("User", None, "alice"))


def test_escalate_on_clusterroles_through_a_rolebinding_grants_nothing():
    assert _granted("5.1.8", [rule(["escalate"], ["clusterroles"], RBAC)], namespace="team-a") is None


def test_escalate_on_clusterroles_cluster_wide_is_reported():
    assert _granted("5.1.8", [rule(["escalate"], ["clusterroles"], RBAC)], namespace=None) == "FAIL"


def test_bind_on_clusterroles_through_a_rolebinding_is_reported():
    # lets alice create RoleBindings in team-a to any ClusterRole, cluster-admin included
    assert _granted("5.1.8", [rule(["bind"], ["clusterroles"], RBAC)], namespace="team-a") == "FAIL"


def test_escalate_on_roles_through_a_rolebinding_is_reported():
    assert _granted("5.1.8", [rule(["escalate"], ["roles"], RBAC)], namespace="team-a",
                    role_namespace="team-a") == "FAIL"


def test_escalate_and_bind_rule_through_a_rolebinding_names_bind_only():
    role = make_role("rbac-manager", [rule(["bind", "escalate"], ["clusterroles"], RBAC)])
    binding = make_binding("rbac-manager", "rbac-manager", [subject("User", "alice")], namespace="team-a",
                           role_kind="ClusterRole")
    r = by_target(run("5.1.8", facts_of(BOOTSTRAP, role, binding)))[("User", None, "alice")]
    assert r.status.value == "FAIL"
    assert "bind" in r.evidence[0].note and "escalate" not in r.evidence[0].note


def test_full_wildcard_role_bound_cluster_wide_is_cluster_admin_equivalent():
    god = make_role("platform-god", [rule(["*"], ["*"], ["*"])])
    facts = facts_of(BOOTSTRAP, god, make_binding("platform-team", "platform-god", [subject("Group", "platform")]))
    results = run("5.1.1", facts)
    r = by_target(results)[("ClusterRoleBinding", None, "platform-team")]
    assert r.status.value == "FAIL" and "cluster-admin equivalent" in r.message
    assert "Group platform" in r.message
    assert "ClusterRole platform-god" in r.evidence[0].what


def test_aggregated_full_wildcard_is_cluster_admin_equivalent_too():
    facts = facts_of(BOOTSTRAP,
                     make_role("ops", [], aggregate=[{"matchLabels": {"example.com/aggregate-to-ops": "true"}}]),
                     make_role("ops-everything", [rule(["*"], ["*"], ["*"])],
                               labels={"example.com/aggregate-to-ops": "true"}),
                     make_binding("ops", "ops", [subject("ServiceAccount", "argocd-application-controller", "argocd")]))
    r = by_target(run("5.1.1", facts))[("ClusterRoleBinding", None, "ops")]
    assert r.status.value == "FAIL" and "cluster-admin equivalent" in r.message


@pytest.mark.parametrize("rules", [
    [rule(["get", "list", "watch"], ["*"], ["*"])],           # read everything is not full control
    [rule(["*"], ["*"], ["apps"])],                           # one group only
    [rule(["*"], ["pods", "secrets"], ["*"])],
])
def test_less_than_full_wildcard_is_not_cluster_admin_equivalent(rules):
    facts = facts_of(BOOTSTRAP, make_role("broad", rules), make_binding("broad", "broad", [subject("User", "bob")]))
    assert ("ClusterRoleBinding", None, "broad") not in statuses(run("5.1.1", facts))


def test_full_wildcard_role_bound_in_one_namespace_is_not_cluster_wide():
    facts = facts_of(BOOTSTRAP, make_role("god", [rule(["*"], ["*"], ["*"])]),
                     make_binding("ns-god", "god", [subject("User", "bob")], namespace="shop", role_kind="ClusterRole"))
    assert statuses(run("5.1.1", facts)).get(("RoleBinding", "shop", "ns-god")) is None


@pytest.mark.parametrize("group, resource", [
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
    ("batch", "jobs"), ("batch", "cronjobs"), ("", "replicationcontrollers"),
])
def test_create_on_pod_controllers_creates_pods(group, resource):
    role = make_role("deployer", [rule(["create"], [resource], [group])], namespace="shop")
    binding = make_binding("ci-deployer", "deployer", [subject("ServiceAccount", "ci", "shop")], namespace="shop")
    r = by_target(run("5.1.4", facts_of(BOOTSTRAP, make_sa("ci", "shop"), role, binding)))[("ServiceAccount", "shop", "ci")]
    assert r.status.value == "FAIL"
    assert "ServiceAccount shop/ci → RoleBinding shop/ci-deployer → Role shop/deployer" in r.evidence[0].what
    assert resource in r.evidence[0].note and "creates pods" in r.evidence[0].note


def test_reading_pod_controllers_does_not_create_pods():
    role = make_role("viewer", [rule(["get", "list", "watch"], ["deployments", "jobs"], ["apps", "batch"])])
    facts = facts_of(BOOTSTRAP, role, make_binding("viewer", "viewer", [subject("User", "carol")]))
    assert ("User", None, "carol") not in statuses(run("5.1.4", facts))


def test_kaudit_own_service_account_gets_no_exemption():
    """kaudit's shipped RBAC, scanned by kaudit without waivers: its own grants are findings."""
    from pathlib import Path

    from kaudit.collect.manifests import ManifestSource
    from kaudit.model import Facts

    job = Path(__file__).resolve().parents[2] / "job"
    facts = Facts(cluster=ManifestSource([job / "rbac.yaml", job / "rbac-daemonset.yaml"]).collect())
    me = ("ServiceAccount", "kaudit", "kaudit")
    assert statuses(run("5.1.10", facts))[me] == "FAIL"      # get nodes/proxy, to read kubelet configz
    r = by_target(run("5.1.4", facts))[me]                    # creates the collector DaemonSet, hence pods
    assert r.status.value == "FAIL" and "DaemonSet controller" in r.evidence[0].note
