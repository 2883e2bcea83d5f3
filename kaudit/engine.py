"""The pure engine: evaluate(catalog, facts) -> results.

Each check's rule is dispatched to its rule kind. A rule that raises is a bug
in kaudit, but it must not cost the auditor the other results or turn into a
silent absence: it becomes an ERROR result that says so.
"""
from __future__ import annotations

from typing import Iterable

from kaudit.catalog import Catalog, Check
from kaudit.model import CLUSTER, NODE, Evidence, Facts, Finding, Result, Status
from kaudit.rules import files, flags, kubelet
from kaudit.rules.predicates import Context, get_predicate


def evaluate(catalog: Catalog, facts: Facts, only: Iterable[str] | None = None) -> list[Result]:
    ctx = Context()
    selected = set(only) if only else None
    results: list[Result] = []
    for check in catalog.checks:
        if selected is not None and not any(check.id == s or check.id.startswith(s + ".") for s in selected):
            continue
        results.extend(evaluate_check(check, facts, ctx))
    return results


def evaluate_check(check: Check, facts: Facts, ctx: Context | None = None) -> list[Result]:
    ctx = ctx or Context()
    try:
        findings = list(_findings(check, facts, ctx))
    except Exception as exc:  # a kaudit bug: report it, keep the other checks
        findings = [Finding(Status.ERROR, CLUSTER,
                            f"internal error while evaluating this check: {type(exc).__name__}: {exc}",
                            (Evidence("kaudit", None, "engine", note="please report this as a bug"),))]
    if not findings:
        # A rule must always say something about its targets; nothing to say is not a PASS.
        findings = [Finding(Status.ERROR, CLUSTER, "no target could be evaluated for this check")]
    findings = _fold_uninspected(findings, facts, ctx)
    return [to_result(check, f) for f in findings]


def uninspected_nodes(facts: Facts, ctx: Context) -> frozenset[str]:
    """Nodes of the cluster nothing was attempted on: no node facts (not even
    "unreachable") and no failed configz read. Their ERRORs say only "not
    inspected", never that something went wrong on that node."""
    def build() -> frozenset[str]:
        seen = {nf.name for nf in facts.nodes} | set(facts.cluster.configz_errors)
        return frozenset(n.name for n in facts.cluster.of_kind(NODE) if n.name not in seen)
    return ctx.cached("uninspected_nodes", build)


def not_inspected_reason(facts: Facts, count: int) -> str:
    if facts.node_access == "none":
        return f"node inspection not requested: {count:,} node{'s' if count != 1 else ''}"
    return (f"{count:,} node{'s' if count != 1 else ''} not inspected: not covered by the node "
            f"access used ({facts.node_access})")


def _fold_uninspected(findings: list[Finding], facts: Facts, ctx: Context) -> list[Finding]:
    """One ERROR per check, not one per node, for nodes nobody inspected.

    At 5,000 nodes with `--nodes none` the per-node ERRORs were half of
    report.json and said nothing per node. Nodes where collection was tried
    and failed (unreachable, configz error) keep their own ERROR."""
    skipped = uninspected_nodes(facts, ctx)
    if not skipped:
        return findings
    folded = [f for f in findings if f.status is Status.ERROR and f.target.kind == "Node"
              and f.target.node in skipped]
    if not folded:
        return findings
    names = sorted(f.target.node or "" for f in folded)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
    example = min(folded, key=lambda f: f.target.node or "")
    summary = Finding(Status.ERROR, CLUSTER,
                      f"{not_inspected_reason(facts, len(names))} ({shown}); "
                      f"for example {example.target.node}: {example.message}",
                      (Evidence("nodes not inspected", f"{len(names):,}", f"node access: {facts.node_access}",
                                note=shown),))
    kept = [f for f in findings if not (f.status is Status.ERROR and f.target.kind == "Node"
                                        and f.target.node in skipped)]
    return kept + [summary]


MANAGED_SKIP_SECTIONS = ("1", "2", "3")


def _findings(check: Check, facts: Facts, ctx: Context) -> Iterable[Finding]:
    if facts.cluster.identity.managed_control_plane and check.top_section in MANAGED_SKIP_SECTIONS:
        # The provider runs the control plane; nothing of it is visible, and
        # "not visible" must never read as compliant.
        return [Finding(Status.SKIP, CLUSTER, "managed control plane, not visible to the cluster user")]
    rule = check.rule
    kind = check.rule_kind
    if kind == "flag":
        return flags.evaluate_flag_rule(check, rule["flag"], facts, ctx)
    if kind == "file":
        return files.evaluate_file_rule(check, rule["file"], facts, ctx)
    if kind == "setting":
        return kubelet.evaluate_setting_rule(check, rule["setting"], facts, ctx)
    fn = get_predicate(rule["predicate"])
    return fn(facts, check, rule.get("params") or {}, ctx)


def to_result(check: Check, finding: Finding) -> Result:
    return Result(
        check=check.id, title=check.title, section=check.section, level=check.level,
        cis_label=check.cis_label, automated=check.automated, severity=check.severity,
        status=finding.status, target=finding.target, message=finding.message,
        evidence=finding.evidence, remediation=check.remediation, passed=finding.passed,
    )
