"""The scanner's Pod, as the collector DaemonSet's owner, comes from the
downward API variables the shipped Job and CronJob set."""
from __future__ import annotations

from pathlib import Path

import yaml

from kaudit.collect.node.daemonset import SCANNER_POD_ENV, DaemonSetSource

JOB = Path(__file__).resolve().parents[2] / "job"
FIELDS = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace", "POD_UID": "metadata.uid"}


def scanner_env(name: str) -> dict[str, str]:
    (doc,) = [d for d in yaml.safe_load_all((JOB / name).read_text()) if d and d["kind"] in ("Job", "CronJob")]
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    return {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"] if "valueFrom" in e}


def test_job_and_cronjob_give_the_scanner_its_pod_identity():
    assert set(SCANNER_POD_ENV) == set(FIELDS)
    assert scanner_env("job.yaml") == FIELDS
    assert scanner_env("cronjob.yaml") == FIELDS


def test_owner_only_in_the_same_namespace():
    env = {"POD_NAME": "p", "POD_NAMESPACE": "kaudit", "POD_UID": "u"}
    owner, why = DaemonSetSource(namespace="kaudit", environ=env).scanner_pod_owner()
    assert owner == {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u"} and why is None
    owner, why = DaemonSetSource(namespace="kaudit-nodes", environ=env).scanner_pod_owner()
    assert owner is None and "no owner reference across namespaces" in why
    assert DaemonSetSource(environ={}).scanner_pod_owner() == (None, None)
    manifest = DaemonSetSource(namespace="kaudit", environ=env).daemonset_manifest("r1", owner={"uid": "u"})
    assert manifest["metadata"]["ownerReferences"] == [{"uid": "u"}]
