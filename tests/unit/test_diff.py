"""diff_reports / format_diff: the trend between two scans."""
from __future__ import annotations

from kaudit.model import Status, Target
from kaudit.report.diff import diff_reports, format_diff

from tests.unit.report_builders import report, result

A = Target("Pod", "a", namespace="ns")
B = Target("Pod", "b", namespace="ns")


def _pair():
    old = report([
        result("5.2.2", Status.FAIL, A),      # still failing
        result("5.2.3", Status.FAIL, A),      # fixed
        result("5.2.4", Status.PASS, A),      # regressed
        result("5.2.5", Status.FAIL, B),      # target gone
        result("5.2.6", Status.FAIL, A),      # waived now: a change, not a fix
        result("5.2.7", Status.PASS, A),      # unchanged
        result("5.2.8", Status.PASS, A),      # now ERROR
    ])
    new = report([
        result("5.2.7", Status.PASS, A),
        result("5.2.8", Status.ERROR, A),
        result("5.2.6", Status.WAIVED, A),
        result("5.2.4", Status.FAIL, A),
        result("5.2.3", Status.PASS, A),
        result("5.2.2", Status.FAIL, A),
        result("5.2.2", Status.FAIL, B),      # new
    ])
    return old, new


def test_categories():
    d = diff_reports(*_pair())
    key = lambda entries: [(e.check, e.target.name) for e in entries]
    assert key(d.new) == [("5.2.2", "b")]
    assert key(d.still_failing) == [("5.2.2", "a")]
    assert key(d.fixed) == [("5.2.3", "a")]
    assert key(d.regressed) == [("5.2.4", "a")]
    # 5.2.5 lists no passing Pod in the new report: b may be fixed or gone, and the diff says so
    assert key(d.unlisted) == [("5.2.5", "b")] and d.removed == []
    assert [(e.check, e.old_status, e.new_status) for e in d.changed] == [
        ("5.2.6", Status.FAIL, Status.WAIVED), ("5.2.8", Status.PASS, Status.ERROR)]


def test_target_gone_only_where_the_check_lists_its_passing_targets():
    """issue 15: "no longer present" must mean the target is gone, not that passes are summarised."""
    old = report([result("5.2.5", Status.FAIL, A), result("5.2.5", Status.FAIL, B)])
    listed = report([result("5.2.5", Status.PASS, A)])                      # A listed as PASS, B absent
    summarised = report([result("5.2.5", Status.PASS, Target("Cluster", "cluster"))])
    d = diff_reports(old, listed)
    assert [e.target.name for e in d.removed] == ["b"] and [e.target.name for e in d.fixed] == ["a"]
    d = diff_reports(old, summarised)
    assert d.removed == [] and sorted(e.target.name for e in d.unlisted) == ["a", "b"]


def test_identical_reports_have_no_changes():
    old, _ = _pair()
    d = diff_reports(old, old)
    assert d.is_empty() and len(d.still_failing) == 4


def test_format_diff_lists_changes_and_truncates():
    text = format_diff(diff_reports(*_pair()))
    assert text.startswith("Summary: 1 new failures, 1 regressed, 1 fixed, 0 resolved by removal, "
                           "1 no longer failing, not listed, 1 still failing, 2 other status changes")
    assert "5.2.4 Pod ns/a: PASS -> FAIL" in text
    assert "5.2.5 Pod ns/b: FAIL -> -" in text
    many_old = report([])
    many_new = report([result("1.2.1", Status.FAIL, Target("Pod", f"p{i}", namespace="n")) for i in range(60)])
    out = format_diff(diff_reports(many_old, many_new), limit=50)
    assert "New failures: 60" in out and "... and 10 more" in out


def test_format_diff_escapes_terminal_control_sequences():
    evil = Target("Pod", "x\x1b[2J\u202e", namespace="n")
    text = format_diff(diff_reports(report([]), report([result("1.2.1", Status.FAIL, evil)])))
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[2J\\u202e" in text
