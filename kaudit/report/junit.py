"""junit.xml for CI (Jenkins, GitLab): one testsuite per section, one
testcase per (check, target).

Names are stable across scans so CI can track a test's history:
classname = "<benchmark>.<section>" (e.g. "cis-1.12.1.2"), name = "<id> <target key>".
Mapping: PASS -> passed, FAIL -> <failure>, ERROR -> <error>,
WARN / SKIP / WAIVED -> <skipped> with the reason. A PASS that stands for
many targets (section 5's passing workloads, subjects, roles, ...) is one
test case whose <system-out> gives their count; report.json names them.
Built with ElementTree (escaping is the library's job); characters XML 1.0
cannot carry are removed first.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime, timezone
from itertools import groupby

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


# The check's title and remediation are written on this many test cases per
# check, and once per check in the suite's properties (check.<id>.title,
# check.<id>.remediation): at 150,000 pods the same paragraph on every case
# was a fifth of junit.xml.
REMEDIATION_REPEAT = 20


def _details(r: Result, full_remediation: bool = True) -> str:
    # The test case's name is the check and target, its element the status and
    # its message attribute the finding: the body does not repeat them. The
    # check's title and remediation are its suite's properties; the first
    # cases of each check repeat them for a reader who opens one case.
    lines = [f"{r.check} {r.title}"] if full_remediation else []
    if r.evidence:
        lines.append("Evidence:")
        # Observations from one source against one expectation (the sample pods
        # of a workload) name that source and expectation once, not per line.
        for (source, expected), group in groupby(r.evidence, key=lambda e: (e.source, e.expected)):
            items = list(group)
            tail = f" [source: {source}]" + (f" expected: {expected}" if expected is not None else "")
            if len(items) > 1:
                lines.append(f"  -{tail}:")
            for e in items:
                value = "(absent)" if e.value is None else e.value
                line = f"{'    ' if len(items) > 1 else '  - '}{e.what} = {value}"
                line += "" if len(items) > 1 else tail
                if e.note:
                    line += f" ({e.note})"
                lines.append(line)
    if r.waiver is not None:
        w = r.waiver
        lines.append(f"Waived (was {r.original_status.value if r.original_status else '?'}) "
                     f"by {w.owner} until {w.expires}: {w.justification}"
                     + (f" [{w.ticket}]" if w.ticket else ""))
    if r.remediation and full_remediation:
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
    scan = report.scan   # who ran it, with what (kaudit.attribution)
    out += [("cluster_name", scan.cluster.name or "unknown"), ("operator", scan.operator),
            ("command_line", " ".join(scan.command_line) or "unknown"),
            ("kaudit_version", report.tool.get("version", "") or "unknown"),
            ("image", scan.image), ("catalog_sha256", scan.catalog_sha256)]
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
            described: set[str] = set()
            for r in results:       # each check's title and remediation, once
                if r.check not in described:
                    described.add(r.check)
                    ET.SubElement(props, "property", name=xml_text(f"check.{r.check}.title"),
                                  value=xml_text(r.title))
                    ET.SubElement(props, "property", name=xml_text(f"check.{r.check}.remediation"),
                                  value=xml_text(r.remediation))
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            seen: dict[str, int] = {}
            detailed: dict[str, int] = {}   # check -> bodies written with the full remediation
            for r in results:
                name = xml_text(f"{r.check} {r.target.key()}")
                # Two results with the same identity would collapse in CI's history.
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:
                    name = f"{name} ({seen[name]})"
                case = ET.SubElement(suite, "testcase", name=name, classname=classname, time="0")
                counts["tests"] += 1
                if r.status not in (Status.PASS, Status.SKIP):
                    detailed[r.check] = detailed.get(r.check, 0) + 1
                full = detailed.get(r.check, 0) <= REMEDIATION_REPEAT
                if r.status is Status.FAIL:
                    counts["failures"] += 1
                    el = ET.SubElement(case, "failure", message=xml_text(r.message or r.title),
                                       type=xml_text(r.severity))
                    el.text = xml_text(_details(r, full))
                elif r.status is Status.ERROR:
                    counts["errors"] += 1
                    el = ET.SubElement(case, "error", message=xml_text(r.message or "could not check"),
                                       type="ERROR")
                    el.text = xml_text(_details(r, full))
                elif r.status is Status.PASS and r.passed:
                    # One test case for a PASS that stands for many targets: its
                    # count here, the names in report.json (a case per target
                    # would make junit.xml grow with the cluster).
                    out = ET.SubElement(case, "system-out")
                    out.text = xml_text(f"{r.message}\n{len(r.passed):,} targets pass; "
                                        "report.json names each of them (passed_targets)")
                elif r.status in (Status.WARN, Status.SKIP, Status.WAIVED):
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message=xml_text(_skip_reason(r)))
                    if r.status is not Status.SKIP:   # a reviewer needs the evidence of WARN/WAIVED
                        out = ET.SubElement(case, "system-out")
                        out.text = xml_text(_details(r, full))
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
