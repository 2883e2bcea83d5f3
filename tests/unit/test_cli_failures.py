"""kaudit failing after the scan started: report.json still written, marked incomplete, exit 4."""
from __future__ import annotations

import json

from kaudit.cli import EXIT_FAILED, main


def test_a_formatter_crash_still_writes_report_json_marked_incomplete(tmp_path, monkeypatch, capsys):
    from kaudit.report.html import HtmlFormatter

    def broken(self, report):
        raise RuntimeError("template bug")
    monkeypatch.setattr(HtmlFormatter, "render", broken)      # stands in for any bug in a formatter
    out = tmp_path / "out"
    assert main(["scan", "--demo", "--checks", "5.1", "--output-dir", str(out)]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert "template bug" in captured.err and "Score:" in captured.out
    report = json.loads((out / "report.json").read_text())
    assert report["scan"]["complete"] is False
    assert any("template bug" in r for r in report["scan"]["incomplete_reasons"])
    assert sorted(p.name for p in out.iterdir()) == ["SHA256SUMS", "report.json"]
