"""A trend compares a cluster only with itself (issue 15)."""
from __future__ import annotations

import json
import re

from kaudit.cli import main
from kaudit.model import ClusterIdentity, Status
from kaudit.report.html import HtmlFormatter
from kaudit.report.json import JsonFormatter
from tests.unit.report_builders import report, result


def _cluster(uid: str | None) -> ClusterIdentity:
    return ClusterIdentity(name="prod", api_server="https://10.0.0.1:6443", version="v1.31.0",
                           platform="kubeadm", cluster_id=uid, node_count=3)


def _html(new, previous) -> str:
    return HtmlFormatter(previous=previous).render(new).decode()


def test_previous_report_of_another_cluster_gives_no_trend_and_says_so():
    old = report([result("1.2.1", Status.FAIL)], cluster=_cluster("uid-OTHER"))
    new = report([result("1.2.1", Status.PASS)], cluster=_cluster("uid-1"))
    html = _html(new, old)
    assert 'id="trend-unavailable"' in html
    assert "another cluster" in html and "uid-OTHER" in html
    assert not re.search(r"<h2>Trend since the previous scan</h2>", html)
    assert "Fixed" not in html[html.index('id="trend-unavailable"'):][:2000]


def test_previous_report_without_cluster_id_gives_no_trend():
    old = report([result("1.2.1", Status.FAIL)], cluster=_cluster(None))
    new = report([result("1.2.1", Status.PASS)], cluster=_cluster("uid-1"))
    html = _html(new, old)
    assert 'id="trend-unavailable"' in html and "cluster id" in html


def test_same_cluster_still_trends():
    old = report([result("1.2.1", Status.FAIL)], cluster=_cluster("uid-1"))
    new = report([result("1.2.1", Status.PASS)], cluster=_cluster("uid-1"))
    html = _html(new, old)
    assert "<h2>Trend since the previous scan</h2>" in html and 'id="trend-unavailable"' not in html


def test_kaudit_diff_refuses_two_clusters(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_bytes(JsonFormatter().render(report([result("1.2.1", Status.FAIL)], cluster=_cluster("uid-A"))))
    b.write_bytes(JsonFormatter().render(report([result("1.2.1", Status.PASS)], cluster=_cluster("uid-B"))))
    assert main(["diff", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "another cluster" in err and "uid-A" in err


def test_find_previous_skips_runs_of_another_cluster(tmp_path):
    from kaudit.incluster import find_previous
    for name, uid in (("20260101T000000Z", "uid-1"), ("20260102T000000Z", "uid-OTHER")):
        d = tmp_path / name
        d.mkdir()
        rep = report([result("1.2.1", Status.FAIL)], cluster=_cluster(uid), started=name)
        (d / "report.json").write_bytes(JsonFormatter().render(rep))
    found = find_previous(tmp_path, cluster_id="uid-1")
    assert found is not None and found[0].scan.cluster.cluster_id == "uid-1"
    assert json.loads((found[1] / "report.json").read_text())["scan"]["cluster"]["cluster_id"] == "uid-1"
