"""Small helpers shared by the section 5 predicates (RBAC, workloads,
network, namespaces, secrets). Nothing here knows about a particular check."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from kaudit.model import (CLUSTER, NAMESPACE, NOT_COLLECTED, NOT_IN_INPUT, ClusterFacts, Evidence, Finding, Status,
                          Target)

# Namespaces Kubernetes itself creates and runs (5.6.1 counts the others).
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")

# Evidence lists are capped so one finding stays readable on huge clusters;
# the last item says how many were left out.
MAX_EVIDENCE = 25


def missing_kind_findings(cluster: ClusterFacts, kinds: Iterable[str], target: Target = CLUSTER,
                          why: str = "") -> list[Finding]:
    """One ERROR per needed kind that could not be collected, naming the
    kind and the reason the collector gave (e.g. the missing permission)."""
    out = []
    for kind, reason in cluster.missing(*kinds).items():
        if reason in (NOT_IN_INPUT, NOT_COLLECTED):     # never read, rather than refused or failed
            message = f"{kind} objects are {reason}, so this cannot be decided" + (f" ({why})" if why else "")
        else:
            message = (f"{kind} objects could not be collected, so this cannot be decided"
                       + (f" ({why})" if why else "") + f": {reason}")
        out.append(Finding(Status.ERROR, target, message,
                           (Evidence(f"list {kind}", None, "cluster collection", note=reason),)))
    return out


def grouped_pass(passed: Sequence[Target], judged: int, noun: tuple[str, str], why: str,
                 evidence: Sequence[Evidence]) -> Finding:
    """One PASS on the cluster that names every passing target of a check
    (issue 15): the same Target identity its FAIL rows use, so the trend
    matches a target that passes now and failed before (or the reverse),
    and a target missing from both is gone. `judged`: every target of that
    kind the check judged, failing ones included, so the message is true."""
    one, many = noun
    n = len(passed)
    if n == judged == 1:
        head = f"the one {one} judged passes"
    elif n == judged:
        head = f"all {judged:,} {many} pass"
    else:
        head = f"{n:,} of {judged:,} {many if judged != 1 else one} pass"
    return Finding(Status.PASS, CLUSTER, f"{head}: {why}", tuple(evidence), passed=tuple(passed))


def capped(evidence: Sequence[Evidence], limit: int = MAX_EVIDENCE) -> tuple[Evidence, ...]:
    if len(evidence) <= limit:
        return tuple(evidence)
    rest = len(evidence) - limit + 1
    return tuple(evidence[:limit - 1]) + (
        Evidence("more", f"{rest} more item(s) not shown", "kaudit", note="evidence list capped"),)


def safe(value: Any, limit: int = 200) -> str:
    """Cluster-supplied text rendered for a message: printable, bounded."""
    text = value if isinstance(value, str) else repr(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def str_list(value: Any) -> list[str]:
    """A list of strings from a field that should be one (hostile input: drop the rest)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        return []
    return [v for v in value if isinstance(v, str)]


_EMPTY_MAP: Mapping[str, Any] = {}


def as_map(value: Any) -> Mapping[str, Any]:
    if type(value) is dict:      # the common case, without the slow ABC check
        return value
    if value is None:            # the next most common (absent field); typing.Mapping's check is slow
        return _EMPTY_MAP
    return value if isinstance(value, Mapping) else _EMPTY_MAP


def as_list(value: Any) -> list[Any]:
    if type(value) is list:
        return value
    return list(value) if isinstance(value, tuple) else []


def namespace_names(cluster: ClusterFacts) -> list[str]:
    """Every namespace: Namespace objects, plus any namespace an object names
    (a manifest dump may omit the Namespace objects)."""
    names = {o.name for o in cluster.of_kind(NAMESPACE)}
    for obj in cluster.iter_all():
        if obj.namespace:
            names.add(obj.namespace)
    return sorted(names)


def namespace_labels(cluster: ClusterFacts) -> dict[str, dict[str, str]]:
    return {o.name: dict(o.labels) for o in cluster.of_kind(NAMESPACE)}


def label_selector_matches(selector: Any, labels: Mapping[str, str]) -> bool | None:
    """metav1.LabelSelector semantics. An empty selector matches everything.
    Returns None when the selector uses an operator we do not know (the
    caller must not treat that as a match or a non-match silently)."""
    if selector is None:
        return False
    sel = as_map(selector)
    for key, value in as_map(sel.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for expr in as_list(sel.get("matchExpressions")):
        expr = as_map(expr)
        key = str(expr.get("key", ""))
        op = expr.get("operator")
        values = str_list(expr.get("values"))
        if op == "In":
            if labels.get(key) not in values:
                return False
        elif op == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            return None
    return True


def glob_match(pattern: str, value: str) -> bool:
    """Kyverno/Gatekeeper namespace patterns: '*' anywhere (Gatekeeper only
    allows a trailing one; matching it anywhere is the superset)."""
    import fnmatch
    return fnmatch.fnmatchcase(value, pattern)
