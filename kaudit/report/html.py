"""report.html: one self-contained file an auditor can file.

Inline CSS, inline SVG and one small inline script (hash-pinned in the
Content-Security-Policy, which forbids every external load); readable
without JavaScript and printable. Jinja2 with autoescape on, and a
`finalize` hook that makes control and bidi-override characters visible in
every `{{ }}` output, so hostile cluster strings can neither inject markup nor
disguise themselves.

The templates only lay out a view model built here in Python: grouping,
ordering and truncation (details collapsed, long lists cut with counts; the
JSON keeps everything) happen once, in one place, which is what keeps a
150,000-pod report small and quick to render.
"""
from __future__ import annotations

import base64
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

import jinja2
from markupsafe import Markup

from kaudit.model import Report, Result, Status, Target
from kaudit.report import Formatter
from kaudit.report.common import (SEVERITY_ORDER, STATUS_ORDER, Score, check_sort_key, clip,
                                  section_title, severity_rank, status_rank, target_label,
                                  top_section, visible, worst_status)
from kaudit.report.diff import ReportDiff, diff_reports, not_comparable
from kaudit.score import BenchmarkScore, Recommendation, Tally, benchmark_score, recommendations
from kaudit.resources import data_dir

# Truncation limits: what the HTML shows; report.json always has everything.
MAX_ROWS_PER_CHECK = 40        # non-PASS targets shown in full per recommendation
MAX_PASS_NAMES = 25            # PASS rows (with their evidence) per recommendation
MAX_GROUPED_PASS_NAMES = 100   # targets named under a PASS that stands for many (issue 15)
MAX_EVIDENCE_PER_RESULT = 12
MAX_TEXT = 1500                # characters of one cluster-supplied value
MAX_LIMIT_GROUPS = 300         # (status, check, reason) groups in "Limits of the audit"
MAX_GROUP_TARGETS = 12         # targets named per group
MAX_MATRIX_ROWS = 80           # distinct node profiles per matrix
MAX_MATRIX_NODE_NAMES = 40
MAX_TREND_ROWS = 100
MAX_LIST = 300                 # collection errors, evidence sources, ...
MAX_MANUAL_SAMPLES = 5
TOP_FAILURES = 10
MATRIX_SECTIONS = ("1", "2", "3", "4")

# Fill of each status in the stacked bars, as an SVG attribute: renderers that
# do not apply the page's CSS to inline SVG (WeasyPrint) still colour them.
BAR_COLOURS = {"FAIL": "#a3211a", "ERROR": "#c98a1e", "WARN": "#f0d264", "WAIVED": "#8fa3b8",
               "SKIP": "#d8d8d8", "PASS": "#5fae74"}

STATUS_LETTER = {Status.PASS: "P", Status.FAIL: "F", Status.ERROR: "E", Status.WARN: "W",
                 Status.SKIP: "S", Status.WAIVED: "V"}


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return visible(clip(value, 20_000))
    return value


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        autoescape=True,                 # every template, whatever its file name
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["clip"] = lambda v, n=MAX_TEXT: clip(v, n) if isinstance(v, str) else v
    env.filters["target"] = target_label
    env.filters["pct"] = lambda s: s.text() if isinstance(s, (Score, Tally)) else ""
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.globals.update(
        status_bar=status_bar, letters={s.value: STATUS_LETTER[s] for s in Status},
        status_order=[s.value for s in STATUS_ORDER], max_evidence=MAX_EVIDENCE_PER_RESULT,
        bar_colours=BAR_COLOURS)
    return env


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


# ---------------------------------------------------------------------------
# View model
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class RowGroup:
    label: str                      # "namespace team-a", "node cp-1", ""
    rows: list[Result]


@dataclass(slots=True)
class PassRow:
    """A PASS result; for one that stands for many targets, the first of them,
    by kind and namespace ("Deployment shop": ["api", "web"])."""
    result: Result
    groups: list[tuple[str, list[str]]]   # (kind and namespace, names), capped
    more: int                       # how many more it names (all in report.json)

    @property
    def names_text(self) -> str:
        """One line: "Deployment shop: api, web; CronJob shop: nightly" (plain text, escaped on output)."""
        return "; ".join(f"{head}: {', '.join(names)}" for head, names in self.groups)

    @property
    def count(self) -> int:
        return len(self.result.passed)


@dataclass(slots=True)
class CheckView:
    id: str
    title: str
    section: str
    level: int
    cis_label: str
    automated: bool
    severity: str
    remediation: str
    counts: dict[str, int]          # status -> targets (a grouped PASS counts each target it names)
    total: int                      # targets judged
    worst: Status
    groups: list[RowGroup]
    rows_hidden: int
    pass_names: list[str]           # the first passing targets, grouped passes expanded
    pass_hidden: int
    pass_rows: list[PassRow]        # the PASS results, with their evidence (shown collapsed)
    pass_rows_hidden: int           # passing targets of the PASS results not among pass_rows
    statuses: str                   # "FAIL PASS" (for the filter script)
    waivers: list[Mapping[str, Any]]
    pass_rate: str = ""             # "12 of 14 targets pass (85.7%)"

    @property
    def anchor(self) -> str:
        return f"check-{self.id}"

    @property
    def open(self) -> bool:
        return self.worst in (Status.FAIL, Status.ERROR)


@dataclass(slots=True)
class SectionView:
    id: str
    title: str
    checks: list[CheckView]
    score: Tally                    # this section's CIS-Automated recommendations
    counts: dict[str, int]


@dataclass(slots=True)
class LimitGroup:
    status: str
    check: str
    title: str
    reason: str
    count: int
    targets: list[str]


@dataclass(slots=True)
class MatrixRow:
    nodes: list[str]
    node_count: int
    cells: list[str | None]         # status value per column, None = no result


@dataclass(slots=True)
class Matrix:
    section: str
    title: str
    columns: list[str]
    rows: list[MatrixRow]
    rows_hidden: int
    nodes_hidden: int


@dataclass(slots=True)
class TrendView:
    previous_started: str
    previous_score: BenchmarkScore
    categories: list[tuple[str, str, int, list[Any]]]   # (key, title, count, entries shown)


@dataclass(slots=True)
class ReportView:
    report: Report
    score: BenchmarkScore
    counts: dict[str, int]
    sections: list[SectionView]
    top_failures: list[CheckView]
    severity_rows: list[tuple[str, dict[str, int]]]
    limits: list[LimitGroup]
    limits_hidden: int
    matrices: list[Matrix]
    trend: TrendView | None
    manual: list[tuple[CheckView, list[Result]]]
    waivers_applied: list[Mapping[str, Any]]
    waivers_expired: list[Mapping[str, Any]]
    waivers_stale: list[Mapping[str, Any]]
    waivers_unconfirmed: list[Mapping[str, Any]]
    duration: str
    statuses: list[str] = field(default_factory=lambda: [s.value for s in STATUS_ORDER])
    trend_unavailable: str | None = None    # why a previous report gave no trend (another cluster)

    @property
    def check_count(self) -> int:
        return sum(len(s.checks) for s in self.sections)


def _row_sort_key(r: Result) -> tuple:
    t = r.target
    return (status_rank(r.status), t.namespace or "", t.node or "", t.kind, t.name)


def _group_label(r: Result) -> str:
    t = r.target
    if t.namespace:
        return f"namespace {t.namespace}"
    if t.node and t.kind != "Node":
        return f"node {t.node}"
    return ""


def _check_view(results: list[Result], max_rows: int = MAX_ROWS_PER_CHECK) -> CheckView:
    first = results[0]
    rec = recommendations(results)[first.check]
    counts = rec.counts
    not_passed = sorted((r for r in results if r.status is not Status.PASS), key=_row_sort_key)
    shown = not_passed[:max_rows]
    groups: list[RowGroup] = []
    for r in shown:
        label = _group_label(r)
        if not groups or groups[-1].label != label:
            groups.append(RowGroup(label=label, rows=[]))
        groups[-1].rows.append(r)
    passed = sorted((r for r in results if r.status is Status.PASS), key=_row_sort_key)
    pass_names: list[str] = []
    for r in passed:
        for t in (_ordered(r.passed) if r.passed else (r.target,)):
            if len(pass_names) >= MAX_PASS_NAMES:
                break
            pass_names.append(target_label(t))
    pass_targets = counts.get(Status.PASS.value, 0)
    waivers: dict[str, Mapping[str, Any]] = {}
    for r in results:
        if r.waiver is not None:
            waivers.setdefault(repr(r.waiver.to_json()), r.waiver.to_json())
    worst = worst_status(r.status for r in results) or Status.SKIP
    return CheckView(
        id=first.check, title=first.title, section=first.section, level=first.level,
        cis_label=first.cis_label, automated=first.automated, severity=first.severity,
        remediation=first.remediation,
        counts={s.value: counts.get(s.value, 0) for s in STATUS_ORDER if counts.get(s.value)},
        total=sum(counts.values()), worst=worst, groups=groups,
        rows_hidden=len(not_passed) - len(shown),
        pass_names=pass_names,
        pass_rows=[_pass_row(r) for r in passed[:MAX_PASS_NAMES]],
        pass_rows_hidden=sum(r.targets_judged for r in passed[MAX_PASS_NAMES:]),
        pass_hidden=max(pass_targets - len(pass_names), 0),
        statuses=" ".join(s.value for s in STATUS_ORDER if counts.get(s.value)),
        waivers=list(waivers.values()),
        pass_rate=_pass_rate(rec),
    )


def _ordered(targets: Iterable[Target]) -> list[Target]:
    """Targets in a fixed order: report.json groups a passed list by kind and
    namespace, so the order it was written in does not survive a round trip
    (`kaudit render` must reproduce the page byte for byte)."""
    return sorted(targets, key=lambda t: (t.kind, t.namespace or "", t.name))


def _pass_row(r: Result, limit: int = MAX_GROUPED_PASS_NAMES) -> PassRow:
    shown = _ordered(r.passed)[:limit]
    groups: list[tuple[str, list[str]]] = []
    for t in shown:
        head = f"{t.kind} {t.namespace}" if t.namespace else t.kind
        if not groups or groups[-1][0] != head:
            groups.append((head, []))
        groups[-1][1].append(t.name)
    return PassRow(result=r, groups=groups, more=len(r.passed) - len(shown))


def _pass_rate(rec: Recommendation) -> str:
    passed, decided = rec.targets_passed, rec.targets_passed + rec.targets_failed
    if not decided:
        return "no target decided"
    return f"{passed:,} of {decided:,} decided target{'s' if decided != 1 else ''} pass ({rec.pass_rate:.1f}%)"


def _limits(results: Iterable[Result]) -> tuple[list[LimitGroup], int]:
    grouped: dict[tuple[str, str, str], list[Result]] = defaultdict(list)
    for r in results:
        if r.status in (Status.ERROR, Status.SKIP):
            grouped[(r.status.value, r.check, r.message)].append(r)
    keys = sorted(grouped, key=lambda k: (k[0] != "ERROR", check_sort_key(k[1]), k[2]))
    groups = []
    for key in keys[:MAX_LIMIT_GROUPS]:
        rs = sorted(grouped[key], key=_row_sort_key)
        groups.append(LimitGroup(status=key[0], check=key[1], title=rs[0].title,
                                 reason=key[2] or "(no reason given)", count=len(rs),
                                 targets=[target_label(r.target) for r in rs[:MAX_GROUP_TARGETS]]))
    return groups, max(len(keys) - MAX_LIMIT_GROUPS, 0)


def _matrices(results: list[Result], titles: Mapping[str, str] | None) -> list[Matrix]:
    out = []
    for sec in MATRIX_SECTIONS:
        cells: dict[str, dict[str, list[Status]]] = defaultdict(lambda: defaultdict(list))
        columns: set[str] = set()
        for r in results:
            if r.target.node and top_section(r.section) == sec:
                cells[r.target.node][r.check].append(r.status)
                columns.add(r.check)
        if not cells:
            continue
        cols = sorted(columns, key=check_sort_key)
        # Nodes with the same status in every column collapse into one row: a
        # 5,000-node fleet of identical workers is one line, not 5,000.
        profiles: dict[tuple, list[str]] = defaultdict(list)
        for node in sorted(cells):
            row = tuple((w.value if (w := worst_status(cells[node].get(c, ()))) else None) for c in cols)
            profiles[row].append(node)
        ordered = sorted(profiles.items(),
                         key=lambda kv: (-sum(v == "FAIL" for v in kv[0]), kv[1][0]))
        rows = [MatrixRow(nodes=nodes[:MAX_MATRIX_NODE_NAMES], node_count=len(nodes), cells=list(row))
                for row, nodes in ordered[:MAX_MATRIX_ROWS]]
        hidden = ordered[MAX_MATRIX_ROWS:]
        out.append(Matrix(section=sec, title=section_title(sec, titles), columns=cols, rows=rows,
                          rows_hidden=len(hidden), nodes_hidden=sum(len(n) for _, n in hidden)))
    return out


def _trend(previous: Report, current: Report) -> TrendView:
    d: ReportDiff = diff_reports(previous, current)
    cats = [("new", "New failures", d.new), ("regressed", "Regressed", d.regressed),
            ("fixed", "Fixed", d.fixed), ("removed", "Failing target no longer present", d.removed),
            ("unjudged", "Failing before, not judged now (check not run, undecided, or target left out)",
             d.unjudged),
            ("unlisted", "No longer failing, not listed (fixed or gone; previous-format report)", d.unlisted),
            ("still", "Still failing", d.still_failing), ("changed", "Other status changes", d.changed)]
    return TrendView(previous_started=previous.scan.started, previous_score=previous.benchmark_score(),
                     categories=[(k, t, len(e), e[:MAX_TREND_ROWS]) for k, t, e in cats])


def _duration(started: str, finished: str) -> str:
    try:
        a = datetime.fromisoformat(started.replace("Z", "+00:00"))
        b = datetime.fromisoformat(finished.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return ""
    seconds = int((b - a).total_seconds())
    if seconds < 0:
        return ""
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _waiver_list(report: Report, key: str) -> list[Mapping[str, Any]]:
    value = report.waivers.get(key) if isinstance(report.waivers, Mapping) else None
    return [w for w in value if isinstance(w, Mapping)][:MAX_LIST] if isinstance(value, list) else []


def build_view(report: Report, previous: Report | None = None,
               section_titles: Mapping[str, str] | None = None,
               max_rows_per_check: int = MAX_ROWS_PER_CHECK) -> ReportView:
    by_check: dict[str, list[Result]] = defaultdict(list)
    for r in report.results:
        by_check[r.check].append(r)
    checks = [_check_view(by_check[cid], max_rows_per_check) for cid in sorted(by_check, key=check_sort_key)]

    by_section: dict[str, list[CheckView]] = defaultdict(list)
    for c in checks:
        by_section[c.section].append(c)
    section_results: dict[str, list[Result]] = defaultdict(list)
    for r in report.results:
        section_results[r.section].append(r)
    sections = []
    for sid in sorted(by_section, key=check_sort_key):
        rs = section_results[sid]
        cnt = Counter(r.status.value for r in rs)
        sections.append(SectionView(id=sid, title=section_title(sid, section_titles),
                                    checks=by_section[sid], score=benchmark_score(rs).automated,
                                    counts={s.value: cnt.get(s.value, 0) for s in STATUS_ORDER}))

    failing = [c for c in checks if c.counts.get("FAIL")]
    failing.sort(key=lambda c: (severity_rank(c.severity), -c.counts["FAIL"], check_sort_key(c.id)))

    sev: dict[str, Counter] = defaultdict(Counter)
    for r in report.results:
        sev[r.severity][r.status.value] += 1
    severities = list(SEVERITY_ORDER) + sorted(set(sev) - set(SEVERITY_ORDER))
    severity_rows = [(s, {st.value: sev[s].get(st.value, 0) for st in STATUS_ORDER})
                     for s in severities if s in sev]

    limits, limits_hidden = _limits(report.results)

    manual = []
    for c in checks:
        if c.counts.get("WARN"):
            warn = sorted((r for r in by_check[c.id] if r.status is Status.WARN), key=_row_sort_key)
            manual.append((c, warn[:MAX_MANUAL_SAMPLES]))

    applied = _waiver_list(report, "applied")
    if not applied:
        # A report waived by an older tool, or re-rendered from results alone.
        seen: dict[str, dict[str, Any]] = {}
        for r in report.results:
            if r.waiver is not None:
                entry = seen.setdefault(repr(r.waiver.to_json()), {"waiver": r.waiver.to_json(), "results": 0})
                entry["results"] += 1
        applied = list(seen.values())[:MAX_LIST]

    return ReportView(
        report=report, score=report.benchmark_score(), counts=report.counts(), sections=sections,
        top_failures=failing[:TOP_FAILURES], severity_rows=severity_rows,
        limits=limits, limits_hidden=limits_hidden,
        matrices=_matrices(report.results, section_titles),
        trend=_trend(previous, report) if previous is not None and not not_comparable(previous, report) else None,
        trend_unavailable=not_comparable(previous, report) if previous is not None else None,
        manual=manual, waivers_applied=applied,
        waivers_expired=_waiver_list(report, "expired"), waivers_stale=_waiver_list(report, "stale"),
        waivers_unconfirmed=_waiver_list(report, "unconfirmed"),
        duration=_duration(report.scan.started, report.scan.finished),
    )


def status_bar(counts: Mapping[str, int], width: int = 100) -> list[tuple[str, float, float]]:
    """(status, x, width) segments of a stacked bar, in percent of `width`."""
    total = sum(counts.values())
    out, x = [], 0.0
    if not total:
        return out
    for s in STATUS_ORDER:
        n = counts.get(s.value, 0)
        if n:
            w = width * n / total
            out.append((s.value, round(x, 3), round(w, 3)))
            x += w
    return out


# ---------------------------------------------------------------------------
# Formatter
# ---------------------------------------------------------------------------

class HtmlFormatter(Formatter):
    name = "html"
    filename = "report.html"

    def __init__(self, previous: Report | None = None,
                 section_titles: Mapping[str, str] | None = None,
                 report_json_sha256: str | None = None) -> None:
        self.previous = previous
        self.section_titles = section_titles
        self.report_json_sha256 = report_json_sha256     # shown in the footer, when known
        self._env = _environment()

    def render(self, report: Report) -> bytes:
        tdir = data_dir("templates")
        style = (tdir / "report.css").read_text(encoding="utf-8")
        script = (tdir / "report.js").read_text(encoding="utf-8")
        csp = ("default-src 'none'; "
               f"style-src '{_csp_hash(style)}'; "
               f"script-src '{_csp_hash(script)}'; "
               "img-src data:; base-uri 'none'; form-action 'none'")
        view = build_view(report, self.previous, self.section_titles)
        html = self._env.get_template("report.html.j2").render(
            v=view, r=report, scan=report.scan, csp=csp, report_json_sha256=self.report_json_sha256,
            style=Markup(style), script=Markup(script),
        )
        return html.encode("utf-8")
