"""Issue 15: every target a section-5 check judges is listed, passing ones too.

A check that fails some targets and passes others names the passing ones in
one PASS on the cluster (`Result.passed`), with the evidence of why; the
same Target identity the FAIL rows use, so a target that fails next time
(or failed last time) is matched by the trend.
"""
from __future__ import annotations

from collections import Counter

import pytest

from kaudit.catalog import load_catalog
from kaudit.engine import evaluate
from kaudit.model import POD, Status, Target

from tests.unit.factories import demo_objects
from tests.unit.section5_helpers import (container, facts_of, make_binding, make_deployment_with_pods,
                                         make_namespace, make_pod, make_role, make_sa, pod_spec, rule, run,
                                         statuses, subject)

SECRET_ENV = pod_spec({**container(), "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
    "name": "db", "key": "password"}}}]})


def grouped(results):
    """The PASS rows that stand for many targets."""
    return [r for r in results if r.status is Status.PASS and r.passed]


def passed_keys(results) -> list[tuple[str, str | None, str]]:
    return sorted((t.kind, t.namespace, t.name) for r in grouped(results) for t in r.passed)


def shop(*extra):
    return facts_of(make_namespace("shop", "restricted"), make_sa("app", "shop"),
                    make_deployment_with_pods("good", "shop", pod_spec(container()), replicas=2),
                    make_deployment_with_pods("bad", "shop", SECRET_ENV, replicas=3), *extra)


def test_passing_workloads_are_listed_even_when_another_fails():
    results = run("5.4.1", shop())
    assert statuses(results)[("Deployment", "shop", "bad")] == "FAIL"
    [row] = grouped(results)
    assert row.target.kind == "Cluster"
    assert row.passed == (Target("Deployment", "good", "shop"),)     # the FAIL rows' identity
    assert row.message.startswith("1 of 2 workloads pass: ")
    assert row.evidence and row.targets_judged == 1


@pytest.mark.parametrize("check_id", ["5.2.2", "5.2.5", "5.4.1", "5.6.2", "5.6.3"])
def test_each_workload_check_lists_its_passing_workloads(check_id):
    bad = pod_spec({**container(privileged=True, seccompProfile={"type": "Unconfined"}),
                    "env": SECRET_ENV["containers"][0]["env"]}, hostNetwork=True)
    facts = facts_of(make_namespace("shop", "restricted"),
                     make_deployment_with_pods("good", "shop", pod_spec(container()), replicas=1),
                     make_deployment_with_pods("bad", "shop", bad, replicas=1))
    results = run(check_id, facts)
    assert statuses(results)[("Deployment", "shop", "bad")] == "FAIL"
    assert ("Deployment", "shop", "good") in passed_keys(results)
    assert ("Deployment", "shop", "bad") not in passed_keys(results)


def test_nothing_is_listed_as_passing_when_pods_were_not_collected():
    facts = shop()
    facts.cluster.unavailable[POD] = "forbidden: cannot list pods"
    results = run("5.4.1", facts)
    assert grouped(results) == [] and not any(r.status is Status.PASS for r in results)


def test_control_plane_static_pods_pass_as_expected_and_are_listed_there():
    apiserver = [o for o in demo_objects("Pod") if o["metadata"]["name"].startswith("kube-apiserver")]
    results = run("5.6.3", shop(*apiserver))
    expected = [r for r in grouped(results) if "control-plane static pods" in r.message]
    assert len(expected) == 1
    assert [t.name for t in expected[0].passed] == [apiserver[0]["metadata"]["name"]]
    assert Counter(t for r in grouped(results) for t in r.passed).most_common(1)[0][1] == 1


def test_a_workload_left_for_review_is_not_listed_as_passing():
    localhost = pod_spec(container(seccompProfile={"type": "Localhost", "localhostProfile": "p.json"}))
    results = run("5.6.2", facts_of(make_namespace("shop"),
                                    make_deployment_with_pods("custom", "shop", localhost, replicas=1),
                                    make_deployment_with_pods("good", "shop", pod_spec(container()), replicas=1)))
    assert statuses(results)[("Deployment", "shop", "custom")] == "WARN"
    assert passed_keys(results) == [("Deployment", "shop", "good")]


def test_token_mount_passes_are_listed_and_its_evidence_is_folded():
    """5.1.6: one evidence item per reason, naming the template and the pods once."""
    spec = pod_spec(container(), sa="lonely")
    facts = facts_of(make_namespace("shop"), make_sa("lonely", "shop"), make_sa("app", "shop", automount=False),
                     make_deployment_with_pods("web", "shop", spec, replicas=4),
                     make_deployment_with_pods("quiet", "shop", pod_spec(container(), sa="app"), replicas=1),
                     make_role("view", [rule(["get"], ["pods"])]))
    results = run("5.1.6", facts)
    fail = next(r for r in results if r.status is Status.FAIL)
    assert fail.target == Target("Deployment", "web", "shop")
    assert len(fail.evidence) == 1
    assert fail.evidence[0].source.startswith("pod template and 4 running pod(s), e.g. pod web-")
    assert passed_keys(results) == [("Deployment", "shop", "quiet")]
    assert grouped(results)[0].message.startswith("1 of 2 workloads pass")


def test_rbac_subjects_roles_and_bindings_that_pass_are_listed():
    objs = [make_role("secret-reader", [rule(["get"], ["secrets"])]),
            make_role("pod-viewer", [rule(["get", "list"], ["pods"])]),
            make_role("anything", [rule(["*"], ["*"], groups=["*"])]),
            make_binding("read-secrets", "secret-reader", [subject("User", "mallory")]),
            make_binding("view-pods", "pod-viewer", [subject("User", "alice"), subject("ServiceAccount", "ci", "build")]),
            make_binding("ci-admin", "cluster-admin", [subject("ServiceAccount", "ci", "build")]),
            make_role("cluster-admin", [rule(["*"], ["*"], groups=["*"])])]
    facts = facts_of(*objs)
    secrets = run("5.1.2", facts)
    assert statuses(secrets)[("User", None, "mallory")] == "FAIL"
    assert ("User", None, "alice") in passed_keys(secrets)
    assert ("User", None, "mallory") not in passed_keys(secrets)

    admins = run("5.1.1", facts)
    assert statuses(admins)[("ClusterRoleBinding", None, "ci-admin")] == "FAIL"
    assert {("ClusterRoleBinding", None, "read-secrets"), ("ClusterRoleBinding", None, "view-pods")} <= \
        set(passed_keys(admins))

    wild = run("5.1.3", facts)
    assert statuses(wild)[("ClusterRole", None, "anything")] == "FAIL"
    assert ("ClusterRole", None, "pod-viewer") in passed_keys(wild)

    masters = run("5.1.7", facts)
    assert ("ClusterRoleBinding", None, "view-pods") in passed_keys(masters)


def test_every_target_is_judged_once_per_check_across_the_demo_cluster():
    """Rows and passed lists never name a target twice, and never a node-bound one."""
    from kaudit.demo import build as demo
    from kaudit.collect.trim import to_kobject
    from kaudit.model import ClusterFacts, Facts

    cluster = ClusterFacts(source="demo")
    for o in demo.cluster_manifests():
        cluster.add(to_kobject(o, origin="demo"))
    catalog = load_catalog("cis-1.12")
    results = evaluate(catalog, Facts(cluster=cluster), only=["5"])
    seen: Counter = Counter()
    for r in results:
        if r.target.kind != "Cluster":
            seen[(r.check, r.target.key())] += 1
        for t in r.passed:
            assert t.node is None
            seen[(r.check, t.key())] += 1
    twice = [k for k, n in seen.items() if n > 1]
    assert twice == []
    assert sum(1 for r in results if r.passed) >= 10      # section 5 lists its passes


def test_token_mount_evidence_is_one_item_when_only_the_per_pod_volume_name_differs():
    """The admission plugin names each pod's token volume kube-api-access-<random>."""
    from tests.unit.section5_helpers import make_workload, owner

    def spec(suffix):
        app = container()
        app["volumeMounts"] = [{"name": f"kube-api-access-{suffix}", "mountPath": "/var/run/secrets/token"}]
        return pod_spec(app, sa=None, automountServiceAccountToken=False, volumes=[{
            "name": f"kube-api-access-{suffix}",
            "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}])
    dep = make_workload("Deployment", "web", "shop", spec("tmpl0"))
    rs = make_workload("ReplicaSet", "web-1", "shop", spec("tmpl0"), owners=[owner(dep)])
    pods = [make_pod(f"web-1-{i}", "shop", spec(f"p{i}x9z"), owners=[owner(rs)]) for i in range(6)]
    results = run("5.1.6", facts_of(make_namespace("shop"), make_sa("default", "shop"), dep, rs, *pods))
    fail = next(r for r in results if r.status is Status.FAIL)
    assert len(fail.evidence) == 1
    assert fail.evidence[0].source == "pod template and 6 running pod(s), e.g. pod web-1-0"
