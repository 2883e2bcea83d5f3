"""The `setting` rule kind: one effective kubelet or kube-proxy setting per node.

How each component resolves its settings (configz, flags, config file,
drop-ins, ConfigMap, defaults) lives in its resolver,
kaudit/rules/effective/kubelet.py and kube_proxy.py; this module only
compares the effective value with what the check expects.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from kaudit import components as comp
from kaudit.catalog import Check
from kaudit.model import Evidence, Facts, Finding, Status, Target
from kaudit.rules.effective import kube_proxy, kubelet
from kaudit.rules.effective.values import UNKNOWN
from kaudit.rules.flags import combine_group, compare, describe, expectation
from kaudit.rules.predicates import Context

View = kubelet.KubeletView | kube_proxy.ProxyView


def _setting(view: View, spec: Mapping[str, Any], minor: int | None):
    if isinstance(view, kube_proxy.ProxyView):
        return kube_proxy.effective_setting(view, spec, minor)
    return kubelet.effective_setting(view, spec, minor)


def _test_view(test: Mapping[str, Any], view: View, minor: int | None) -> tuple[bool | None, list[Evidence]]:
    if "all" in test or "any" in test:
        group = test.get("all") or test.get("any")
        return combine_group(test, [_test_view(t, view, minor) for t in group])
    op = test.get("op", "eq")
    expected = test.get("value")
    setting = _setting(view, test, minor)
    label = (f"feature gate {test['feature_gate']}" if test.get("feature_gate")
             else " / ".join(x for x in (f"--{test['flag']}" if test.get("flag") else None, test.get("config")) if x))
    ev = Evidence(label, setting.value, setting.source, expected=expectation(op, expected),
                  note=f"{setting.origin}" + (f": {setting.note}" if setting.note else ""))
    if setting.origin == UNKNOWN:
        return None, [ev]
    return compare(op, setting.value, expected), [ev]


def evaluate_setting_rule(check: Check, rule: Mapping[str, Any], facts: Facts, ctx: Context) -> Iterator[Finding]:
    component = rule.get("component", comp.KUBELET)
    views: list[View] = list(kubelet.kubelet_views(facts, ctx) if component == comp.KUBELET
                             else kube_proxy.kube_proxy_views(facts, ctx))
    minor = facts.cluster.identity.minor()
    review = bool(rule.get("review"))
    if not views:
        if component == comp.PROXY:
            yield Finding(Status.SKIP if facts.nodes else Status.ERROR, Target("Cluster", "cluster"),
                          "kube-proxy not found: no inspected node runs it and there is no kube-proxy "
                          "DaemonSet in kube-system (a CNI may replace it)" if facts.nodes else
                          "kube-proxy not visible: no node access and no kube-proxy DaemonSet in kube-system")
        else:
            yield Finding(Status.ERROR, Target("Cluster", "cluster"),
                          "no kubelet evidence: no Node objects, no live configz and no node access")
        return
    for view in views:
        ok, evidence = _test_view(rule["test"], view, minor)
        if ok is None:
            reasons = [e.note.removeprefix(f"{UNKNOWN}: ") for e in evidence
                       if e.note and e.note.startswith(UNKNOWN)]
            reason = "; ".join(dict.fromkeys(reasons)) or "; ".join(view.errors) or "evidence missing"
            yield Finding(Status.ERROR, view.target, f"{component} setting could not be determined: {reason}",
                          tuple(evidence))
            continue
        summary = describe(evidence)
        if ok and review:
            yield Finding(Status.WARN, view.target,
                          f"{summary}; {rule.get('review_message') or 'a person must judge whether this is appropriate'}",
                          tuple(evidence))
        else:
            yield Finding(Status.PASS if ok else Status.FAIL, view.target, summary, tuple(evidence))
