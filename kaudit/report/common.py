"""Small helpers every formatter shares: ordering, labels, the score.

Kept here so the HTML, text and JUnit outputs agree on what "the score" and
"the most important failure" mean.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from kaudit.model import Result, Status, Target

# CIS Kubernetes Benchmark 1.12 section titles, used when the caller does not
# pass the catalog's own (Catalog.sections). A report rendered from JSON alone
# still gets readable headings.
CIS_SECTION_TITLES: dict[str, str] = {
    "1": "Control Plane Components",
    "1.1": "Control Plane Node Configuration Files",
    "1.2": "API Server",
    "1.3": "Controller Manager",
    "1.4": "Scheduler",
    "2": "etcd",
    "3": "Control Plane Configuration",
    "3.1": "Authentication and Authorization",
    "3.2": "Logging",
    "4": "Worker Nodes",
    "4.1": "Worker Node Configuration Files",
    "4.2": "Kubelet",
    "4.3": "kube-proxy",
    "5": "Policies",
    "5.1": "RBAC and Service Accounts",
    "5.2": "Pod Security Standards",
    "5.3": "Network Policies and CNI",
    "5.4": "Secrets Management",
    "5.5": "Extensible Admission Control",
    "5.6": "General Policies",
}

SEVERITY_ORDER: tuple[str, ...] = ("critical", "high", "medium", "low", "info")

# Display order, and the order used to pick the "worst" status of a group.
STATUS_ORDER: tuple[Status, ...] = (Status.FAIL, Status.ERROR, Status.WARN, Status.WAIVED,
                                    Status.SKIP, Status.PASS)
# When several results collapse into one cell (node x check), which one shows.
_WORST_RANK = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.WAIVED: 3,
               Status.PASS: 4, Status.SKIP: 5}


def severity_rank(severity: str) -> int:
    try:
        return SEVERITY_ORDER.index(severity)
    except ValueError:
        return len(SEVERITY_ORDER)


def status_rank(status: Status) -> int:
    return STATUS_ORDER.index(status)


def worst_status(statuses: Iterable[Status]) -> Status | None:
    found = list(statuses)
    if not found:
        return None
    return min(found, key=lambda s: _WORST_RANK[s])


_NUM = re.compile(r"(\d+)")


def check_sort_key(check_id: str) -> tuple:
    """Natural order of CIS ids: 1.2.9 before 1.2.10; odd ids sort last, stably."""
    parts: list[tuple[int, int | str]] = []
    for part in check_id.split("."):
        parts.append((0, int(part)) if part.isdigit() else (1, part))
    return tuple(parts)


def top_section(section: str) -> str:
    return section.split(".", 1)[0]


def section_title(section: str, titles: Mapping[str, str] | None = None) -> str:
    if titles and section in titles:
        return titles[section]
    return CIS_SECTION_TITLES.get(section, "")


def target_label(target: Target) -> str:
    """One line naming a target: "Pod ns/name", "Node cp-1", "File /etc/x on cp-1"."""
    if target.kind == "Cluster":
        return "Cluster"
    name = f"{target.namespace}/{target.name}" if target.namespace else target.name
    label = f"{target.kind} {name}"
    if target.node and not (target.kind == "Node" and target.name == target.node):
        label += f" on node {target.node}"
    return label


@dataclass(frozen=True, slots=True)
class Score:
    passed: int
    failed: int
    total: int          # every result, decided or not

    @property
    def decided(self) -> int:
        return self.passed + self.failed

    @property
    def percent(self) -> float | None:
        """PASS / (PASS + FAIL); None when nothing was decided (not 100%)."""
        if self.decided == 0:
            return None
        return 100.0 * self.passed / self.decided

    def text(self) -> str:
        pct = self.percent
        return "n/a" if pct is None else f"{pct:.1f}%"


def score(results: Iterable[Result]) -> Score:
    """The score: PASS / (PASS + FAIL) over decided results.

    WARN (needs a person), SKIP (not applicable), ERROR (not checked) and
    WAIVED (accepted risk, reported apart) are left out of both sides, and
    `total` is kept so a reader sees how much of the audit the score covers.
    """
    passed = failed = total = 0
    for r in results:
        total += 1
        if r.status is Status.PASS:
            passed += 1
        elif r.status is Status.FAIL:
            failed += 1
    return Score(passed=passed, failed=failed, total=total)


def result_key(result: Result) -> tuple[str, str]:
    """Identity of a result across scans: check id + target key."""
    return (result.check, result.target.key())


# C0/C1 controls (but tab and newline), DEL, and the Unicode bidi controls
# that can make a name read differently from what it is ("Trojan Source").
_UNSAFE_CHARS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """Cluster-supplied text made safe to show: control, bidi-override and
    lone-surrogate characters become visible escapes (a name containing one
    is itself worth an auditor's attention), everything else is unchanged."""
    return _UNSAFE_CHARS.sub(_escape_char, text)


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters in report.json)"
