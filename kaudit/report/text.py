"""Plain-text summary for the terminal (`kaudit scan` prints it on stdout).

Every cluster-supplied string goes through `terminal_text()`, the terminal
sanitiser (kaudit/termsafe.py): a pod name carrying an ANSI escape or a bidi
override must not rewrite the operator's terminal, and a newline or U+2028 in
a flag value must not forge a line of the summary.
"""
from __future__ import annotations

from collections import defaultdict

from kaudit.model import Report, Result, Status
from kaudit.report import Formatter
from kaudit.report.common import (STATUS_ORDER, check_sort_key, clip, section_title,
                                  severity_rank, target_label)
from kaudit.score import recommendations
from kaudit.termsafe import terminal_text

_COUNTED = [s for s in STATUS_ORDER]
MESSAGE_LIMIT = 300     # characters of a result's message on the terminal; report.json has it whole


class TextFormatter(Formatter):
    name = "text"
    filename = "report.txt"

    def __init__(self, max_targets: int = 10) -> None:
        self.max_targets = max_targets

    def render(self, report: Report) -> bytes:
        return self.render_text(report).encode("utf-8")

    def render_text(self, report: Report) -> str:
        scan = report.scan
        c = scan.cluster
        lines = [
            f"{terminal_text(report.tool.get('name', 'kaudit'))} {terminal_text(report.tool.get('version', ''))}"
            f" - {terminal_text(scan.benchmark_title or scan.benchmark)} {terminal_text(scan.benchmark_version)}",
            f"Cluster: {terminal_text(c.name or 'unknown')} ({terminal_text(c.version or 'version unknown')}, "
            f"{terminal_text(c.platform or 'platform unknown')}); nodes: {terminal_text(scan.node_access)}",
        ]
        if not scan.complete:
            lines.append("SCAN INCOMPLETE: " + "; ".join(terminal_text(r) for r in scan.incomplete_reasons))
        lines.append(report.benchmark_score().summary_line())
        lines.append("")

        by_section: dict[str, list[Result]] = defaultdict(list)
        for r in report.results:
            by_section[r.section].append(r)
        header = f"{'Section':<44}" + "".join(f"{st.value:>8}" for st in _COUNTED)
        lines.append(header)
        for section in sorted(by_section, key=check_sort_key):
            counts = {st: 0 for st in _COUNTED}
            for r in by_section[section]:
                counts[r.status] += 1
            title = terminal_text(f"{section} {section_title(section)}".strip())[:43]
            lines.append(f"{title:<44}" + "".join(f"{counts[st]:>8}" for st in _COUNTED))
        totals = report.counts()
        lines.append(f"{'Total':<44}" + "".join(f"{totals[st.value]:>8}" for st in _COUNTED))

        failing: dict[str, list[Result]] = defaultdict(list)
        for r in report.results:
            if r.status is Status.FAIL:
                failing[r.check].append(r)
        if failing:
            lines.append("")
            lines.append(f"Failing checks: {len(failing)}")
            order = sorted(failing, key=lambda cid: (severity_rank(failing[cid][0].severity),
                                                     -len(failing[cid]), check_sort_key(cid)))
            recs = recommendations(report.results)      # targets, grouped passes counted one by one
            for cid in order:
                rs = failing[cid]
                rec = recs[cid]
                total = sum(rec.counts.values())
                rate = f": {rec.pass_rate:.1f}%" if rec.pass_rate is not None else ""
                lines.append(f"  FAIL {terminal_text(cid)} [{terminal_text(rs[0].severity)}] {terminal_text(rs[0].title)}"
                             f" ({rec.targets_failed:,} of {total:,} target{'s' if total != 1 else ''} fail; "
                             f"{rec.targets_passed:,} pass{rate})")
                for r in rs[:self.max_targets]:
                    msg = f": {terminal_text(clip(r.message, MESSAGE_LIMIT))}" if r.message else ""
                    lines.append(f"       - {terminal_text(target_label(r.target))}{msg}")
                if len(rs) > self.max_targets:
                    lines.append(f"       ... and {len(rs) - self.max_targets} more")

        errors = totals[Status.ERROR.value]
        if errors or scan.collection_errors or scan.nodes_unreachable:
            lines.append("")
            lines.append(f"Not checked: {errors} result(s) in ERROR, "
                         f"{len(scan.collection_errors)} collection error(s), "
                         f"{len(scan.nodes_unreachable)} unreachable node(s). "
                         f"See 'Limits of the audit' in report.html.")
        return "\n".join(lines) + "\n"
