"""The CLI as a user runs it: a subprocess, real files, exit statuses."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def kaudit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kaudit", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = kaudit("scan", "--demo", "--output-dir", str(out))
    assert proc.returncode == 1, proc.stderr     # the demo has failures
    return out, proc


def test_demo_scan_writes_every_report_with_all_131_recommendations(demo_report):
    out, proc = demo_report
    for name in ("report.json", "report.html", "junit.xml", "SHA256SUMS"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert report["schema_version"] and report["tool"]["name"] == "kaudit"
    assert report["scan"]["benchmark"] == "cis-1.12"
    ids = {r["check"] for r in report["results"]}
    tsv = ROOT.parent / "shared" / "reference" / "cis-1.12-recommendations.tsv"
    if tsv.exists():
        with tsv.open() as fh:
            assert ids == {row["id"] for row in csv.DictReader(fh, delimiter="\t")}
    assert len(ids) == 131
    statuses = {r["status"] for r in report["results"]}
    assert {"PASS", "FAIL", "WARN"} <= statuses
    assert set(report["checks"]) == ids      # each check's title, remediation, ... once
    for info in report["checks"].values():
        assert info["remediation"] and info["title"] and info["cis_label"] in ("Automated", "Manual")
    for r in report["results"]:
        assert set(r["target"]) == {"kind", "name", "namespace", "node"}
        if r["status"] == "PASS":
            assert r["evidence"], f"PASS without evidence: {r['check']} {r['target']}"


def test_demo_shows_the_failures_it_was_built_with(demo_report):
    out, _ = demo_report
    results = json.loads((out / "report.json").read_text())["results"]
    fails = {(r["check"], r["target"]["node"] or r["target"]["name"]) for r in results if r["status"] == "FAIL"}
    assert ("1.2.15", "cp-1") in fails      # profiling left on (flag absent, default true)
    assert ("4.1.9", "worker-1") in fails   # kubelet config at 0644
    assert ("4.2.1", "worker-2") in fails   # anonymous auth on one kubelet


def test_summary_on_stdout_is_short_and_ends_with_the_report(demo_report):
    out, proc = demo_report
    lines = proc.stdout.splitlines()
    assert lines[-1] == f"Report: {out / 'report.html'}"
    assert lines[1].startswith("Score:") and len([l for l in lines if l.startswith("  FAIL ")]) == 10
    assert "\033[" not in proc.stdout                 # not a terminal: no colour
    assert "1.2.15" not in proc.stdout                 # beyond the ten worst


def test_verbose_lists_every_failing_check(tmp_path):
    proc = kaudit("scan", "--demo", "--verbose", "--output-dir", str(tmp_path))
    assert "1.2.15" in proc.stdout and "FAIL" in proc.stdout
    assert proc.stdout.splitlines()[-1] == f"Report: {tmp_path / 'report.html'}"


def test_sha256sums_verify(demo_report):
    out, _ = demo_report
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_fail_on_never_exits_zero(tmp_path):
    assert kaudit("scan", "--demo", "-q", "--fail-on", "never").returncode == 0


def test_only_selected_checks(tmp_path):
    proc = kaudit("scan", "--demo", "--checks", "1.2.15", "--output-dir", str(tmp_path))
    results = json.loads((tmp_path / "report.json").read_text())["results"]
    assert {r["check"] for r in results} == {"1.2.15"} and proc.returncode == 1


def test_checks_json_lists_the_catalog():
    proc = kaudit("checks", "--format", "json")
    assert proc.returncode == 0
    checks = json.loads(proc.stdout)["checks"]
    assert len(checks) == 131
    assert {"id", "title", "level", "cis_label", "automated"} <= set(checks[0])


@pytest.mark.parametrize("args,needle", [
    (("scan", "--demo", "--benchmark", "cis-0.1"), "cis-1.12"),
    (("scan", "--manifests", "/nonexistent/dump.yaml"), "no such file"),
    (("scan", "--demo", "--format", "docx"), "unknown format"),
    (("scan", "--demo", "--checks", "9.9"), "unknown check"),
    (("render", "/nonexistent/report.json"), "cannot read report"),
])
def test_bad_input_exits_2_with_one_clear_line(args, needle):
    proc = kaudit(*args)
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_empty_manifest_file_exits_2(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    proc = kaudit("scan", "--manifests", str(empty))
    assert proc.returncode == 2 and "no Kubernetes objects" in proc.stderr


def test_malformed_document_is_reported_and_the_rest_evaluated(tmp_path):
    dump = tmp_path / "dump.yaml"
    dump.write_text((ROOT / "kaudit/demo/manifests/00-cluster.yaml").read_text()
                    + "\n---\nkind: Pod\nmetadata: {name: [broken\n")
    proc = kaudit("scan", "--manifests", str(dump), "--output-dir", str(tmp_path / "out"))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert any("dump.yaml" in e and "malformed" in e for e in report["scan"]["collection_errors"])
    assert len({r["check"] for r in report["results"]}) == 131
    assert report["scan"]["complete"] is False and proc.returncode == 3   # a document was skipped


def test_render_reproduces_html_and_junit(demo_report, tmp_path):
    out, _ = demo_report
    proc = kaudit("render", str(out / "report.json"), "--output-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report.html").read_bytes() == (out / "report.html").read_bytes()
    assert (tmp_path / "junit.xml").read_bytes() == (out / "junit.xml").read_bytes()


def _kubeconfig(tmp_path, server: str) -> Path:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}", insecure-skip-tls-verify: false}}}}]
users: [{{name: u, user: {{token: not-a-real-token}}}}]
contexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]
current-context: ctx
""")
    return cfg


def test_unreachable_api_server_exits_3_naming_the_server(tmp_path):
    import socket
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = kaudit("scan", "--kubeconfig", str(_kubeconfig(tmp_path, f"https://127.0.0.1:{port}")), "-q")
    assert proc.returncode == 3, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0]


def test_malformed_kubeconfig_exits_2(tmp_path):
    cfg = tmp_path / "kubeconfig"
    cfg.write_text("clusters: [unclosed\n  token: s3cr3t\n")
    proc = kaudit("scan", "--kubeconfig", str(cfg))
    assert proc.returncode == 2
    assert "s3cr3t" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_unknown_context_exits_2(tmp_path):
    proc = kaudit("scan", "--kubeconfig", str(_kubeconfig(tmp_path, "https://127.0.0.1:1")), "--context", "nope")
    assert proc.returncode == 2 and "nope" in proc.stderr
    # issue 15: one line that names the contexts that do exist
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "contexts: ctx" in lines[0], proc.stderr


def test_permissions_prints_a_read_only_cluster_role():
    import yaml
    proc = kaudit("permissions")
    role = yaml.safe_load(proc.stdout)
    assert role["kind"] == "ClusterRole"
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list"}
        assert "secrets" not in rule.get("resources", []) and "*" not in rule.get("resources", [])


def test_rescan_into_the_same_directory_shows_the_trend_against_the_last_report(tmp_path):
    out = tmp_path / "out"
    assert kaudit("scan", "--demo", "-q", "--output-dir", str(out)).returncode == 1
    old = json.loads((out / "report.json").read_text())
    # Pretend an earlier quarter had one failure fewer: mark a FAIL as PASS in the old report.
    fixed_later = next(r for r in old["results"] if r["status"] == "FAIL")
    fixed_later["status"] = "PASS"
    (out / "report.json").write_text(json.dumps(old))
    assert kaudit("scan", "--demo", "-q", "--output-dir", str(out)).returncode == 1
    html = (out / "report.html").read_text()
    start = html.index('id="trend-regressed"')
    block = html[start:html.index("</details>", start)]
    assert fixed_later["check"] in block and fixed_later["target"]["name"] in block


def test_permissions_can_name_gatekeeper_constraints_without_wildcards():
    import yaml
    role = yaml.safe_load(kaudit("permissions", "--gatekeeper-constraint", "k8srequiredlabels").stdout)
    rule = next(r for r in role["rules"] if r["apiGroups"] == ["constraints.gatekeeper.sh"])
    assert rule["resources"] == ["k8srequiredlabels"] and rule["verbs"] == ["list"]
    assert kaudit("permissions", "--gatekeeper-constraint", "*").returncode == 2
