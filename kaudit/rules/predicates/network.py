"""CIS 5.3: the CNI can enforce NetworkPolicy (5.3.1) and every namespace has
at least one network policy selecting its pods (5.3.2), from Kubernetes
NetworkPolicies or the CNI's own kinds, cluster-wide ones included."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from kaudit.catalog import Check
from kaudit.model import (CALICO_GLOBAL_NETWORK_POLICY, CALICO_GLOBAL_NETWORK_POLICY_V3, CALICO_NETWORK_POLICY,
                          CALICO_NETWORK_POLICY_V3, CILIUM_CLUSTERWIDE_NETWORK_POLICY, CILIUM_NETWORK_POLICY, CLUSTER,
                          CRON_JOB, DAEMON_SET, DEPLOYMENT, NAMESPACE, NETWORK_POLICY, POD, WORKLOAD_KINDS, Evidence, Facts, Finding,
                          KObject, Status, Target)
from kaudit.rules.predicates import Context, predicate
from kaudit.rules.predicates._common import (as_list, as_map, capped, label_selector_matches, missing_kind_findings,
                                             namespace_labels, namespace_names, safe, str_list)


@dataclass(frozen=True, slots=True)
class Cni:
    name: str
    enforces: bool | None      # None: depends on configuration we cannot see
    note: str = ""


# What identifies a CNI: DaemonSet / pod name prefixes and image repository
# basenames. Order matters only for display.
_CNI_SIGNATURES: tuple[tuple[Cni, tuple[str, ...], tuple[str, ...]], ...] = (
    (Cni("Calico", True), ("calico-node",), ("calico/node",)),
    (Cni("Canal", True, "Calico policy on Flannel networking"), ("canal",), ()),
    (Cni("Cilium", True), ("cilium",), ("cilium/cilium",)),
    (Cni("GKE Dataplane V2 (anetd, Cilium-based)", True), ("anetd",), ("anetd",)),
    (Cni("Antrea", True), ("antrea-agent",), ("antrea-agent-ubuntu", "antrea-ubuntu", "antrea-agent")),
    (Cni("Weave Net", True, "policy enforced by weave-npc"), ("weave-net",), ("weave-kube", "weave-npc")),
    (Cni("kube-router", True), ("kube-router",), ("kube-router",)),
    (Cni("OVN-Kubernetes", True), ("ovnkube-node",), ()),
    (Cni("Kube-OVN", True), ("kube-ovn-cni",), ()),
    (Cni("Azure Network Policy Manager", True), ("azure-npm",), ("azure-npm",)),
    (Cni("kube-network-policies", True), ("kube-network-policies",), ("kube-network-policies",)),
    (Cni("AWS VPC CNI (aws-node)", None), ("aws-node",), ("amazon-k8s-cni",)),
    (Cni("Azure CNI", False, "plain Azure CNI does not enforce NetworkPolicy without Azure NPM, Calico or Cilium"),
     ("azure-cns", "azure-cni"), ("azure-cns",)),
    (Cni("kindnet", None, "kindnetd enforces NetworkPolicy only from v1.x (kind v0.24+); verify the version"),
     ("kindnet",), ("kindnetd",)),
    (Cni("Flannel", False, "Flannel provides networking only and does not enforce NetworkPolicy"),
     ("kube-flannel", "flannel"), ("flannel",)),
)


def _image_path(image: Any) -> str:
    """`registry/org/name:tag@digest` -> `org/name` style path without tag."""
    img = str(image or "").split("@", 1)[0]
    head, _, last = img.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def _image_matches(path: str, wanted: str) -> bool:
    # match whole path components from the right ("calico/node" matches
    # "docker.io/calico/node", not "node" or "mycalico/node")
    return path == wanted or path.endswith("/" + wanted)


def _containers(obj: KObject) -> list[Mapping[str, Any]]:
    spec = as_map(obj.body.get("spec"))
    if obj.kind != POD:
        spec = as_map(as_map(spec.get("template")).get("spec"))
    return [as_map(c) for c in as_list(spec.get("containers")) + as_list(spec.get("initContainers"))]


def _identify(obj: KObject) -> list[tuple[Cni, str]]:
    out = []
    name = obj.name
    images = [_image_path(c.get("image")) for c in _containers(obj)]
    for cni, prefixes, image_names in _CNI_SIGNATURES:
        if any(name == p or name.startswith(p + "-") for p in prefixes):
            out.append((cni, f"{obj.kind} {obj.ref()}"))
        elif any(_image_matches(i, w) for i in images for w in image_names) and \
                (obj.kind == DAEMON_SET or obj.namespace == "kube-system"):
            out.append((cni, f"{obj.kind} {obj.ref()} (image)"))
    if out and out[0][0].name.startswith("AWS VPC CNI"):
        # The VPC CNI enforces NetworkPolicy only with its node agent enabled.
        agent_on = any(c.get("name") == "aws-eks-nodeagent" and "--enable-network-policy=true"
                       in [str(a) for a in as_list(c.get("args"))] for c in _containers(obj))
        out[0] = (Cni("AWS VPC CNI (aws-node)", agent_on,
                      "network policy agent enabled (aws-eks-nodeagent --enable-network-policy=true)" if agent_on
                      else "the VPC CNI network policy agent is not enabled (aws-eks-nodeagent "
                      "--enable-network-policy=true), so NetworkPolicy is not enforced"), out[0][1])
    return out


def detect_cnis(facts: Facts) -> tuple[list[tuple[Cni, str]], list[str]]:
    """(CNIs found with where, names of kube-system DaemonSets seen)."""
    found: dict[str, tuple[Cni, str]] = {}
    seen = []
    for kind in (DAEMON_SET, DEPLOYMENT, POD):
        for obj in facts.cluster.of_kind(kind):
            if kind == POD and obj.owners:
                continue   # owned pods: their DaemonSet was looked at already
            if kind == DAEMON_SET and obj.namespace == "kube-system":
                seen.append(obj.name)
            for cni, where in _identify(obj):
                found.setdefault(cni.name, (cni, where))
    return list(found.values()), sorted(seen)


@predicate("network.cni_supports_policy")
def cni_supports_policy(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, (DAEMON_SET, POD), why="the CNI is identified from its DaemonSets/pods")
    if cluster.missing(DAEMON_SET) and cluster.missing(POD):
        return findings
    cnis, seen = detect_cnis(facts)
    ev = [Evidence(f"CNI {c.name}", {True: "enforces NetworkPolicy", False: "does not enforce NetworkPolicy",
                                     None: "enforcement depends on configuration"}[c.enforces], safe(where),
                   note=c.note or None) for c, where in cnis]
    if any(c.enforces for c, _ in cnis):
        enforcing = [c.name for c, _ in cnis if c.enforces]
        findings.append(Finding(Status.PASS, CLUSTER, f"NetworkPolicy is enforced by {', '.join(enforcing)}", tuple(ev)))
    elif cnis and all(c.enforces is False for c, _ in cnis):
        findings.append(Finding(Status.FAIL, CLUSTER, "the CNI in use cannot enforce NetworkPolicy: "
                                + "; ".join(f"{c.name} ({c.note})" for c, _ in cnis), tuple(ev)))
    elif cnis:
        findings.append(Finding(Status.WARN, CLUSTER, "whether the CNI enforces NetworkPolicy depends on its "
                                "configuration: " + "; ".join(f"{c.name} ({c.note})" for c, _ in cnis), tuple(ev)))
    else:
        note = f"platform {cluster.identity.platform}" if cluster.identity.platform else None
        findings.append(Finding(Status.WARN, CLUSTER, "no known CNI was recognised; review which network plugin runs "
                                "and whether it enforces NetworkPolicy",
                                (Evidence("DaemonSets in kube-system", safe(", ".join(seen) or "none", 600),
                                          "DaemonSet objects", note=note),)))
    return findings


# ---------------------------------------------------------------------------
# 5.3.2 coverage
# ---------------------------------------------------------------------------
# CIS 5.3.2: "Ensure that each namespace defined in the cluster has at least
# one Network Policy." A namespace is covered when at least one policy selects
# pods in it: any namespaced policy there, or a cluster-wide one whose
# selectors reach the namespace (evaluated against its pods' labels when they
# name pod labels). The directions covered are reported, not required.

def _k8s_types(spec: Mapping[str, Any]) -> set[str]:
    # networking/v1 defaulting: policyTypes unset means Ingress, plus Egress when egress rules exist
    types = set(str_list(spec.get("policyTypes")))
    if not types:
        types = {"Ingress"}
        if as_list(spec.get("egress")):
            types.add("Egress")
    return types


def _cilium_rules(p: KObject) -> list[Mapping[str, Any]]:
    """The rules of a cilium.io/v2 policy: its `spec` and each of its top-level `specs`."""
    rules = [as_map(p.body.get("spec"))] if p.body.get("spec") else []
    rules += [as_map(r) for r in as_list(p.body.get("specs"))]
    return rules


def _cilium_rule_types(rule: Mapping[str, Any]) -> set[str]:
    # a direction is enforced when the rule has rules for it (pkg/policy/api Rule: Ingress/IngressDeny, ...)
    out = set()
    if as_list(rule.get("ingress")) or as_list(rule.get("ingressDeny")):
        out.add("Ingress")
    if as_list(rule.get("egress")) or as_list(rule.get("egressDeny")):
        out.add("Egress")
    return out


def _calico_types(spec: Mapping[str, Any]) -> set[str]:
    # Calico: types unset means Ingress, plus Egress when egress rules exist (Egress alone when only egress rules)
    types = set(str_list(spec.get("types")))
    if not types:
        has_in, has_out = bool(as_list(spec.get("ingress"))), bool(as_list(spec.get("egress")))
        types = {"Ingress"} if has_in or not has_out else set()
        if has_out:
            types.add("Egress")
    return types


# Cilium endpoint labels: a pod's own labels plus these, derived by the agent.
_CILIUM_NS = "io.kubernetes.pod.namespace"
_CILIUM_NS_LABELS = "io.cilium.k8s.namespace.labels."
_CILIUM_SA = "io.cilium.k8s.policy.serviceaccount"
_CILIUM_POD_SOURCES = ("k8s", "any")    # label sources a pod's labels carry; `reserved:` etc. are not pods


def _cilium_selector(sel: Mapping[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """(selector with source prefixes removed, whether it names only namespace
    labels), or (None, _) when it needs a label source pods do not have."""
    ml: dict[str, str] = {}
    exprs: list[dict[str, Any]] = []
    keys: list[str] = []
    for k, v in as_map(sel.get("matchLabels")).items():
        key = _strip_source(str(k))
        if key is None:
            return None, False
        ml[key] = str(v)
        keys.append(key)
    for e in as_list(sel.get("matchExpressions")):
        e = dict(as_map(e))
        key = _strip_source(str(e.get("key", "")))
        if key is None:
            return None, False
        e["key"] = key
        exprs.append(e)
        keys.append(key)
    ns_only = all(k == _CILIUM_NS or k.startswith(_CILIUM_NS_LABELS) for k in keys)
    return {"matchLabels": ml, "matchExpressions": exprs}, ns_only


def _strip_source(key: str) -> str | None:
    if ":" not in key:
        return key
    source, _, rest = key.partition(":")
    return rest if source in _CILIUM_POD_SOURCES else None


def _cilium_endpoint_labels(ns: str, ns_labels: Mapping[str, str], pod: Mapping[str, str] | None = None,
                            sa: str | None = None) -> dict[str, str]:
    out = dict(pod or {})
    out[_CILIUM_NS] = ns
    out.update({_CILIUM_NS_LABELS + k: v for k, v in ns_labels.items()})
    if sa:
        out[_CILIUM_SA] = sa
    return out


@dataclass(frozen=True, slots=True)
class _PodLabels:
    labels: Mapping[str, str]
    service_account: str


def _pods_by_namespace(cluster) -> dict[str, list[_PodLabels]]:
    """Labels of the pods each namespace runs or will run (running pods and workload templates)."""
    out: dict[str, list[_PodLabels]] = {}
    for pod in cluster.of_kind(POD):
        if as_map(pod.body.get("status")).get("phase") in ("Succeeded", "Failed") or not pod.namespace:
            continue
        spec = as_map(pod.body.get("spec"))
        out.setdefault(pod.namespace, []).append(_PodLabels(pod.labels, _sa_of(spec)))
    for kind in WORKLOAD_KINDS:
        for w in cluster.of_kind(kind):
            spec = as_map(w.body.get("spec"))
            if kind == CRON_JOB:
                spec = as_map(as_map(spec.get("jobTemplate")).get("spec"))
            template = as_map(spec.get("template"))
            labels = {str(k): str(v) for k, v in as_map(as_map(template.get("metadata")).get("labels")).items()}
            if w.namespace:
                out.setdefault(w.namespace, []).append(_PodLabels(labels, _sa_of(as_map(template.get("spec")))))
    return out


def _sa_of(spec: Mapping[str, Any]) -> str:
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
    return sa if isinstance(sa, str) and sa else "default"


def _cilium_reach(rule: Mapping[str, Any], ns: str, ns_labels: Mapping[str, str],
                  pods: Callable[[str], list[_PodLabels] | None], policy_ns: str | None) -> str | None | bool:
    """Whether a Cilium rule selects pods of `ns`: "every pod", "some pods",
    False, or None when kaudit cannot evaluate the selector (or the pods it
    would be evaluated against were not collected)."""
    if policy_ns is not None and policy_ns != ns:
        return False
    if "endpointSelector" not in rule:
        return False          # a host policy (nodeSelector) selects nodes, not pods
    sel, ns_only = _cilium_selector(as_map(rule.get("endpointSelector")))
    if sel is None:
        return False          # reserved:/cidr: labels: not a pod
    if ns_only:
        m = label_selector_matches(sel, _cilium_endpoint_labels(ns, ns_labels))
        return None if m is None else ("every pod" if m else False)
    if policy_ns is not None:
        return "some pods"    # a namespaced policy counts, like a NetworkPolicy with a podSelector
    known = pods(ns)
    if known is None:
        return None
    results = [label_selector_matches(sel, _cilium_endpoint_labels(ns, ns_labels, p.labels, p.service_account))
               for p in known]
    if any(r is True for r in results):
        return "some pods"
    return None if any(r is None for r in results) else False


_CALICO_EQ = re.compile(r"([\w./-]+)\s*==\s*['\"]([^'\"]*)['\"]")
_CALICO_HAS = re.compile(r"has\(([\w./-]+)\)")


def _calico_selector_matches(expr: Any, labels: Mapping[str, str]) -> bool | None:
    """A small subset of Calico's selector language: empty / all(), `k == 'v'`,
    `has(k)`, and `&&` of those. None when the expression is beyond that subset."""
    e = str(expr or "").strip()
    if not e or e == "all()":
        return True
    result = True
    for part in (p.strip() for p in e.split("&&")):
        m = _CALICO_EQ.fullmatch(part)
        if m:
            result = result and labels.get(m.group(1)) == m.group(2)
            continue
        m = _CALICO_HAS.fullmatch(part)
        if m:
            result = result and m.group(1) in labels
            continue
        return None
    return result


def _calico_reach(spec: Mapping[str, Any], ns: str, ns_labels: Mapping[str, str],
                  pods: Callable[[str], list[_PodLabels] | None], policy_ns: str | None) -> str | None | bool:
    """Whether a Calico (Global)NetworkPolicy selects pods of `ns` (see _cilium_reach)."""
    if policy_ns is not None and policy_ns != ns:
        return False
    if policy_ns is None:
        m = _calico_selector_matches(spec.get("namespaceSelector"),
                                     {**ns_labels, "projectcalico.org/name": ns})
        if m is not True:
            return m
    selector = spec.get("selector")
    if not str(selector or "").strip() or str(selector).strip() == "all()":
        return "every pod"
    if policy_ns is not None:
        return "some pods"    # a namespaced policy counts, like a NetworkPolicy with a podSelector
    known = pods(ns)
    if known is None:
        return None
    results = [_calico_selector_matches(selector, {**p.labels, "projectcalico.org/namespace": ns,
                                                   "projectcalico.org/orchestrator": "k8s",
                                                   "projectcalico.org/serviceaccount": p.service_account})
               for p in known]
    if any(r is True for r in results):
        return "some pods"
    return None if any(r is None for r in results) else False


@dataclass(slots=True)
class _Coverage:
    policies: list[Evidence]       # policies that select pods of the namespace
    directions: set[str]
    unknown: list[Evidence]        # cluster-wide policies whose selectors kaudit cannot evaluate


_CALICO_KINDS = ((CALICO_NETWORK_POLICY, "Calico NetworkPolicy"), (CALICO_NETWORK_POLICY_V3, "Calico NetworkPolicy"),
                 (CALICO_GLOBAL_NETWORK_POLICY, "Calico GlobalNetworkPolicy"),
                 (CALICO_GLOBAL_NETWORK_POLICY_V3, "Calico GlobalNetworkPolicy"))
_CILIUM_KINDS = ((CILIUM_NETWORK_POLICY, "CiliumNetworkPolicy"),
                 (CILIUM_CLUSTERWIDE_NETWORK_POLICY, "CiliumClusterwideNetworkPolicy"))
POLICY_KINDS = (NETWORK_POLICY, *(k for k, _ in _CILIUM_KINDS), *(k for k, _ in _CALICO_KINDS))


def _coverage(facts: Facts) -> dict[str, _Coverage]:
    cluster = facts.cluster
    names = namespace_names(cluster)
    labels = namespace_labels(cluster)
    by_ns: dict[str, list[_PodLabels]] | None = None
    pods_missing: bool | None = None

    def pods(ns: str) -> list[_PodLabels] | None:
        """The pods of `ns`, built on first use; None when pods or workloads were not collected."""
        nonlocal by_ns, pods_missing
        if pods_missing is None:
            pods_missing = bool(cluster.missing(POD, *WORKLOAD_KINDS))
            by_ns = _pods_by_namespace(cluster)
        return None if pods_missing else by_ns.get(ns, [])
    cov = {ns: _Coverage([], set(), []) for ns in names}

    def count(ns: str, reach: str | None | bool, types: set[str], what: str, p: KObject) -> None:
        if reach is None:
            cov[ns].unknown.append(Evidence(what, "/".join(sorted(types)) or "no direction", p.origin or "api",
                                            note="selector beyond what kaudit evaluates"))
        elif reach and types:
            cov[ns].policies.append(Evidence(what, "/".join(sorted(t.lower() for t in types)), p.origin or "api",
                                             note=f"selects {reach}"))
            cov[ns].directions |= types

    for p in cluster.of_kind(NETWORK_POLICY):
        if p.namespace in cov:
            spec = as_map(p.body.get("spec"))
            whole = as_map(spec.get("podSelector")) == {}
            count(p.namespace, "every pod" if whole else "some pods", _k8s_types(spec), f"NetworkPolicy {p.ref()}", p)
    for kind, label in _CILIUM_KINDS:
        for p in cluster.of_kind(kind):
            rules = _cilium_rules(p)
            for ns in ([p.namespace] if p.namespace else names):
                if ns not in cov:
                    continue
                reaches = [(_cilium_reach(r, ns, labels.get(ns, {}), pods, p.namespace),
                            _cilium_rule_types(r)) for r in rules]
                hit = [(reach, types) for reach, types in reaches if reach]
                what = f"{label} {p.ref()}" + ("" if p.namespace else " (cluster-wide)")
                if hit:
                    reach = "every pod" if any(r == "every pod" for r, _ in hit) else "some pods"
                    count(ns, reach, set().union(*(t for _, t in hit)), what, p)
                elif any(reach is None for reach, _ in reaches):
                    count(ns, None, set().union(*(t for _, t in reaches)), what, p)
    for kind, label in _CALICO_KINDS:
        for p in cluster.of_kind(kind):
            spec = as_map(p.body.get("spec"))
            for ns in ([p.namespace] if p.namespace else names):
                if ns in cov:
                    count(ns, _calico_reach(spec, ns, labels.get(ns, {}), pods, p.namespace),
                          _calico_types(spec), f"{label} {p.ref()}" + ("" if p.namespace else " (cluster-wide)"), p)
    return cov


def _directions_text(directions: set[str]) -> str:
    if directions >= {"Ingress", "Egress"}:
        return "ingress and egress"
    if "Ingress" in directions:
        return "ingress only (no egress policy: outbound traffic is not restricted)"
    return "egress only (no ingress policy: inbound traffic is not restricted)"


@predicate("network.policy_coverage")
def policy_coverage(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.3.2: every namespace (system ones included, unless the check's
    `exclude_namespaces` says otherwise) has at least one policy selecting its pods."""
    cluster = facts.cluster
    excluded = set(params.get("exclude_namespaces", ()))
    findings = missing_kind_findings(cluster, (NAMESPACE, NETWORK_POLICY))
    if cluster.missing(NETWORK_POLICY):
        return findings
    hidden = cluster.missing(*POLICY_KINDS)
    cov = ctx.cached("netpol-coverage", lambda: _coverage(facts))
    for ns in sorted(cov):
        if ns in excluded:
            continue
        c = cov[ns]
        target = Target(NAMESPACE, ns)
        if c.policies:
            findings.append(Finding(Status.PASS, target, f"namespace {ns} has {len(c.policies)} network polic(ies) "
                                    f"selecting its pods, covering {_directions_text(c.directions)}",
                                    capped(c.policies + c.unknown)))
        elif hidden:
            findings.append(Finding(Status.ERROR, target, f"namespace {ns} has no network policy among the objects "
                                    "read, and policy kinds could not be read: "
                                    + safe("; ".join(f"{k}: {v}" for k, v in hidden.items()), 300), capped(c.unknown)))
        elif c.unknown:
            findings.append(Finding(Status.WARN, target, f"namespace {ns} has no policy kaudit can show selects its "
                                    "pods; cluster-wide policies with selectors it cannot evaluate may",
                                    capped(c.unknown)))
        else:
            findings.append(Finding(Status.FAIL, target, f"namespace {ns} has no NetworkPolicy: no policy selects "
                                    "its pods", (Evidence("network policies selecting its pods", "none",
                                                          f"namespace {ns}", expected="at least one (e.g. a "
                                                          "default-deny for ingress and egress)"),)))
    return findings
