"""The CronJob's own arguments, with the waivers ConfigMap it ships, against
the wire-level test API server: a scheduled run must end with a report set,
also when a shipped waiver (which has no `ticket`) applies."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from apiserver import sample_cluster

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "job"


def shipped(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((JOB / name).read_text()) if d]


def cronjob_container() -> dict[str, Any]:
    (cron,) = [d for d in shipped("cronjob.yaml") if d["kind"] == "CronJob"]
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def test_cronjob_arguments_with_the_shipped_waivers_write_a_report(make_api_server, kubeconfig_for, tmp_path):
    # The cluster runs kaudit as shipped: its ServiceAccount and ClusterRole are
    # there, so the shipped 5.1.10 waiver (nodes/proxy) applies.
    objects = sample_cluster() + [d for d in shipped("rbac.yaml") if d["kind"] != "Namespace"]
    server = make_api_server(objects)
    waivers_cm = next(d for d in shipped("waivers-configmap.yaml") if d["kind"] == "ConfigMap")
    (key,) = waivers_cm["data"]
    container = cronjob_container()
    args = list(container["args"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == "waivers")
    waivers_path = next(a.split("=", 1)[1] for a in args if a.startswith("--waivers="))
    assert waivers_path == f"{mount['mountPath'].rstrip('/')}/{key}"
    (tmp_path / "waivers").mkdir()
    (tmp_path / "waivers" / key).write_text(waivers_cm["data"][key])
    reports = tmp_path / "reports"
    reports.mkdir()
    args = [a.replace(waivers_path, str(tmp_path / "waivers" / key)).replace("=/reports", f"={reports}")
            for a in args]
    proc = subprocess.run([sys.executable, "-m", "kaudit", *args, "--kubeconfig", kubeconfig_for(server)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (cluster_dir,) = [p for p in reports.iterdir() if p.is_dir()]
    run = (cluster_dir / "latest").resolve()
    assert {"report.json", "report.html", "junit.xml", "SHA256SUMS"} <= {p.name for p in run.iterdir()}
    report = json.loads((run / "report.json").read_text())
    waived = [r for r in report["results"] if r["status"] == "WAIVED"]
    assert any(r["check"] == "5.1.10" for r in waived), "the shipped nodes/proxy waiver did not apply"
    assert all("ticket" not in r["waiver"] for r in waived)
    assert "Waived" in (run / "report.html").read_text()
