"""The text summary printed by `kaudit scan`."""
from __future__ import annotations

from kaudit.model import Status, Target
from kaudit.report.text import TextFormatter

from tests.unit.report_builders import report, result


def test_sections_failures_truncation_and_limits_hint():
    results = [result("5.2.2", Status.FAIL, Target("Pod", f"p{i:02d}", namespace="ns"),
                      title="Minimize privileged", severity="medium") for i in range(13)]
    results += [result("1.2.1", Status.FAIL, severity="critical"),
                result("1.2.2", Status.PASS), result("4.2.1", Status.ERROR, message="unreadable")]
    text = TextFormatter(max_targets=10).render(report(results, collection_errors=["x"])).decode()
    lines = text.splitlines()
    row = next(l for l in lines if l.startswith("1.2 API Server"))
    assert row.split()[-6:] == ["1", "0", "0", "0", "0", "1"]          # FAIL ERROR WARN WAIVED SKIP PASS
    assert text.index("FAIL 1.2.1 [critical]") < text.index("FAIL 5.2.2 [medium]")
    assert "Pod ns/p09" in text and "Pod ns/p10" not in text and "... and 3 more" in text
    assert "Not checked: 1 result(s) in ERROR, 1 collection error(s)" in text
    assert "Limits of the audit" in text


def test_incomplete_scan_and_escaped_names():
    rep = report([result("1.2.1", Status.FAIL, Target("Pod", "evil\x1b]0;pwned\x07", namespace="n"))],
                 complete=False, incomplete_reasons=["interrupted"])
    text = TextFormatter().render(rep).decode()
    assert "SCAN INCOMPLETE: interrupted" in text
    assert "\x1b" not in text and "\x07" not in text and "evil\\x1b]0;pwned\\x07" in text
