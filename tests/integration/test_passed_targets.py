"""Issue 15 through the live API path: report.json names every passing target
(passed_targets), so `kaudit diff` tells a fixed workload from a deleted one."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from apiserver import sample_cluster
from kaudit.cli import main


def _deployment(privileged: bool) -> dict:
    web = next(o for o in sample_cluster() if o["kind"] == "Deployment")
    api = copy.deepcopy(web)
    api["metadata"].update(name="api", uid="uid-api")
    api["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = privileged
    return api


def _scan(make_api_server, kubeconfig_for, objects: list[dict], out: Path) -> dict:
    server = make_api_server(objects)
    rc = main(["scan", "--kubeconfig", kubeconfig_for(server), "--output-dir", str(out), "--quiet",
               "--fail-on", "never", "--format", "json"])
    assert rc == 0
    return json.loads((out / "report.json").read_text())


def _rows(report: dict, check: str) -> list[dict]:
    return [r for r in report["results"] if r["check"] == check]


def test_passed_targets_in_report_json_and_the_trend_they_allow(make_api_server, kubeconfig_for, tmp_path, capsys):
    before = _scan(make_api_server, kubeconfig_for, sample_cluster() + [_deployment(privileged=True)],
                   tmp_path / "before")
    assert before["schema_version"] == "2.0"
    rows = _rows(before, "5.2.2")
    failing = {(r["target"]["kind"], r["target"]["namespace"], r["target"]["name"])
               for r in rows if r["status"] == "FAIL"}
    assert failing == {("Pod", "default", "debug"), ("Deployment", "app", "api"),
                       ("Namespace", None, "default")}     # nothing stops privileged pods there
    [grouped] = [r for r in rows if r.get("passed_targets")]
    assert grouped["status"] == "PASS" and grouped["target"]["kind"] == "Cluster"
    # the same identity as FAIL rows: kind -> namespace -> names; the static pods are not privileged
    assert grouped["passed_targets"] == {
        "Deployment": {"app": ["web"]}, "CronJob": {"app": ["backup"]},
        "Pod": {"kube-system": ["etcd-cp-1", "kube-apiserver-cp-1", "kube-controller-manager-cp-1",
                                "kube-scheduler-cp-1"]}}
    assert grouped["message"].startswith("6 of 8 workloads pass")
    assert grouped["evidence"]

    # The debug pod is deleted, the api Deployment fixed.
    after_objects = [o for o in sample_cluster() if o["metadata"]["name"] != "debug"] + [_deployment(False)]
    after = _scan(make_api_server, kubeconfig_for, after_objects, tmp_path / "after")
    [grouped] = [r for r in _rows(after, "5.2.2") if r.get("passed_targets")]
    assert sorted(grouped["passed_targets"]["Deployment"]["app"]) == ["api", "web"]

    capsys.readouterr()
    main(["diff", str(tmp_path / "before" / "report.json"), str(tmp_path / "after" / "report.json")])
    out = capsys.readouterr().out
    fixed = out.split("Fixed (failing before, passing now):", 1)[1].split("\n\n", 1)[0]
    removed = out.split("Resolved by removal (failing before, target gone):", 1)[1].split("\n\n", 1)[0]
    assert "5.2.2 Deployment app/api: FAIL -> PASS" in fixed
    assert "5.2.2 Pod default/debug: FAIL -> -" in removed
    assert "not listed" not in out.split("\n", 1)[1]
