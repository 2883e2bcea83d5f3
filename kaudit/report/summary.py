"""The short terminal summary `kaudit scan` prints by default.

Score line (kaudit.score), why the scan is incomplete, the ten worst failing
recommendations, and the report's path last, where the eye lands after a
long run. `--verbose` prints the full text report (kaudit.report.text)
instead. Colour only on a terminal, and never when NO_COLOR is set
(https://no-color.org). Every cluster-supplied string goes through
`kaudit.termsafe.terminal_text`, so a hostile object name cannot drive the terminal.
"""
from __future__ import annotations

import os
from collections import defaultdict
from typing import IO

from kaudit.model import Report, Result, Status
from kaudit.report.common import check_sort_key, severity_rank, target_label
from kaudit.termsafe import terminal_text

WORST = 10
_COLOURS = {"FAIL": "31;1", "ERROR": "33", "PASS": "32", "incomplete": "33;1", "bold": "1", "dim": "2"}


def use_colour(stream: IO[str], environ: dict[str, str] | None = None) -> bool:
    """Colour on a terminal unless NO_COLOR is set to anything non-empty."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def render_summary(report: Report, report_path: str | None, colour: bool = False) -> str:
    def paint(text: str, style: str) -> str:
        return f"\033[{_COLOURS[style]}m{text}\033[0m" if colour else text

    scan = report.scan
    c = scan.cluster
    lines = [f"kaudit {terminal_text(report.tool.get('version', ''))}: {terminal_text(c.name or 'unknown')} "
             f"({terminal_text(c.version or 'version unknown')}), run by {terminal_text(scan.operator)}"]
    score = report.benchmark_score()
    lines.append(paint(score.summary_line(), "bold" if score.complete else "incomplete"))
    if not scan.complete:
        lines.append(paint("SCAN INCOMPLETE:", "incomplete"))
        lines += [f"  - {terminal_text(r)}" for r in scan.incomplete_reasons] or ["  - no reason recorded"]
    if scan.nodes_not_inspected:
        why = " (node inspection not requested)" if scan.node_access == "none" else ""
        lines.append(f"Nodes not inspected: {scan.nodes_not_inspected:,}{why}")

    failing: dict[str, list[Result]] = defaultdict(list)
    for r in report.results:
        if r.status is Status.FAIL:
            failing[r.check].append(r)
    counts = report.counts()
    lines.append(f"Results: {paint(str(counts['FAIL']) + ' FAIL', 'FAIL') if counts['FAIL'] else '0 FAIL'}, "
                 f"{counts['ERROR']} ERROR, {counts['WARN']} WARN, {counts['PASS']} PASS, "
                 f"{counts['SKIP']} SKIP, {counts['WAIVED']} WAIVED")
    if failing:
        order = sorted(failing, key=lambda cid: (severity_rank(failing[cid][0].severity),
                                                 -len(failing[cid]), check_sort_key(cid)))
        lines.append(f"Worst findings ({min(WORST, len(order))} of {len(order)} failing recommendations):")
        for cid in order[:WORST]:
            rs = sorted(failing[cid], key=lambda r: r.target.key())
            first = rs[0]
            more = f" and {len(rs) - 1:,} more" if len(rs) > 1 else ""
            lines.append(f"  {paint('FAIL', 'FAIL')} {terminal_text(cid)} [{terminal_text(first.severity)}] "
                         f"{terminal_text(first.title)}: {terminal_text(target_label(first.target))}{more}")
        if len(order) > WORST:
            lines.append(paint(f"  ... {len(order) - WORST} more failing recommendations in the report "
                               f"(--verbose lists them)", "dim"))
    if report_path:
        lines.append(f"Report: {terminal_text(report_path)}")
    return "\n".join(lines) + "\n"
