"""Compare two reports: what is new, fixed, regressed and still failing.

Results are matched by check id + Target.key(), the same identity JUnit test
names and waivers use, so a trend survives re-ordering of results. Each
target a PASS names in `passed` (a PASS that stands for many targets) is a
PASS row of its own here, on either side.

A target that failed before and has no result now is:
- fixed, when a PASS names it now;
- removed (the target is gone), when the new report lists every target
  (schema 2.0 and later), the check was evaluated in it and could decide
  (no ERROR on the whole cluster), and nothing in the new report names the
  target at all;
- not judged now, otherwise under schema 2.0: the check did not run, could
  not decide, or left the target out (a namespace now without workloads is
  not judged by 5.2, yet still exists);
- unlisted, when the new report is of schema 1.0, which summarised some
  checks' passes: fixed or gone, it cannot tell.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kaudit.model import Report, Result, Status, Target, undecided_checks
from kaudit.report.common import check_sort_key, result_key, severity_rank, target_label
from kaudit.termsafe import terminal_text


@dataclass(frozen=True, slots=True)
class DiffEntry:
    check: str
    title: str
    severity: str
    target: Target
    old_status: Status | None     # None: the result did not exist in the old report
    new_status: Status | None     # None: the result no longer exists

    def line(self) -> str:  # escaped: names come from the cluster
        old = self.old_status.value if self.old_status else "-"
        new = self.new_status.value if self.new_status else "-"
        return terminal_text(f"{self.check} {target_label(self.target)}: {old} -> {new}  ({self.title})")


@dataclass(slots=True)
class ReportDiff:
    new: list[DiffEntry] = field(default_factory=list)            # FAIL now, no result before
    regressed: list[DiffEntry] = field(default_factory=list)      # FAIL now, something else before
    fixed: list[DiffEntry] = field(default_factory=list)          # FAIL before, PASS now
    removed: list[DiffEntry] = field(default_factory=list)        # FAIL before, target gone now
    # FAIL before, no result now, though the check did not run or could not
    # decide, or the target is still named in the new report (see module doc).
    unjudged: list[DiffEntry] = field(default_factory=list)
    # FAIL before, no result now, and the new report (schema 1.0) lists no
    # passing target of that kind for the check: fixed or gone, unknown which.
    unlisted: list[DiffEntry] = field(default_factory=list)
    still_failing: list[DiffEntry] = field(default_factory=list)  # FAIL before and now
    changed: list[DiffEntry] = field(default_factory=list)        # any other status change

    def is_empty(self) -> bool:
        return not (self.new or self.regressed or self.fixed or self.removed or self.unjudged
                    or self.unlisted or self.changed)


def not_comparable(old: Report, new: Report) -> str | None:
    """Why `old` is no baseline for `new`, or None when it is.

    A trend is only meaningful within one cluster: results are matched by
    target, and another cluster's targets would read as "new" and "gone". The
    identity is the kube-system namespace UID (names are reused; a rebuilt
    cluster under the same name is another cluster). Without it on both sides
    nothing proves the reports are of the same cluster."""
    old_id, new_id = old.scan.cluster.cluster_id, new.scan.cluster.cluster_id
    if not old_id or not new_id:
        which = "the previous report" if not old_id else "this report"
        return (f"no trend: {which} has no cluster id (kube-system namespace UID), so nothing proves "
                f"both reports are of the same cluster")
    if old_id != new_id:
        return (f"no trend: the previous report ({old.scan.started}) is of another cluster "
                f"(cluster id {old_id}, this one {new_id})")
    return None


@dataclass(frozen=True, slots=True)
class _Row:
    """One (check, target) of a report: a result, or a target its PASS names."""
    status: Status
    result: Result
    target: Target


def _rows(report: Report) -> dict[tuple[str, str], _Row]:
    """(check, target key) -> row. A result's own row wins over a name in a
    passed list (a well-formed report never has both)."""
    out: dict[tuple[str, str], _Row] = {}
    for r in report.results:
        for t in r.passed:
            out[(r.check, t.key())] = _Row(Status.PASS, r, t)
    for r in report.results:
        out[result_key(r)] = _Row(r.status, r, r.target)
    return out


def _entry(old: _Row | None, new: _Row | None) -> DiffEntry:
    ref = new or old
    assert ref is not None
    return DiffEntry(check=ref.result.check, title=ref.result.title, severity=ref.result.severity,
                     target=ref.target, old_status=old.status if old else None,
                     new_status=new.status if new else None)


def lists_every_target(report: Report) -> bool:
    """Schema 2.0 on: every target a check judged has a row or is in a passed list."""
    try:
        return int(str(report.schema_version).split(".", 1)[0]) >= 2
    except ValueError:
        return False


def diff_reports(old: Report, new: Report) -> ReportDiff:
    old_by = _rows(old)
    new_by = _rows(new)
    d = ReportDiff()
    for key, n in new_by.items():
        o = old_by.get(key)
        if n.status is Status.FAIL:
            if o is None:
                d.new.append(_entry(None, n))
            elif o.status is Status.FAIL:
                d.still_failing.append(_entry(o, n))
            else:
                d.regressed.append(_entry(o, n))
        elif o is not None and o.status is Status.FAIL and n.status is Status.PASS:
            d.fixed.append(_entry(o, n))
        elif o is not None and o.status is not n.status:
            # FAIL -> WAIVED / ERROR is deliberately not "fixed": the risk is
            # accepted or unknown, not gone.
            d.changed.append(_entry(o, n))
    gone = [(key, o) for key, o in old_by.items() if key not in new_by and o.status is Status.FAIL]
    if gone and lists_every_target(new):
        evaluated = {r.check for r in new.results}
        undecided = undecided_checks(new.results)
        named = {target_key for _, target_key in new_by}
        for (check, target_key), o in gone:
            if check in evaluated and check not in undecided and target_key not in named:
                d.removed.append(_entry(o, None))
            else:
                d.unjudged.append(_entry(o, None))
    elif gone:
        # Schema 1.0: "target gone" only where the new report lists this check's
        # passing targets of that kind one by one; a check that summarises its
        # passes cannot tell.
        listed_passes = {(r.check, r.target.kind) for r in new.results
                         if r.status is Status.PASS and r.target.kind != "Cluster"}
        for (check, _), o in gone:
            if (check, o.target.kind) in listed_passes:
                d.removed.append(_entry(o, None))
            else:
                d.unlisted.append(_entry(o, None))
    for bucket in (d.new, d.regressed, d.fixed, d.removed, d.unjudged, d.unlisted, d.still_failing, d.changed):
        bucket.sort(key=lambda e: (severity_rank(e.severity), check_sort_key(e.check), e.target.key()))
    return d


def format_diff(d: ReportDiff, limit: int = 50) -> str:
    """Plain text for `kaudit diff old.json new.json`."""
    sections = (
        ("New failures", d.new),
        ("Regressed (failing now, not before)", d.regressed),
        ("Fixed (failing before, passing now)", d.fixed),
        ("Resolved by removal (failing before, target gone)", d.removed),
        ("Not judged now (failing before; this time the check did not run, could not decide, or left "
         "the target out, which this report still names)", d.unjudged),
        ("No longer failing, not listed (fixed or gone: the new report, of schema 1.0, does not list "
         "passing targets of the check)", d.unlisted),
        ("Still failing", d.still_failing),
        ("Other status changes", d.changed),
    )
    lines = ["Summary: " + ", ".join(f"{len(items)} {title.split(' (')[0].lower()}"
                                      for title, items in sections)]
    for title, items in sections:
        if not items:
            continue
        lines.append("")
        lines.append(f"{title}: {len(items)}")
        for e in items[:limit]:
            lines.append(f"  {e.line()}")
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines) + "\n"
