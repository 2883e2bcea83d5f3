"""kaudit.incluster: scheduled runs into a reports volume (retention, latest
pointer, the previous run as trend baseline, SIGTERM -> incomplete report)."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import pytest

from kaudit.catalog import load_catalog
from kaudit.collect import ClusterSource, NodeSource
from kaudit.collect.manifests import ManifestSource
from kaudit.incluster import (INCOMPLETE_FILE, LATEST_FILE, LATEST_LINK, cluster_dir_name, prune, run_dirs, sanitize_name,
                              scan_interruptibly, scan_into_reports_root, termination_handled,
                              write_scheduled_run, WRITER_LOCK_FILE)
from kaudit.report.integrity import verify_report_set
from kaudit.model import ClusterFacts, Facts, Status
from kaudit.resources import demo_dir
from kaudit.scan import ScanRequest


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("cis-1.12")


def demo_request(catalog, **kw) -> ScanRequest:
    return ScanRequest(catalog=catalog, cluster_source=ManifestSource([demo_dir() / "manifests"], source_name="demo"),
                       only_checks=["5"], **kw)


class SigtermDuring(ClusterSource):
    """A source that gets SIGTERM while it works (as at the Job's deadline)."""
    name = "slow"

    def collect(self, progress=None) -> ClusterFacts:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)            # the handler interrupts this sleep
        raise AssertionError("SIGTERM did not interrupt the collection")


class SigtermNodes(NodeSource):
    name = "daemonset"

    def collect(self, cluster, progress=None):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not interrupt node collection")


def test_runs_land_in_cluster_and_timestamp_directories_with_a_latest_pointer(catalog, tmp_path):
    run = scan_into_reports_root(demo_request(catalog), tmp_path, keep=3)
    cluster_dir = run.run_dir.parent
    assert cluster_dir.parent == tmp_path and cluster_dir.name == sanitize_name(run.report.scan.cluster.name)
    assert sorted(p.name for p in run.run_dir.iterdir()) == ["SHA256SUMS", "junit.xml", "report.html", "report.json"]
    assert os.readlink(cluster_dir / LATEST_LINK) == run.run_dir.name          # relative: survives remounts
    assert (cluster_dir / LATEST_FILE).read_text() == run.run_dir.name + "\n"
    # No staging left behind; the one hidden file is the (released) writer lock.
    assert [p.name for p in cluster_dir.iterdir() if p.name.startswith(".")] == [WRITER_LOCK_FILE]
    assert run.interrupted is None and run.report.scan.complete


def test_previous_run_feeds_the_trend_and_retention_keeps_the_newest(catalog, tmp_path):
    runs = [scan_into_reports_root(demo_request(catalog), tmp_path, keep=2) for _ in range(3)]
    cluster_dir = runs[0].run_dir.parent
    assert [p.name for p in run_dirs(cluster_dir)] == [runs[1].run_dir.name, runs[2].run_dir.name]
    assert runs[2].pruned == [runs[0].run_dir]
    assert runs[0].previous_dir is None and runs[2].previous_dir == runs[1].run_dir
    html = (runs[2].run_dir / "report.html").read_text()
    assert "Trend since the previous scan" in html and runs[1].report.scan.started in html
    assert (cluster_dir / LATEST_FILE).read_text().strip() == runs[2].run_dir.name


def _write_a_run_started_at(root, started, tag, ready, results) -> None:
    """One scheduled run in a process of its own (a pod): scan, then write once
    every other run is ready to write too."""
    req = demo_request(load_catalog("cis-1.12"), command_line=["kaudit", "scan", tag])
    with termination_handled() as term:
        report, facts, _ = scan_interruptibly(req, term, started)
    ready.wait()
    try:
        results.put((tag, write_scheduled_run(report, facts, root, keep=8).run_dir.name))
    except Exception as exc:           # reported to the test, which names it
        results.put((tag, f"not written: {exc}"))


def test_runs_started_in_the_same_second_each_get_their_own_complete_run_directory(tmp_path):
    # The scheduled Job and a `kubectl create job --from=cronjob/kaudit` started in the
    # same second write at the same moment: neither run may be lost, overwritten or
    # mixed into the other's directory.
    ctx = multiprocessing.get_context("fork")
    for attempt in range(3):
        root = tmp_path / str(attempt)
        ready, results = ctx.Barrier(2), ctx.Queue()
        pods = [ctx.Process(target=_write_a_run_started_at,
                            args=(root, "2026-01-01T06:00:00Z", tag, ready, results)) for tag in ("one", "two")]
        for p in pods:
            p.start()
        got = dict(results.get(timeout=300) for _ in pods)
        for p in pods:
            p.join()
        assert sorted(got.values()) == ["20260101T060000Z", "20260101T060000Z-1"], got
        (cluster_dir,) = [p for p in root.iterdir() if p.is_dir()]
        for tag, name in got.items():
            report = json.loads((cluster_dir / name / "report.json").read_text())
            assert report["scan"]["command_line"] == ["kaudit", "scan", tag]
            assert verify_report_set(cluster_dir / name).ok, name
        assert (cluster_dir / LATEST_FILE).read_text().strip() in got.values()
        assert not [p for p in cluster_dir.iterdir() if p.name.endswith(".partial")]


def test_runs_of_one_second_are_named_in_order_also_when_retention_frees_a_name(catalog, tmp_path):
    with termination_handled() as term:
        report, facts, _ = scan_interruptibly(demo_request(catalog), term, "2026-01-01T06:00:00Z")
    names = [write_scheduled_run(report, facts, tmp_path, keep=2).run_dir.name for _ in range(3)]
    # The third run deleted the first before it was written: it still sorts last.
    assert names == ["20260101T060000Z", "20260101T060000Z-1", "20260101T060000Z-2"]
    (cluster_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert [p.name for p in run_dirs(cluster_dir)] == names[1:]
    assert (cluster_dir / LATEST_FILE).read_text().strip() == names[-1]


def test_prune_touches_only_run_directories(tmp_path):
    for name in ("20250101T060000Z", "20250401T060000Z", "20250401T060000Z-1", "20250701T060000Z",
                 "notes", "lost+found"):
        (tmp_path / name).mkdir()
    (tmp_path / "20240101T060000Z").symlink_to(tmp_path / "notes")     # a symlink is never followed or removed
    removed = prune(tmp_path, keep=2, protect=tmp_path / "20250701T060000Z")
    assert [p.name for p in removed] == ["20250101T060000Z", "20250401T060000Z"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20240101T060000Z", "20250401T060000Z-1",
                                                          "20250701T060000Z", "lost+found", "notes"]
    with pytest.raises(ValueError):
        prune(tmp_path, keep=-1, protect=tmp_path / "x")
    # keep=0 (making room before a run is written) still spares the protected run
    assert [p.name for p in prune(tmp_path, keep=0, protect=tmp_path / "20250701T060000Z")] == \
        ["20250401T060000Z-1"]


@pytest.mark.parametrize("hostile,expected", [
    ("../../etc", "etc"), ("prod/eu-1", "prod_eu-1"), ("..", ""), ("a b\nc", "a_b_c"), ("x" * 100, "x" * 63)])
def test_cluster_names_are_sanitised(hostile, expected):
    assert sanitize_name(hostile) == expected


def test_in_cluster_connections_use_the_cluster_id(tmp_path):
    facts = Facts(cluster=ClusterFacts())
    facts.cluster.identity.name = "in-cluster"
    facts.cluster.identity.cluster_id = "6f1c-uid"
    assert cluster_dir_name(facts, tmp_path) == "6f1c-uid"
    # No identity at all (interrupted early): the volume's only cluster directory, else "unknown".
    assert cluster_dir_name(None, tmp_path) == "unknown"
    (tmp_path / "lost+found").mkdir()
    (tmp_path / "prod" / "20250101T060000Z").mkdir(parents=True)
    assert cluster_dir_name(None, tmp_path) == "prod"


def test_sigterm_while_reading_the_cluster_writes_an_incomplete_report(catalog, tmp_path):
    first = scan_into_reports_root(demo_request(catalog), tmp_path)
    req = ScanRequest(catalog=catalog, cluster_source=SigtermDuring(), only_checks=["5.1"])
    run = scan_into_reports_root(req, tmp_path)
    assert run.interrupted and "SIGTERM" in run.interrupted and "reading the API server" in run.interrupted
    # Same cluster directory (the volume's only one); latest stays on the complete
    # run, and the incomplete one is kept, flagged with its reason.
    assert run.run_dir.parent == first.run_dir.parent
    assert (run.run_dir.parent / LATEST_FILE).read_text().strip() == first.run_dir.name
    assert os.readlink(run.run_dir.parent / LATEST_LINK) == first.run_dir.name
    assert "SIGTERM" in (run.run_dir / INCOMPLETE_FILE).read_text()
    assert not (first.run_dir / INCOMPLETE_FILE).exists()
    data = json.loads((run.run_dir / "report.json").read_text())
    assert data["scan"]["complete"] is False and "SIGTERM" in data["scan"]["incomplete_reasons"][0]
    checks = {c.id for c in catalog.checks if c.id.startswith("5.1.")}
    assert {r["check"] for r in data["results"]} == checks
    assert {r["status"] for r in data["results"]} == {"ERROR"}        # nothing collected, nothing passes
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL          # the handler is gone afterwards
    # The complete first run stays the trend baseline of the next one.
    third = scan_into_reports_root(demo_request(catalog), tmp_path)
    assert third.previous_dir == first.run_dir


def test_sigterm_while_inspecting_nodes_evaluates_the_cluster_and_reports_nodes_not_inspected(catalog, tmp_path):
    req = ScanRequest(catalog=catalog, cluster_source=ManifestSource([demo_dir() / "manifests"], source_name="demo"),
                      node_source=SigtermNodes(), node_access="daemonset", only_checks=["4.2.1", "5.1.3"])
    run = scan_into_reports_root(req, tmp_path)
    assert "inspecting nodes" in run.interrupted
    scan = run.report.scan
    assert not scan.complete and scan.nodes_unreachable and not scan.nodes_inspected
    by_check = {}
    for r in run.report.results:
        by_check.setdefault(r.check, set()).add(r.status)
    assert Status.PASS not in by_check["4.2.1"] and Status.FAIL not in by_check["4.2.1"]
    assert by_check["5.1.3"] & {Status.FAIL, Status.PASS}    # the cluster facts were evaluated


def test_cli_reports_root(tmp_path, capsys):
    from kaudit.cli import main
    assert main(["scan", "--demo", "--checks", "5.1", "--reports-root", str(tmp_path), "--keep", "1",
                 "--fail-on", "never"]) == 0
    assert "5.1.1" in capsys.readouterr().out          # the summary goes to stdout (kubectl logs)
    assert main(["scan", "--demo", "--reports-root", str(tmp_path), "--keep", "0"]) == 2
    assert main(["scan", "--demo", "--reports-root", str(tmp_path), "--output-dir", str(tmp_path / "o")]) == 2
    assert len(run_dirs(next(p for p in tmp_path.iterdir() if p.is_dir()))) == 1


def test_retention_makes_room_before_writing_and_never_prunes_the_newest_complete_run(catalog, tmp_path):
    complete = scan_into_reports_root(demo_request(catalog), tmp_path, keep=2)
    cluster_dir = complete.run_dir.parent
    interrupted = [scan_into_reports_root(ScanRequest(catalog=catalog, cluster_source=SigtermDuring(),
                                                      only_checks=["5.1"]), tmp_path, keep=2)
                   for _ in range(3)]
    # The newest `keep` runs are kept, and the newest complete run besides: it is what
    # `latest` names, and retention never deletes it.
    names = {p.name for p in run_dirs(cluster_dir)}
    assert names == {complete.run_dir.name, interrupted[-2].run_dir.name, interrupted[-1].run_dir.name}
    assert (cluster_dir / LATEST_FILE).read_text().strip() == complete.run_dir.name
    # The last run pruned before it wrote (room first, on a full volume).
    assert interrupted[-1].pruned == [interrupted[0].run_dir]
