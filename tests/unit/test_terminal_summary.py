"""The default terminal summary: short, colour only on a terminal, report path last (issue 15)."""
from __future__ import annotations

import io

from kaudit.model import Status, Target
from kaudit.report.summary import render_summary, use_colour
from tests.unit.report_builders import report, result


def _report(n_checks: int = 14):
    rs = []
    for i in range(n_checks):
        sev = "critical" if i == 13 else "low"
        rs += [result(f"1.2.{i + 1}", Status.FAIL, severity=sev,
                      target=Target("Pod", f"p{j}", namespace="ns")) for j in range(3)]
    rs.append(result("1.3.1", Status.PASS))
    return report(rs)


def test_summary_shows_score_ten_worst_and_ends_with_the_report_path():
    text = render_summary(_report(), "reports/prod/report.html")
    lines = text.splitlines()
    assert lines[-1] == "Report: reports/prod/report.html"
    assert any(l.startswith("Score:") for l in lines)
    fails = [l for l in lines if l.strip().startswith("FAIL ")]
    assert len(fails) == 10
    assert "1.2.14" in fails[0]            # the critical one first
    assert "4 more failing recommendations" in text
    assert "\033[" not in text


def test_incomplete_scan_gives_reasons_and_no_score():
    rep = _report(2)
    rep.scan.complete = False
    rep.scan.incomplete_reasons = ["2 node(s) could not be inspected"]
    text = render_summary(rep, None)
    assert "incomplete" in text and "2 node(s) could not be inspected" in text
    assert "% of CIS-Automated" not in text


def test_colour_only_on_a_terminal_and_never_with_no_color():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    assert use_colour(Tty(), {}) is True
    assert use_colour(Tty(), {"NO_COLOR": "1"}) is False
    assert use_colour(io.StringIO(), {}) is False
    assert "\033[31;1mFAIL" in render_summary(_report(), "r.html", colour=True)


def test_hostile_names_cannot_drive_the_terminal():
    rep = report([result("1.2.1", Status.FAIL, target=Target("Pod", "evil\x1b[2J\u202e", namespace="ns"))])
    rep.scan.cluster.name = "c\x1b]0;owned\x07"
    text = render_summary(rep, "out/report.html", colour=True)
    assert "\x1b[2J" not in text and "\x1b]0" not in text and "\u202e" not in text
