"""The benchmark score counts recommendations as CIS does, Automated apart from Manual."""
from __future__ import annotations

import json

from kaudit.model import Status, Target
from kaudit.report.json import JsonFormatter
from kaudit.report.junit import JunitFormatter
from kaudit.report.text import TextFormatter
from kaudit.score import benchmark_score, outcome_of

from tests.unit.report_builders import report, result


def node(name: str) -> Target:
    return Target("Node", name, node=name)


def test_one_failing_target_fails_the_recommendation_however_many_pass():
    results = [result("4.2.1", Status.PASS, node(f"w-{i}")) for i in range(99)]
    results.append(result("4.2.1", Status.FAIL, node("w-99")))
    results.append(result("4.2.2", Status.PASS, node("w-1")))
    s = benchmark_score(results)
    assert (s.automated.passed, s.automated.failed) == (1, 1)
    assert s.automated.text() == "50.0%"      # not 99.0% by targets


def test_outcomes():
    assert outcome_of([Status.PASS, Status.ERROR]) == "undecided"      # not everything was judged
    assert outcome_of([Status.FAIL, Status.ERROR]) == "failed"         # a known failure stays one
    assert outcome_of([Status.PASS, Status.WAIVED]) == "waived"
    assert outcome_of([Status.SKIP]) == "not_applicable"
    assert outcome_of([Status.PASS, Status.SKIP]) == "passed"
    assert outcome_of([Status.WARN, Status.PASS]) == "undecided"


def test_manual_recommendations_never_enter_the_headline():
    results = [result("1.2.1", Status.PASS, node("cp")),
               result("5.1.1", Status.FAIL, Target("ClusterRoleBinding", "x"), cis_label="Manual"),
               result("5.1.2", Status.FAIL, Target("ClusterRoleBinding", "y"), cis_label="Manual")]
    s = benchmark_score(results)
    assert s.automated.text() == "100.0%"
    assert s.manual.text() == "0.0%" and s.manual.failed == 2


def test_incomplete_scan_has_no_headline_anywhere():
    rep = report([result("1.2.1", Status.PASS, node("cp"))], complete=False, incomplete_reasons=["SIGTERM"])
    data = json.loads(JsonFormatter().render(rep))
    assert data["score"]["complete"] is False and data["score"]["headline_percent"] is None
    assert data["score"]["automated"]["passed"] == 1
    text = TextFormatter().render(rep).decode()
    assert "Score: incomplete scan, no score" in text and "100.0%" not in text
    junit = JunitFormatter().render(rep).decode()
    assert 'name="score_automated" value="incomplete"' in junit
    assert 'name="incomplete_reasons" value="SIGTERM"' in junit


def test_the_same_figures_in_json_text_and_junit():
    results = [result("1.2.1", Status.PASS, node("cp")), result("1.2.2", Status.FAIL, node("cp")),
               result("1.2.3", Status.PASS, node("cp")),
               result("5.1.1", Status.PASS, Target("ClusterRoleBinding", "x"), cis_label="Manual")]
    rep = report(results)
    data = json.loads(JsonFormatter().render(rep))
    assert data["score"]["headline_percent"] == 66.7
    assert data["score"]["automated"] == {"passed": 2, "failed": 1, "undecided": 0, "waived": 0,
                                          "not_applicable": 0, "total": 3, "percent": 66.7}
    assert data["score"]["manual"]["percent"] == 100.0
    assert "Score: 66.7% of CIS-Automated recommendations pass" in TextFormatter().render(rep).decode()
    junit = JunitFormatter().render(rep).decode()
    assert 'name="score_automated" value="66.7%"' in junit
    assert 'name="score_manual_kaudit" value="100.0%"' in junit


def test_pass_rate_counts_every_target_a_grouped_pass_stands_for():
    """issue 15: 5.1.6 with 3 failing Deployments and 7 passing ones is 70 % failing, not 0 % passing."""
    from dataclasses import replace
    from kaudit.score import recommendations

    fails = [result("5.1.6", Status.FAIL, Target("Deployment", f"bad-{i}", "shop")) for i in range(3)]
    grouped = replace(result("5.1.6", Status.PASS, Target("Cluster", "cluster")),
                      passed=tuple(Target("Deployment", f"ok-{i}", "shop") for i in range(7)))
    rec = recommendations(fails + [grouped])["5.1.6"]
    assert (rec.targets_passed, rec.targets_failed) == (7, 3)
    assert rec.pass_rate == 70.0
    assert rec.outcome == "failed"
    # the headline still counts recommendations, not targets
    s = benchmark_score(fails + [grouped, result("1.2.1", Status.PASS, node("cp"))])
    assert (s.automated.passed, s.automated.failed) == (1, 1)
