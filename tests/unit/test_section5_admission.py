"""CIS 5.2.x admission as Kyverno really decides it, scoped as CIS scopes it.

Kyverno resolves a validate rule's action per resource namespace
(pkg/engine/api ResolveValidationFailureAction): the rule's
failureActionOverrides, then its failureAction, then the policy's
validationFailureActionOverrides, then validationFailureAction (default
Audit). Audit in a namespace is not enforcement there; a PolicyException
takes the rule away for what it matches."""
from __future__ import annotations

from tests.unit.section5_helpers import (_meta, by_target, container, facts_of, make_deployment_with_pods,
                                         make_namespace, pod_spec, run, statuses)


def ns(results, name):
    return by_target(results)[("Namespace", None, name)]


def app(namespace: str) -> list[dict]:
    return make_deployment_with_pods("api", namespace, pod_spec(container()))


def disallow_privileged(action: str = "Enforce", overrides: list | None = None, rule_validate: dict | None = None
                        ) -> dict:
    validate = {"message": "Privileged mode is disallowed.",
                "pattern": {"spec": {"=(initContainers)": [{"=(securityContext)": {"=(privileged)": "false"}}],
                                     "containers": [{"=(securityContext)": {"=(privileged)": "false"}}]}}}
    validate.update(rule_validate or {})
    spec = {"validationFailureAction": action, "background": True,
            "rules": [{"name": "privileged-containers",
                       "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": validate}]}
    if overrides is not None:
        spec["validationFailureActionOverrides"] = overrides
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": _meta("disallow-privileged-containers",
                              annotations={"policies.kyverno.io/category": "Pod Security Standards (Baseline)"}),
            "spec": spec}


def namespaces(*names: str, **labels_by_ns) -> list[dict]:
    out = []
    for n in names:
        out.append(make_namespace(n, **labels_by_ns.get(n, {})))
        out.extend(app(n))
    return out


def test_policy_level_override_to_audit_is_not_enforcement_in_that_namespace():
    pol = disallow_privileged("Enforce", [{"action": "Audit", "namespaces": ["legacy-*"]}])
    results = run("5.2.2", facts_of(namespaces("shop", "legacy-billing"), pol))
    assert ns(results, "shop").status.value == "PASS"
    r = ns(results, "legacy-billing")
    assert r.status.value == "FAIL"
    assert any("Audit" in (e.note or "") or "Audit" in (e.value or "") for e in r.evidence)


def test_policy_level_override_to_enforce_by_namespace_selector():
    pol = disallow_privileged("Audit", [{"action": "Enforce", "namespaceSelector": {
        "matchLabels": {"env": "prod"}}}])
    st = statuses(run("5.2.2", facts_of(namespaces("shop", "dev", shop={"env": "prod"}), pol)))
    assert st[("Namespace", None, "shop")] == "PASS"
    assert st[("Namespace", None, "dev")] == "FAIL"


def test_rule_level_failure_action_wins_over_the_policy_action():
    pol = disallow_privileged("Enforce", rule_validate={"failureAction": "Audit"})
    assert statuses(run("5.2.2", facts_of(namespaces("shop"), pol)))[("Namespace", None, "shop")] == "FAIL"
    pol = disallow_privileged("Audit", rule_validate={"failureAction": "Enforce"})
    assert statuses(run("5.2.2", facts_of(namespaces("shop"), pol)))[("Namespace", None, "shop")] == "PASS"


def test_rule_level_failure_action_overrides_win_over_everything():
    pol = disallow_privileged("Enforce", [{"action": "Enforce", "namespaces": ["*"]}], rule_validate={
        "failureAction": "Enforce",
        "failureActionOverrides": [{"action": "Audit", "namespaces": ["sandbox"]}]})
    st = statuses(run("5.2.2", facts_of(namespaces("shop", "sandbox"), pol)))
    assert st[("Namespace", None, "shop")] == "PASS"
    assert st[("Namespace", None, "sandbox")] == "FAIL"


def policy_exception(namespaces_: list[str], rule_names: list[str], names: list[str] | None = None) -> dict:
    resources = {"kinds": ["Pod", "Deployment", "ReplicaSet"], "namespaces": namespaces_}
    if names:
        resources["names"] = names
    return {"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
            "metadata": _meta("monitoring-agent-exception", "kyverno"),
            "spec": {"exceptions": [{"policyName": "disallow-privileged-containers", "ruleNames": rule_names}],
                     "match": {"any": [{"resources": resources}]}}}


def test_policy_exception_takes_the_rule_away_in_its_namespaces():
    pol = disallow_privileged("Enforce")
    exc = policy_exception(["monitoring"], ["privileged-containers", "autogen-privileged-containers"],
                           names=["node-exporter*"])
    results = run("5.2.2", facts_of(namespaces("shop", "monitoring"), pol, exc))
    assert ns(results, "shop").status.value == "PASS"
    r = ns(results, "monitoring")
    assert r.status.value == "FAIL"
    assert any("monitoring-agent-exception" in e.what or "monitoring-agent-exception" in (e.note or "")
               for e in r.evidence)


def test_exception_for_another_rule_changes_nothing():
    pol = disallow_privileged("Enforce")
    exc = policy_exception(["monitoring"], ["autogen-privileged-containers"])   # controllers only; pods still checked
    assert statuses(run("5.2.2", facts_of(namespaces("monitoring"), pol, exc)))[("Namespace", None, "monitoring")] == "PASS"


def test_policy_exceptions_unreadable_make_kyverno_enforcement_unconfirmed():
    facts = facts_of(namespaces("shop"), disallow_privileged("Enforce"),
                     unavailable={"PolicyException.kyverno.io": "forbidden: needs list on policyexceptions.kyverno.io"})
    results = run("5.2.2", facts)
    assert ("Namespace", None, "shop") not in statuses(results)
    [error] = [r for r in results if r.status.value == "ERROR"]
    assert "only Kyverno" in error.message and "namespace shop" in error.message and "forbidden" in error.message


def test_empty_namespaces_are_named_not_failed_one_by_one():
    facts = facts_of(namespaces("shop"), make_namespace("empty-a"), make_namespace("empty-b"))
    results = run("5.2.2", facts)
    st = statuses(results)
    assert st[("Namespace", None, "shop")] == "FAIL"
    assert ("Namespace", None, "empty-a") not in st and ("Namespace", None, "empty-b") not in st
    line = [r for r in results if r.target.kind == "Cluster" and "empty-a" in " ".join(
        [r.message] + [e.what for e in r.evidence])]
    assert line and line[0].status.value not in ("FAIL", "PASS")


def test_kyverno_policy_with_admission_disabled_does_not_enforce():
    pol = disallow_privileged("Enforce")
    pol["spec"]["admission"] = False        # background scans only
    assert statuses(run("5.2.2", facts_of(namespaces("shop"), pol)))[("Namespace", None, "shop")] == "FAIL"


def webhook_config(name: str, service_ns: str, resources: list[str], operations=("CREATE", "UPDATE")) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": _meta(name),
            "webhooks": [{"name": f"validate.{name}.example.com", "admissionReviewVersions": ["v1"],
                          "sideEffects": "None", "failurePolicy": "Fail",
                          "clientConfig": {"service": {"name": name, "namespace": service_ns, "path": "/validate"}},
                          "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": list(operations),
                                     "resources": resources, "scope": "Namespaced"}]}]}


def test_unrecognised_pod_admission_webhook_is_warn_with_the_webhooks_listed():
    facts = facts_of(namespaces("shop"), webhook_config("polaris-webhook", "polaris", ["pods"]))
    r = by_target(run("5.2.1", facts))[("Cluster", None, "cluster")]
    assert r.status.value == "WARN"
    assert any("polaris-webhook" in e.what for e in r.evidence)


def test_webhook_not_matching_pods_does_not_change_the_fail():
    facts = facts_of(namespaces("shop"), webhook_config("cert-manager-webhook", "cert-manager", ["secrets"]))
    assert by_target(run("5.2.1", facts))[("Cluster", None, "cluster")].status.value == "FAIL"


def test_recognised_engine_webhook_without_enforcing_policy_still_fails():
    kyverno_hook = webhook_config("kyverno-resource-validating-webhook-cfg", "kyverno", ["pods"])
    kyverno_hook["webhooks"][0]["name"] = "validate.kyverno.svc-fail"
    kyverno_hook["webhooks"][0]["clientConfig"]["service"]["name"] = "kyverno-svc"
    facts = facts_of(namespaces("shop"), kyverno_hook)
    assert by_target(run("5.2.1", facts))[("Cluster", None, "cluster")].status.value == "FAIL"


def test_mutating_sidecar_injector_is_not_a_policy_mechanism():
    injector = webhook_config("istio-sidecar-injector", "istio-system", ["pods"], operations=("CREATE",))
    injector["kind"] = "MutatingWebhookConfiguration"
    facts = facts_of(namespaces("shop"), injector)
    assert by_target(run("5.2.1", facts))[("Cluster", None, "cluster")].status.value == "FAIL"


def test_unreadable_policy_exceptions_cannot_turn_a_fail_into_anything_else():
    # an exception only takes enforcement away: a namespace nothing enforces fails regardless
    facts = facts_of(namespaces("shop"),
                     unavailable={"PolicyException.kyverno.io": "forbidden: needs list on policyexceptions.kyverno.io"})
    assert statuses(run("5.2.2", facts))[("Namespace", None, "shop")] == "FAIL"
