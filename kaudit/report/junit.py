"""junit.xml for CI (Jenkins, GitLab): one testsuite per section, one
testcase per (check, target).

Names are stable across scans so CI can track a test's history:
classname = "<benchmark>.<section>" (e.g. "cis-1.12.1.2"), name = "<id> <target key>".
Mapping: PASS -> passed, FAIL -> <failure>, ERROR -> <error>,
WARN / SKIP / WAIVED -> <skipped> with the reason.
Built with ElementTree (escaping is the library's job); characters XML 1.0
cannot carry are removed first.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime, timezone

from kaudit.model import Report, Result, Status
from kaudit.report import Formatter
from kaudit.report.common import check_sort_key, section_title

# Everything outside XML 1.0's Char production.
_ILLEGAL_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    return _ILLEGAL_XML.sub("", "" if value is None else str(value))


def _timestamp(iso: str) -> str | None:
    """JUnit's schema wants xs:dateTime without a zone; report in UTC."""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.replace(microsecond=0).isoformat()


def _duration(started: str, finished: str) -> float:
    try:
        a = datetime.fromisoformat(started.replace("Z", "+00:00"))
        b = datetime.fromisoformat(finished.replace("Z", "+00:00"))
        return max((b - a).total_seconds(), 0.0)
    except (ValueError, TypeError, AttributeError):
        return 0.0


def _details(r: Result) -> str:
    lines = [f"{r.check} {r.title}", f"Target: {r.target.key()}", f"Status: {r.status.value}"]
    if r.message:
        lines.append(f"Finding: {r.message}")
    if r.evidence:
        lines.append("Evidence:")
        for e in r.evidence:
            value = "(absent)" if e.value is None else e.value
            line = f"  - {e.what} = {value} [source: {e.source}]"
            if e.expected is not None:
                line += f" expected: {e.expected}"
            if e.note:
                line += f" ({e.note})"
            lines.append(line)
    if r.waiver is not None:
        w = r.waiver
        lines.append(f"Waived (was {r.original_status.value if r.original_status else '?'}) "
                     f"by {w.owner} until {w.expires}: {w.justification}"
                     + (f" [{w.ticket}]" if w.ticket else ""))
    if r.remediation:
        lines.append(f"Remediation: {r.remediation}")
    return "\n".join(lines)


def _skip_reason(r: Result) -> str:
    if r.status is Status.WAIVED and r.waiver is not None:
        return (f"WAIVED (was {r.original_status.value if r.original_status else '?'}) by "
                f"{r.waiver.owner} until {r.waiver.expires}: {r.waiver.justification}")
    if r.status is Status.WARN:
        return f"WARN: manual review needed: {r.message}"
    return f"{r.status.value}: {r.message}"


def _score_properties(report: Report) -> list[tuple[str, str]]:
    """The benchmark's figures, on every suite (JUnit has no report-level properties)."""
    s = report.benchmark_score()
    out = [("scan_complete", "true" if s.complete else "false"),
           ("score_automated", "incomplete" if not s.complete else s.automated.text())]
    for label, tally in (("automated", s.automated), ("manual", s.manual)):
        out += [(f"recommendations_{label}_passed", str(tally.passed)),
                (f"recommendations_{label}_failed", str(tally.failed)),
                (f"recommendations_{label}_total", str(tally.total))]
    out.append(("score_manual_kaudit", s.manual.text()))
    if not s.complete:
        out.append(("incomplete_reasons", "; ".join(s.incomplete_reasons)))
    return out


class JunitFormatter(Formatter):
    name = "junit"
    filename = "junit.xml"

    def render(self, report: Report) -> bytes:
        benchmark = report.scan.benchmark or "benchmark"
        by_section: dict[str, list[Result]] = defaultdict(list)
        for r in report.results:
            by_section[r.section].append(r)

        root = ET.Element("testsuites", name=xml_text(f"kaudit {benchmark}"))
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        stamp = _timestamp(report.scan.started)
        score_props = _score_properties(report)
        for index, section in enumerate(sorted(by_section, key=check_sort_key)):
            results = sorted(by_section[section],
                             key=lambda r: (check_sort_key(r.check), r.target.key()))
            classname = xml_text(f"{benchmark}.{section}")
            suite = ET.SubElement(root, "testsuite", name=classname, id=str(index),
                                  package=classname)
            props = ET.SubElement(suite, "properties")
            title = section_title(section)
            if title:
                ET.SubElement(props, "property", name="section_title", value=xml_text(title))
            for name, value in score_props:
                ET.SubElement(props, "property", name=name, value=xml_text(value))
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            seen: dict[str, int] = {}
            for r in results:
                name = xml_text(f"{r.check} {r.target.key()}")
                # Two results with the same identity would collapse in CI's history.
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:
                    name = f"{name} ({seen[name]})"
                case = ET.SubElement(suite, "testcase", name=name, classname=classname, time="0")
                counts["tests"] += 1
                if r.status is Status.FAIL:
                    counts["failures"] += 1
                    el = ET.SubElement(case, "failure", message=xml_text(r.message or r.title),
                                       type=xml_text(r.severity))
                    el.text = xml_text(_details(r))
                elif r.status is Status.ERROR:
                    counts["errors"] += 1
                    el = ET.SubElement(case, "error", message=xml_text(r.message or "could not check"),
                                       type="ERROR")
                    el.text = xml_text(_details(r))
                elif r.status in (Status.WARN, Status.SKIP, Status.WAIVED):
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message=xml_text(_skip_reason(r)))
                    if r.status is not Status.SKIP:   # a reviewer needs the evidence of WARN/WAIVED
                        out = ET.SubElement(case, "system-out")
                        out.text = xml_text(_details(r))
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("time", "0")
            if stamp:
                suite.set("timestamp", stamp)
            suite.set("hostname", xml_text("".join((report.scan.cluster.name or "unknown").split())) or "unknown")
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("time", f"{_duration(report.scan.started, report.scan.finished):.3f}")
        ET.indent(root, space=" ")
        return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
