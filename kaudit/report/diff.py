"""Compare two reports: what is new, fixed, regressed and still failing.

Results are matched by check id + Target.key(), the same identity JUnit test
names and waivers use, so a trend survives re-ordering of results.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kaudit.model import Report, Result, Status, Target
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
    # FAIL before, no result now, and the new report lists no passing target of
    # that kind for the check (it summarises passes): fixed or gone, unknown which.
    unlisted: list[DiffEntry] = field(default_factory=list)
    still_failing: list[DiffEntry] = field(default_factory=list)  # FAIL before and now
    changed: list[DiffEntry] = field(default_factory=list)        # any other status change

    def is_empty(self) -> bool:
        return not (self.new or self.regressed or self.fixed or self.removed or self.unlisted
                    or self.changed)


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


def _entry(old: Result | None, new: Result | None) -> DiffEntry:
    ref = new or old
    assert ref is not None
    return DiffEntry(check=ref.check, title=ref.title, severity=ref.severity, target=ref.target,
                     old_status=old.status if old else None, new_status=new.status if new else None)


def diff_reports(old: Report, new: Report) -> ReportDiff:
    old_by = {result_key(r): r for r in old.results}
    new_by = {result_key(r): r for r in new.results}
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
    # "Target gone" only where the new report lists this check's passing targets
    # of that kind one by one; a check that summarises its passes cannot tell.
    listed_passes = {(r.check, r.target.kind) for r in new.results
                     if r.status is Status.PASS and r.target.kind != "Cluster"}
    for key, o in old_by.items():
        if key not in new_by and o.status is Status.FAIL:
            if (o.check, o.target.kind) in listed_passes:
                d.removed.append(_entry(o, None))
            else:
                d.unlisted.append(_entry(o, None))
    for bucket in (d.new, d.regressed, d.fixed, d.removed, d.unlisted, d.still_failing, d.changed):
        bucket.sort(key=lambda e: (severity_rank(e.severity), check_sort_key(e.check), e.target.key()))
    return d


def format_diff(d: ReportDiff, limit: int = 50) -> str:
    """Plain text for `kaudit diff old.json new.json`."""
    sections = (
        ("New failures", d.new),
        ("Regressed (failing now, not before)", d.regressed),
        ("Fixed (failing before, passing now)", d.fixed),
        ("Resolved by removal (failing before, target gone)", d.removed),
        ("No longer failing, not listed (fixed or gone: passing targets of the check are not listed)",
         d.unlisted),
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
