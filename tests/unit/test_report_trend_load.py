"""A previous report loaded for a trend compares exactly like a full load."""
from __future__ import annotations

from kaudit.report.diff import diff_reports, format_diff
from kaudit.report.html import HtmlFormatter
from kaudit.report.json import JsonFormatter, load_report, load_report_for_trend
from kaudit.report.synthetic import synthetic_report
from tests.unit.report_builders import hostile_report


def _write(tmp_path, report, name):
    path = tmp_path / name
    path.write_bytes(JsonFormatter().render(report))
    return path


def test_trend_load_gives_the_same_diff_and_trend_section(tmp_path):
    old = synthetic_report(pods=400, seed=3)
    old.results.extend(hostile_report().results)
    new = synthetic_report(pods=400, seed=4)
    path = _write(tmp_path, old, "old.json")
    full, light = load_report(path), load_report_for_trend(path)
    assert format_diff(diff_reports(full, new)) == format_diff(diff_reports(light, new))
    assert light.scan.to_json() == full.scan.to_json()
    assert [r.status for r in light.results] == [r.status for r in full.results]
    assert all(not r.evidence and not r.remediation for r in light.results)
    html_full = HtmlFormatter(previous=full).render(new).decode()
    html_light = HtmlFormatter(previous=light).render(new).decode()
    assert html_full == html_light


def test_trend_load_of_a_broken_file_is_a_clear_error(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"schema_version": "1.0", "results": [{"check": ')
    try:
        load_report_for_trend(path)
    except ValueError as exc:
        assert "r.json" in str(exc)
    else:
        raise AssertionError("a truncated report must not load")


def test_trend_load_keeps_the_targets_a_grouped_pass_names(tmp_path):
    from kaudit.model import Status, Target
    from tests.unit.report_builders import report, result

    passed = tuple(Target("Deployment", f"app-{i}", namespace=f"team-{i % 3}") for i in range(30))
    rep = report([result("5.4.1", Status.PASS, Target("Cluster", "cluster"), passed=passed)])
    light = load_report_for_trend(_write(tmp_path, rep, "r.json"))
    assert sorted(t.key() for t in light.results[0].passed) == sorted(t.key() for t in passed)
    assert light.results[0].targets_judged == 30
