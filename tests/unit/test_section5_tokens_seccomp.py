"""CIS 5.1.6 (explicit projected service account tokens) and 5.6.2 (Localhost
seccomp profiles cannot be verified through the API)."""
from __future__ import annotations

from tests.unit.section5_helpers import (by_target, container, facts_of, make_deployment_with_pods, make_namespace,
                                         make_sa, pod_spec, run, statuses)
from tests.unit.test_section5_rbac import BOOTSTRAP


def projected_token_volume(name: str = "vault-token") -> dict:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600, "path": "token"}}]}}


def test_automount_off_but_explicit_projected_token_mounts_a_token():
    app = container()
    app["volumeMounts"] = [{"name": "vault-token", "mountPath": "/var/run/secrets/vault", "readOnly": True}]
    spec = pod_spec(app, sa="web", automountServiceAccountToken=False, volumes=[projected_token_volume()])
    facts = facts_of(BOOTSTRAP, make_namespace("shop"), make_sa("web", "shop", automount=False),
                     make_deployment_with_pods("web", "shop", spec))
    r = by_target(run("5.1.6", facts))[("Deployment", "shop", "web")]
    assert r.status.value == "FAIL"
    text = " ".join(f"{e.what} {e.value} {e.source}" for e in r.evidence)
    assert "projected serviceAccountToken volume vault-token" in text
    assert "automountServiceAccountToken: false" in text    # says the opt-out does not stop it
    assert "explicit projected serviceAccountToken volume vault-token" in r.message


def test_automount_off_without_token_volume_mounts_nothing():
    spec = pod_spec(container(), sa="web", automountServiceAccountToken=False,
                    volumes=[{"name": "cache", "emptyDir": {}}])
    facts = facts_of(BOOTSTRAP, make_namespace("shop"), make_sa("web", "shop"),
                     make_deployment_with_pods("web", "shop", spec))
    assert ("Deployment", "shop", "web") not in statuses(run("5.1.6", facts))


def test_default_service_account_used_with_explicit_projected_token_fails_5_1_5():
    spec = pod_spec(container(), sa=None, automountServiceAccountToken=False, volumes=[projected_token_volume()])
    facts = facts_of(BOOTSTRAP, make_namespace("shop"), make_sa("default", "shop", automount=False),
                     make_deployment_with_pods("web", "shop", spec))
    assert statuses(run("5.1.5", facts))[("ServiceAccount", "shop", "default")] == "FAIL"


def test_localhost_seccomp_profile_is_warn_with_its_path():
    spec = pod_spec(container(seccompProfile={"type": "Localhost", "localhostProfile": "profiles/audit.json"}))
    facts = facts_of(make_namespace("shop"), make_deployment_with_pods("api", "shop", spec))
    r = by_target(run("5.6.2", facts))[("Deployment", "shop", "api")]
    assert r.status.value == "WARN"
    assert "profiles/audit.json" in r.message or any("profiles/audit.json" in e.what for e in r.evidence)
    # no cluster-wide PASS while a profile is unverified
    assert not [x for x in run("5.6.2", facts) if x.target.kind == "Cluster" and x.status.value == "PASS"]


def test_localhost_at_pod_level_and_unconfined_container_fails():
    spec = pod_spec(
        container(seccompProfile={"type": "Unconfined"}),
        securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "my.json"}})
    facts = facts_of(make_namespace("shop"), make_deployment_with_pods("api", "shop", spec))
    assert by_target(run("5.6.2", facts))[("Deployment", "shop", "api")].status.value == "FAIL"


def test_pod_level_localhost_profile_is_warn():
    app = container()
    del app["securityContext"]["seccompProfile"]
    spec = pod_spec(app, securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "k8s/strict.json"}})
    facts = facts_of(make_namespace("shop"), make_deployment_with_pods("api", "shop", spec))
    r = by_target(run("5.6.2", facts))[("Deployment", "shop", "api")]
    assert r.status.value == "WARN" and "k8s/strict.json" in " ".join([r.message] + [e.what for e in r.evidence])
