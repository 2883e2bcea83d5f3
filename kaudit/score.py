"""The benchmark score, counted the way CIS counts it: by recommendation.

A recommendation passes when every target it was judged on passes and fails
when any target fails; one with a result kaudit could not decide (ERROR, or
WARN for a person to review) is undecided, one that applied nowhere (SKIP
only) is not applicable, and one whose only non-PASS results are accepted
risks (WAIVED) is reported apart. The headline is the share of the
benchmark's **Automated** recommendations that pass; kaudit's own decisions
on recommendations CIS labels **Manual** are a second figure, never mixed in.
An incomplete scan has no headline figure at all: a share of what happened
to be collected is not a compliance score.

Pure: a function of the results and the scan's completeness.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from kaudit.model import Result, Status

PASSED, FAILED, UNDECIDED, WAIVED, NOT_APPLICABLE = "passed", "failed", "undecided", "waived", "not_applicable"
OUTCOMES = (PASSED, FAILED, UNDECIDED, WAIVED, NOT_APPLICABLE)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommendation's outcome over all its targets."""
    check: str
    cis_label: str                   # "Automated" | "Manual"
    outcome: str                     # one of OUTCOMES
    counts: Mapping[str, int]        # status value -> targets (a grouped PASS counts each target it names)

    @property
    def targets_passed(self) -> int:
        return self.counts.get(Status.PASS.value, 0)

    @property
    def targets_failed(self) -> int:
        return self.counts.get(Status.FAIL.value, 0)

    @property
    def pass_rate(self) -> float | None:
        """PASS / (PASS + FAIL) over this recommendation's targets; None when none was decided."""
        decided = self.targets_passed + self.targets_failed
        return None if decided == 0 else 100.0 * self.targets_passed / decided


def outcome_of(statuses: Iterable[Status]) -> str:
    seen = set(statuses)
    if Status.FAIL in seen:
        return FAILED                # one failing target fails the recommendation
    if Status.ERROR in seen or Status.WARN in seen:
        return UNDECIDED             # not everything could be judged
    if Status.WAIVED in seen:
        return WAIVED
    if Status.PASS in seen:
        return PASSED
    return NOT_APPLICABLE


def recommendations(results: Iterable[Result]) -> dict[str, Recommendation]:
    """check id -> its outcome, in the order the checks first appear.

    Counts are of targets: a PASS that names the many targets it judged
    (Result.passed) counts each of them, so a pass rate over targets is true."""
    counts: dict[str, dict[str, int]] = {}
    labels: dict[str, str] = {}
    for r in results:
        c = counts.get(r.check)
        if c is None:
            c = counts[r.check] = {}
            labels[r.check] = r.cis_label
        c[r.status.value] = c.get(r.status.value, 0) + r.targets_judged
    return {cid: Recommendation(check=cid, cis_label=labels[cid],
                                outcome=outcome_of(Status(s) for s in c), counts=c)
            for cid, c in counts.items()}


@dataclass(frozen=True, slots=True)
class Tally:
    """Recommendations of one CIS label, by outcome."""
    label: str
    by_outcome: Mapping[str, int]

    @property
    def passed(self) -> int:
        return self.by_outcome.get(PASSED, 0)

    @property
    def failed(self) -> int:
        return self.by_outcome.get(FAILED, 0)

    @property
    def decided(self) -> int:
        return self.passed + self.failed

    @property
    def total(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def percent(self) -> float | None:
        return None if self.decided == 0 else 100.0 * self.passed / self.decided

    def text(self) -> str:
        pct = self.percent
        return "n/a" if pct is None else f"{pct:.1f}%"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {o: self.by_outcome.get(o, 0) for o in OUTCOMES}
        out["total"] = self.total
        out["percent"] = None if self.percent is None else round(self.percent, 1)
        return out


@dataclass(frozen=True, slots=True)
class BenchmarkScore:
    automated: Tally                 # the headline: CIS-Automated recommendations
    manual: Tally                    # kaudit's decisions on CIS-Manual recommendations
    complete: bool
    incomplete_reasons: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        """What a reader sees in large type: the percentage, or "incomplete"."""
        return self.automated.text() if self.complete else "incomplete"

    def summary_line(self) -> str:
        a, m = self.automated, self.manual
        if not self.complete:
            head = "Score: incomplete scan, no score"
        else:
            head = f"Score: {a.text()} of CIS-Automated recommendations pass"
        return (f"{head} ({a.passed} passed, {a.failed} failed, {a.by_outcome.get(UNDECIDED, 0)} undecided "
                f"of {a.total}); kaudit's decisions on CIS-Manual recommendations: {m.text()} "
                f"({m.passed} passed, {m.failed} failed of {m.total})")

    def to_json(self) -> dict[str, Any]:
        return {"method": "recommendations passed / (passed + failed), by CIS label; "
                          "a recommendation fails when any target fails",
                "complete": self.complete,
                "headline_percent": (None if not self.complete or self.automated.percent is None
                                     else round(self.automated.percent, 1)),
                "automated": self.automated.to_json(), "manual": self.manual.to_json()}


def benchmark_score(results: Iterable[Result], complete: bool = True,
                    incomplete_reasons: Iterable[str] = ()) -> BenchmarkScore:
    tallies: dict[str, dict[str, int]] = {"Automated": {}, "Manual": {}}
    for rec in recommendations(results).values():
        label = "Automated" if rec.cis_label == "Automated" else "Manual"
        t = tallies[label]
        t[rec.outcome] = t.get(rec.outcome, 0) + 1
    return BenchmarkScore(automated=Tally("Automated", tallies["Automated"]),
                          manual=Tally("Manual", tallies["Manual"]),
                          complete=complete, incomplete_reasons=tuple(incomplete_reasons))
