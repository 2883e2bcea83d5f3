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


def test_cluster_strings_cannot_forge_summary_lines_or_reach_the_terminal_raw():
    forged = "x\nScore: 100.0% (forged)\u2028Score: 100.0%\u2029\r\x85Total 0"
    rep = report([result("1.2.1", Status.FAIL, Target("Pod", "p\u202eevil", namespace="n"),
                         message=f"--token-auth-file={forged}")],
                 complete=False, incomplete_reasons=[f"node {forged} unreachable"])
    text = TextFormatter().render(rep).decode()
    lines = text.splitlines()                       # splitlines() breaks on U+2028/U+2029/NEL too
    assert len([l for l in lines if l.startswith("Score:")]) == 1
    assert not [l for l in lines if l.startswith("Total 0")]
    for raw in ("\u2028", "\u2029", "\r", "\x85", "\u202e"):
        assert raw not in text
    assert "x\\x0aScore: 100.0% (forged)\\u2028Score" in text and "p\\u202eevil" in text


def test_terminal_sanitiser_disarms_escape_sequences():
    from kaudit.termsafe import terminal_line, terminal_text
    for hostile in ("\x1b]0;owned\x07", "\x1b[2J", "\x1b]8;;https://evil/\x1b\\click\x1b]8;;\x1b\\",
                    "\x9b2J", "\x9d0;owned\x9c", "a\x00b", "tab\there"):
        shown = terminal_text(hostile)
        assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in shown), repr(shown)
    assert terminal_text("Ünïcode 名前") == "Ünïcode 名前"
    long = terminal_line("k" * 10_000, limit=100)
    assert len(long) < 200 and "9900 more characters" in long


def test_verbose_text_counts_the_targets_a_grouped_pass_names():
    """issue 15: a failing recommendation says how many of its targets pass, grouped passes included."""
    rows = [result("5.1.6", Status.FAIL, Target("Deployment", f"bad{i}", namespace="ns"), title="tokens")
            for i in range(3)]
    rows.append(result("5.1.6", Status.PASS, Target("Cluster", "cluster"), title="tokens",
                       passed=tuple(Target("Deployment", f"ok{i}", namespace="ns") for i in range(7))))
    text = TextFormatter().render(report(rows)).decode()
    assert "FAIL 5.1.6 [high] tokens (3 of 10 targets fail; 7 pass: 70.0%)" in text
    assert "ok1" not in text
