"""job/: the manifests that run kaudit in a cluster (schemas, RBAC, hardening, dogfooding)."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from kaudit.catalog import load_catalog
from kaudit.cli import _parser
from kaudit.collect.manifests import ManifestSource
from kaudit.collect.node.daemonset import DEFAULT_IMAGE, DaemonSetSource, node_collector_rules
from kaudit.collect.permissions import cluster_role_yaml
from kaudit.engine import evaluate
from kaudit.model import Facts, Status
from kaudit.report.waivers import apply_waivers, parse_waivers

JOB = Path(__file__).resolve().parents[2] / "job"
MANIFESTS = sorted(p for p in JOB.glob("*.yaml") if p.name != "kustomization.yaml")
KUBERNETES_VERSION = "1.30"   # the oldest minor kaudit's manifests must validate against


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def doc(name: str, kind: str) -> dict[str, Any]:
    return next(d for d in docs(JOB / name) if d["kind"] == kind)


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in MANIFESTS:
        for d in docs(path):
            if d["kind"] == "Pod":
                yield f"{path.name}:{d['metadata']['name']}", d["spec"]
            elif d["kind"] == "Job":
                yield f"{path.name}:{d['metadata']['name']}", d["spec"]["template"]["spec"]
            elif d["kind"] == "CronJob":
                yield f"{path.name}:{d['metadata']['name']}", d["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def scanner_args(uncomment_daemonset: bool = False) -> list[str]:
    text = (JOB / "cronjob.yaml").read_text()
    if uncomment_daemonset:
        text = text.replace("# - --nodes=daemonset", "- --nodes=daemonset").replace(
            "# - --daemonset-namespace=", "- --daemonset-namespace=")
    cj = yaml.safe_load(text)
    return cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]


# -- schemas -------------------------------------------------------------------

@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_every_manifest_validates_against_the_kubernetes_schemas(path):
    kv = pytest.importorskip("kubernetes_validate")   # bundles the OpenAPI schemas: works offline
    for d in docs(path):
        kv.validate(d, KUBERNETES_VERSION, strict=True)   # strict: unknown fields are errors


def test_schema_validation_catches_a_typo():
    kv = pytest.importorskip("kubernetes_validate")
    cj = doc("cronjob.yaml", "CronJob")
    cj["spec"]["concurrencyPolcy"] = cj["spec"].pop("concurrencyPolicy")
    with pytest.raises(kv.ValidationError):
        kv.validate(cj, KUBERNETES_VERSION, strict=True)


def test_kustomization_installs_the_scheduled_audit_only():
    k = yaml.safe_load((JOB / "kustomization.yaml").read_text())
    assert k["resources"] == ["namespace.yaml", "rbac.yaml", "pvc.yaml", "waivers-configmap.yaml", "cronjob.yaml"]
    assert all((JOB / r).is_file() for r in k["resources"])


# -- RBAC ------------------------------------------------------------------------

def test_cluster_role_is_exactly_what_kaudit_permissions_prints():
    documents = re.split(r"(?m)^---\n", (JOB / "rbac.yaml").read_text())
    assert cluster_role_yaml() in documents


def test_cluster_role_is_read_only_without_secrets_or_wildcards():
    role = doc("rbac.yaml", "ClusterRole")
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list"}, rule
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], rule
        assert "secrets" not in rule["resources"], rule
    assert {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]} in role["rules"]
    binding = doc("rbac.yaml", "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kaudit", "namespace": "kaudit"}]


def test_daemonset_role_is_what_the_collector_needs_in_the_namespace_it_runs_in():
    role = doc("rbac-daemonset.yaml", "Role")
    assert role["rules"] == node_collector_rules()
    namespace = role["metadata"]["namespace"]
    binding = doc("rbac-daemonset.yaml", "RoleBinding")
    assert binding["metadata"]["namespace"] == namespace
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kaudit", "namespace": "kaudit"}]
    ns = doc("rbac-daemonset.yaml", "Namespace")
    assert ns["metadata"]["name"] == namespace
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    # The scanner's namespace stays restricted: the collector lives elsewhere.
    assert doc("namespace.yaml", "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # Enabling the commented CronJob lines points the scan at that namespace.
    args = _parser().parse_args(scanner_args(uncomment_daemonset=True))
    assert (args.nodes, args.daemonset_namespace) == ("daemonset", namespace)


# -- CronJob / Job ---------------------------------------------------------------

def test_cronjob_is_quarterly_single_and_bounded():
    spec = doc("cronjob.yaml", "CronJob")["spec"]
    assert spec["schedule"] == "0 6 1 1,4,7,10 *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] <= 1
    pod = job["template"]["spec"]
    # SIGTERM at the deadline must leave time to write the incomplete report.
    assert job["activeDeadlineSeconds"] > 0 and pod["terminationGracePeriodSeconds"] >= 30
    assert pod["restartPolicy"] == "Never"


def test_job_is_the_cronjob_template():
    assert doc("job.yaml", "Job")["spec"] == doc("cronjob.yaml", "CronJob")["spec"]["jobTemplate"]["spec"]


def test_scanner_arguments_are_valid_and_write_to_the_mounted_volumes():
    args = _parser().parse_args(scanner_args())
    assert args.command == "scan" and args.keep >= 1 and args.nodes is None
    pod = doc("cronjob.yaml", "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert str(args.reports_root) in mounts and not mounts[str(args.reports_root)].get("readOnly")
    assert str(args.waivers.parent) in mounts
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts[str(args.reports_root)]["name"]]["persistentVolumeClaim"]["claimName"] == \
        doc("pvc.yaml", "PersistentVolumeClaim")["metadata"]["name"]
    assert volumes[mounts[str(args.waivers.parent)]["name"]]["configMap"]["name"] == \
        doc("waivers-configmap.yaml", "ConfigMap")["metadata"]["name"]
    assert args.waivers.name in doc("waivers-configmap.yaml", "ConfigMap")["data"]


@pytest.mark.parametrize("name,spec", list(pod_specs()), ids=[n for n, _ in pod_specs()])
def test_pods_are_hardened(name, spec):
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec.get("hostPID") is not True and spec.get("hostNetwork") is not True
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc.get("privileged") is False
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
        assert c["image"] == DEFAULT_IMAGE and not c["image"].endswith(":latest")
    # The token only where the API is read: the scanner, never the reports reader.
    scanner = any(c.get("args", [None])[0] == "scan" for c in spec["containers"])
    assert spec["automountServiceAccountToken"] is scanner
    if scanner:
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp
        assert {"name": "tmp", "mountPath": "/tmp"} in spec["containers"][0]["volumeMounts"]


def test_service_account_does_not_mount_its_token_by_default():
    assert doc("rbac.yaml", "ServiceAccount")["automountServiceAccountToken"] is False


# -- dogfooding --------------------------------------------------------------------

def test_kaudit_own_workloads_pass_section_5_with_the_shipped_waivers(tmp_path):
    """kaudit's manifests, and the collector DaemonSet it creates, scanned by
    kaudit: no FAIL remains for kaudit's objects once the documented
    exceptions in job/waivers-configmap.yaml are applied."""
    for path in MANIFESTS:
        (tmp_path / path.name).write_text(path.read_text())
    namespace = doc("rbac-daemonset.yaml", "Role")["metadata"]["namespace"]
    collector = DaemonSetSource(namespace=namespace).daemonset_manifest("dogfood")
    (tmp_path / "collector-daemonset.yaml").write_text(yaml.safe_dump(collector))
    facts = Facts(cluster=ManifestSource([tmp_path]).collect())
    assert facts.cluster.load_errors == []
    results = evaluate(load_catalog("cis-1.12"), facts, ["5"])
    failing = [r for r in results if r.status is Status.FAIL]
    # Without the waivers, the collector's documented privileges are flagged (the check works).
    assert {r.check for r in failing if r.target.name == collector["metadata"]["name"]} >= {"5.2.3", "5.2.7", "5.2.11"}
    waivers = parse_waivers(doc("waivers-configmap.yaml", "ConfigMap")["data"]["waivers.yaml"])
    # A fixed date, so the test does not break when the shipped waivers expire.
    waived, summary = apply_waivers(results, waivers, dt.date(2026, 11, 23))
    # kaudit's own manifests are not a whole cluster: checks that need kinds they do not
    # hold are ERROR "... not in the input" (no verdict on data never collected).
    still = [(r.check, r.target.key(), r.message) for r in waived
             if r.status is Status.FAIL or (r.status is Status.ERROR and "not in the input" not in r.message)]
    assert still == []
    assert summary.get("stale", []) == []      # every shipped waiver is needed
    assert all(w.expires > "2026-11-23" for w in waivers)
