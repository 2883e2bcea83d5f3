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
    # 5.2.5 was not evaluated in the new report: b is not judged now, neither fixed nor gone
    assert key(d.unjudged) == [("5.2.5", "b")] and d.removed == [] and d.unlisted == []
    assert [(e.check, e.old_status, e.new_status) for e in d.changed] == [
        ("5.2.6", Status.FAIL, Status.WAIVED), ("5.2.8", Status.PASS, Status.ERROR)]


def test_a_schema_1_report_that_summarises_passes_cannot_tell_fixed_from_gone():
    """Schema 1.0 reports listed passes of some checks only: there "not listed" stays its own bucket."""
    old = report([result("5.2.5", Status.FAIL, A), result("5.2.5", Status.FAIL, B)])
    listed = report([result("5.2.5", Status.PASS, A)], schema_version="1.0")        # A listed, B absent
    summarised = report([result("5.2.5", Status.PASS, Target("Cluster", "cluster"))], schema_version="1.0")
    d = diff_reports(old, listed)
    assert [e.target.name for e in d.removed] == ["b"] and [e.target.name for e in d.fixed] == ["a"]
    d = diff_reports(old, summarised)
    assert d.removed == [] and sorted(e.target.name for e in d.unlisted) == ["a", "b"]


GOOD = Target("Deployment", "good", "shop")
BAD = Target("Deployment", "bad", "shop")
CLUSTER = Target("Cluster", "cluster")


def test_targets_a_grouped_pass_names_are_pass_rows_on_both_sides():
    """issue 15: schema 2.0 lists every target, so a failing one with no row now is fixed or gone."""
    old = report([result("5.4.1", Status.FAIL, BAD), result("5.4.1", Status.FAIL, A),
                  result("5.4.1", Status.PASS, CLUSTER, passed=(GOOD,))])
    new = report([result("5.4.1", Status.FAIL, GOOD),
                  result("5.4.1", Status.PASS, CLUSTER, passed=(BAD,))])      # A deleted
    d = diff_reports(old, new)
    key = lambda entries: [(e.target.name, e.old_status, e.new_status) for e in entries]
    assert key(d.fixed) == [("bad", Status.FAIL, Status.PASS)]
    assert key(d.regressed) == [("good", Status.PASS, Status.FAIL)]
    assert key(d.removed) == [("a", Status.FAIL, None)]
    assert d.unlisted == [] and d.unjudged == [] and d.new == []
    assert "5.4.1 Deployment shop/bad: FAIL -> PASS" in format_diff(d)


def test_a_failing_target_is_not_gone_when_the_check_could_not_decide_or_names_it_elsewhere():
    old = report([result("4.2.1", Status.FAIL, Target("Node", "w-1", node="w-1")),
                  result("5.2.2", Status.FAIL, Target("Namespace", "quiet")),
                  result("5.1.6", Status.FAIL, BAD)])
    new = report([
        # --nodes none: the node check is one ERROR on the cluster, no row per node
        result("4.2.1", Status.ERROR, CLUSTER, message="node inspection not requested: 3 nodes"),
        # the namespace now runs no workloads (5.2 does not judge it) but exists: 5.3.2 names it
        result("5.2.2", Status.PASS, CLUSTER, passed=(GOOD,)),
        result("5.3.2", Status.PASS, Target("Namespace", "quiet")),
        # pods could not be listed: nothing passes, nothing is gone
        result("5.1.6", Status.ERROR, CLUSTER, message="Pod objects could not be collected"),
    ])
    d = diff_reports(old, new)
    assert d.removed == [] and d.fixed == [] and d.unlisted == []
    assert sorted(e.check for e in d.unjudged) == ["4.2.1", "5.1.6", "5.2.2"]
    assert "Not judged now" in format_diff(d)


def test_fixed_and_removed_through_real_scans_and_report_json(tmp_path):
    """A workload failing 5.4.1 in report A and passing in B is fixed; one deleted in B is removed."""
    from kaudit.engine import evaluate_check
    from kaudit.report.json import JsonFormatter, load_report_for_trend
    from tests.unit.section5_helpers import (check, container, facts_of, make_deployment_with_pods,
                                             make_namespace, pod_spec)

    secret_env = pod_spec({**container(), "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "api", "key": "token"}}}]})
    clean = pod_spec(container())

    def scan(**workloads):
        facts = facts_of(make_namespace("shop"), *(make_deployment_with_pods(name, "shop", spec, replicas=2)
                                                   for name, spec in workloads.items()))
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.json"
        path.write_bytes(JsonFormatter().render(report(evaluate_check(check("5.4.1"), facts))))
        return load_report_for_trend(path)

    a = scan(web=secret_env, batch=secret_env, api=clean)
    b = scan(web=clean, api=secret_env)                  # web fixed, batch deleted, api regressed
    d = diff_reports(a, b)
    names = lambda entries: [e.target.name for e in entries]
    assert names(d.fixed) == ["web"] and names(d.removed) == ["batch"] and names(d.regressed) == ["api"]
    assert d.unlisted == [] and d.unjudged == [] and d.new == []


def test_identical_reports_have_no_changes():
    old, _ = _pair()
    d = diff_reports(old, old)
    assert d.is_empty() and len(d.still_failing) == 4


def test_format_diff_lists_changes_and_truncates():
    text = format_diff(diff_reports(*_pair()))
    assert text.startswith("Summary: 1 new failures, 1 regressed, 1 fixed, 0 resolved by removal, "
                           "1 not judged now, 0 no longer failing, not listed, 1 still failing, "
                           "2 other status changes")
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
