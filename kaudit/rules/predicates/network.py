"""CIS 5.3: the CNI can enforce NetworkPolicy (5.3.1) and every non-system
namespace has ingress and egress policy coverage (5.3.2), from Kubernetes
NetworkPolicies or the CNI's own kinds, cluster-wide ones included."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from kaudit.catalog import Check
from kaudit.model import (CALICO_GLOBAL_NETWORK_POLICY, CALICO_GLOBAL_NETWORK_POLICY_V3, CALICO_NETWORK_POLICY,
                          CALICO_NETWORK_POLICY_V3, CILIUM_CLUSTERWIDE_NETWORK_POLICY, CILIUM_NETWORK_POLICY, CLUSTER,
                          DAEMON_SET, DEPLOYMENT, NAMESPACE, NETWORK_POLICY, POD, Evidence, Facts, Finding, KObject,
                          Status, Target)
from kaudit.rules.predicates import Context, predicate
from kaudit.rules.predicates._common import (SYSTEM_NAMESPACES, as_list, as_map, capped,
                                             missing_kind_findings, namespace_labels, namespace_names, safe, str_list)


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

def _k8s_types(spec: Mapping[str, Any]) -> set[str]:
    types = set(str_list(spec.get("policyTypes")))
    if not types:
        types = {"Ingress"}
        if "egress" in spec:
            types.add("Egress")
    return types


def _cilium_types(spec: Mapping[str, Any]) -> set[str]:
    out = set()
    specs = [as_map(spec)] + [as_map(s) for s in as_list(as_map(spec).get("specs"))]
    for s in specs:
        if "ingress" in s or "ingressDeny" in s:
            out.add("Ingress")
        if "egress" in s or "egressDeny" in s:
            out.add("Egress")
    return out


def _calico_types(spec: Mapping[str, Any]) -> set[str]:
    types = set(str_list(spec.get("types")))
    if not types:
        types = {"Ingress"} if "egress" not in spec or "ingress" in spec else set()
        if "egress" in spec:
            types.add("Egress")
    return types


_CILIUM_NS_LABEL = "k8s:io.kubernetes.pod.namespace"


def _cilium_ccnp_namespaces(spec: Mapping[str, Any]):
    """A predicate over (namespace, labels) for a CiliumClusterwideNetworkPolicy,
    or None when its selectors are beyond what we evaluate."""
    specs = [as_map(spec)] + [as_map(s) for s in as_list(as_map(spec).get("specs"))]
    sels = [as_map(s.get("endpointSelector")) for s in specs if "endpointSelector" in s]
    if any(s.get("nodeSelector") is not None for s in specs) and not sels:
        return lambda ns, labels: False   # host policies do not cover pods
    def applies(ns: str, labels: Mapping[str, str]) -> bool | None:
        for sel in sels:
            ml = {str(k): str(v) for k, v in as_map(sel.get("matchLabels")).items()}
            other = {k: v for k, v in ml.items() if k not in (_CILIUM_NS_LABEL, "io.kubernetes.pod.namespace")}
            want_ns = ml.get(_CILIUM_NS_LABEL) or ml.get("io.kubernetes.pod.namespace")
            if want_ns is not None and want_ns != ns:
                continue
            if not other and not sel.get("matchExpressions"):
                return True
        return False
    return applies


def _calico_selector_applies(expr: str | None, ns: str, labels: Mapping[str, str]) -> bool | None:
    """A small subset of Calico's selector language for namespaceSelector:
    empty / all(), `projectcalico.org/name == 'x'`, `k == 'v'`, `has(k)`.
    None when the expression is beyond that subset."""
    if expr is None or not str(expr).strip() or str(expr).strip() == "all()":
        return True
    e = str(expr).strip()
    import re
    m = re.fullmatch(r"([\w./-]+)\s*==\s*['\"]([^'\"]*)['\"]", e)
    if m:
        key, value = m.groups()
        actual = ns if key == "projectcalico.org/name" else labels.get(key)
        return actual == value
    m = re.fullmatch(r"has\(([\w./-]+)\)", e)
    if m:
        return m.group(1) in labels or m.group(1) == "projectcalico.org/name"
    return None


@dataclass(slots=True)
class _Coverage:
    ingress: list[Evidence]
    egress: list[Evidence]
    unknown: list[Evidence]


def _add(cov: _Coverage, types: set[str], ev: Evidence) -> None:
    if "Ingress" in types:
        cov.ingress.append(ev)
    if "Egress" in types:
        cov.egress.append(ev)


_NAMESPACED_KINDS = ((NETWORK_POLICY, _k8s_types, "NetworkPolicy"),
                     (CILIUM_NETWORK_POLICY, _cilium_types, "CiliumNetworkPolicy"),
                     (CALICO_NETWORK_POLICY, _calico_types, "Calico NetworkPolicy"),
                     (CALICO_NETWORK_POLICY_V3, _calico_types, "Calico NetworkPolicy"))
_CLUSTER_KINDS = (CILIUM_CLUSTERWIDE_NETWORK_POLICY, CALICO_GLOBAL_NETWORK_POLICY, CALICO_GLOBAL_NETWORK_POLICY_V3)


def _coverage(facts: Facts) -> dict[str, _Coverage]:
    cluster = facts.cluster
    names = namespace_names(cluster)
    labels = namespace_labels(cluster)
    cov = {ns: _Coverage([], [], []) for ns in names}
    for kind, types_of, label in _NAMESPACED_KINDS:
        for p in cluster.of_kind(kind):
            if p.namespace not in cov:
                continue
            spec = as_map(p.body.get("spec"))
            types = types_of(spec)
            sel = spec.get("podSelector") if kind == NETWORK_POLICY else spec.get("endpointSelector", spec.get("selector"))
            whole = (kind == NETWORK_POLICY and as_map(sel) == {}) or (kind != NETWORK_POLICY and
                                                                      (sel in (None, "all()") or as_map(sel) == {}))
            _add(cov[p.namespace], types, Evidence(f"{label} {p.ref()}", "/".join(sorted(types)) or "no direction",
                                                   p.origin or "api",
                                                   note="selects every pod" if whole else "selects some pods"))
    for kind in _CLUSTER_KINDS:
        for p in cluster.of_kind(kind):
            spec = as_map(p.body.get("spec"))
            if kind == CILIUM_CLUSTERWIDE_NETWORK_POLICY:
                types, applies = _cilium_types(spec), _cilium_ccnp_namespaces(spec)
                label = "CiliumClusterwideNetworkPolicy"
            else:
                types = _calico_types(spec)
                expr = spec.get("namespaceSelector")
                applies = (lambda ns, lb, expr=expr: _calico_selector_applies(expr, ns, lb))
                label = "Calico GlobalNetworkPolicy"
            for ns in names:
                ok = applies(ns, labels.get(ns, {}))
                ev = Evidence(f"{label} {safe(p.name)} (cluster-wide)", "/".join(sorted(types)), p.origin or "api")
                if ok is True:
                    _add(cov[ns], types, ev)
                elif ok is None:
                    cov[ns].unknown.append(ev)
    return cov


@predicate("network.policy_coverage")
def policy_coverage(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.3.2: every non-system namespace has ingress and egress coverage."""
    cluster = facts.cluster
    excluded = set(params.get("exclude_namespaces", SYSTEM_NAMESPACES))
    findings = missing_kind_findings(cluster, (NAMESPACE, NETWORK_POLICY))
    if cluster.missing(NETWORK_POLICY):
        return findings
    hidden = cluster.missing(CILIUM_NETWORK_POLICY, CILIUM_CLUSTERWIDE_NETWORK_POLICY, CALICO_NETWORK_POLICY,
                             CALICO_GLOBAL_NETWORK_POLICY, CALICO_NETWORK_POLICY_V3, CALICO_GLOBAL_NETWORK_POLICY_V3)
    cov = ctx.cached("netpol-coverage", lambda: _coverage(facts))
    for ns in sorted(cov):
        if ns in excluded:
            continue
        c = cov[ns]
        missing = [d for d, evs in (("ingress", c.ingress), ("egress", c.egress)) if not evs]
        ev = c.ingress + [e for e in c.egress if e not in c.ingress] + c.unknown
        target = Target(NAMESPACE, ns)
        if not missing:
            findings.append(Finding(Status.PASS, target, f"namespace {ns} has ingress and egress NetworkPolicy "
                                    "coverage", capped(ev)))
        elif hidden:
            findings.append(Finding(Status.ERROR, target, f"namespace {ns} has no {' or '.join(missing)} policy among "
                                    "the objects read, and CNI policy kinds could not be read: "
                                    + safe("; ".join(f"{k}: {v}" for k, v in hidden.items()), 300), capped(ev)))
        elif c.unknown:
            findings.append(Finding(Status.WARN, target, f"namespace {ns} lacks {' and '.join(missing)} coverage from "
                                    "policies kaudit can evaluate; cluster-wide policies with selectors it cannot "
                                    "evaluate may cover it", capped(ev)))
        else:
            findings.append(Finding(Status.FAIL, target, f"namespace {ns} has no {' and no '.join(missing)} "
                                    "NetworkPolicy", capped(ev or [Evidence("NetworkPolicies", "none", f"namespace {ns}",
                                                                            expected="ingress and egress policies")])))
    return findings
