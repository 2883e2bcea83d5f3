"""Effective RBAC permissions, resolved once per scan.

Every Role and ClusterRole is reduced to its effective rules (a ClusterRole
with an `aggregationRule` gets the rules of every ClusterRole its selectors
match, transitively, as the clusterrole-aggregation controller writes them).
Every RoleBinding and ClusterRoleBinding is linked to its role. A question
("who can get secrets?") is answered by matching each role's rules once and
then walking the bindings: linear in the number of RBAC objects.

Matching follows Kubernetes' RBAC authorizer (rbac/v1 evaluation helpers):
`*` in verbs, apiGroups and resources; a resource `*/sub` matches any
resource's subresource `sub`; `nodes/*` does NOT match `nodes/proxy`;
`resourceNames` limit a rule to named objects and never match `create` of a
top-level resource (a create request has no name yet).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from kaudit.model import (CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING, ClusterFacts, KObject,
                          Target)
from kaudit.rules.predicates._common import as_list, as_map, label_selector_matches, safe, str_list

RBAC_KINDS = (ROLE, CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING)


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str                  # User | Group | ServiceAccount
    name: str
    namespace: str | None = None

    def label(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"

    def target(self) -> Target:
        return Target(self.kind, self.name, self.namespace if self.kind == "ServiceAccount" else None)


@dataclass(frozen=True, slots=True)
class Rule:
    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]
    non_resource_urls: frozenset[str]
    declared_in: str           # the ClusterRole/Role that declares it (differs for aggregated rules)

    def render(self) -> str:
        parts = [f"verbs={sorted(self.verbs)}"]
        if self.non_resource_urls:
            parts.append(f"nonResourceURLs={sorted(self.non_resource_urls)}")
        if self.api_groups or self.resources:
            parts.append(f"apiGroups={sorted(self.api_groups)}")
            parts.append(f"resources={sorted(self.resources)}")
        if self.resource_names:
            parts.append(f"resourceNames={sorted(self.resource_names)}")
        return safe(" ".join(parts), 400)

    def wildcards(self) -> list[str]:
        """Which fields hold a wildcard ("*" or a "*/sub" resource)."""
        out = []
        if "*" in self.verbs:
            out.append("verbs")
        if "*" in self.api_groups:
            out.append("apiGroups")
        if any(r == "*" or r.startswith("*/") for r in self.resources):
            out.append("resources")
        if "*" in self.non_resource_urls:
            out.append("nonResourceURLs")
        return out


@dataclass(slots=True)
class ResolvedRole:
    kind: str                  # Role | ClusterRole
    name: str
    namespace: str | None
    rules: tuple[Rule, ...]
    aggregated_from: tuple[str, ...] = ()
    obj: KObject | None = None

    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(slots=True)
class Binding:
    kind: str                  # RoleBinding | ClusterRoleBinding
    name: str
    namespace: str | None
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]
    origin: str

    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def scope(self) -> str:
        return f"namespace {self.namespace}" if self.kind == ROLE_BINDING else "cluster-wide"


@dataclass(frozen=True, slots=True)
class Ask:
    """One permission a check asks about."""
    verbs: frozenset[str]
    group: str
    resource: str              # "secrets", "nodes/proxy", "userextras/*" (any subresource)
    cluster_scoped: bool = False   # checked without a namespace: only ClusterRoleBindings grant it
    effect: str = ""               # what holding it means, when not obvious ("creates pods through ...")

    def granted_by(self, rule: "Rule") -> str:
        """The part of this ask `rule` grants, as evidence text."""
        verbs = sorted(self.verbs) if "*" in rule.verbs else sorted(self.verbs & rule.verbs)
        where = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{'/'.join(verbs)} {where}" + (f" ({self.effect})" if self.effect else "")

    def names_apply(self) -> bool:
        # create of a top-level resource carries no object name, so a rule
        # limited by resourceNames can never authorize it.
        return not (self.verbs <= {"create"} and "/" not in self.resource)


@dataclass(frozen=True, slots=True)
class Grant:
    subject: Subject
    binding: Binding
    role: ResolvedRole
    rule: Rule
    named_only: bool           # the rule is limited by resourceNames
    allow_listed: str | None   # why this grant is a Kubernetes default, or None
    granted: tuple[str, ...] = ()   # what of the asked permission this rule grants (Ask.granted_by)

    def chain(self) -> str:
        return f"{self.subject.label()} → {self.binding.label()} → {self.role.label()}"


@dataclass(slots=True)
class RbacIndex:
    roles: dict[tuple[str, str | None, str], ResolvedRole] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    bindings_by_role: dict[tuple[str, str | None, str], list[Binding]] = field(
        default_factory=lambda: defaultdict(list))
    dangling: list[Binding] = field(default_factory=list)   # roleRef names no collected role
    by_subject: dict[Subject, list[Binding]] = field(default_factory=lambda: defaultdict(list))

    def role_for(self, b: Binding) -> ResolvedRole | None:
        if b.role_kind == CLUSTER_ROLE:
            return self.roles.get((CLUSTER_ROLE, None, b.role_name))
        return self.roles.get((ROLE, b.namespace, b.role_name))

    def who_can(self, asks: Iterable[Ask]) -> dict[Subject, list[Grant]]:
        """Every subject some binding gives one of `asks`, with the chains:
        one grant per (binding, rule) per subject, naming what it grants."""
        asks = tuple(asks)
        out: dict[Subject, list[Grant]] = defaultdict(list)
        for key, role in self.roles.items():
            bindings = self.bindings_by_role.get(key)
            if not bindings:
                continue
            matches = [(rule, ask) for rule in role.rules for ask in asks
                       if rule_matches(rule, ask)]
            if not matches:
                continue
            for b in bindings:
                per_rule: dict[int, tuple[Rule, list[str]]] = {}
                for rule, ask in matches:
                    if ask.cluster_scoped and b.kind == ROLE_BINDING:
                        continue   # a RoleBinding never grants what is checked without a namespace
                    per_rule.setdefault(id(rule), (rule, []))[1].append(ask.granted_by(rule))
                for rule, granted in per_rule.values():
                    named = bool(rule.resource_names)
                    for s in b.subjects:
                        out[s].append(Grant(s, b, role, rule, named, allow_listed_grant(b, s),
                                            tuple(dict.fromkeys(granted))))
        return dict(out)

    def bindings_of(self, subject: Subject) -> list[Binding]:
        return list(self.by_subject.get(subject, ()))


def rule_matches(rule: Rule, ask: Ask) -> bool | None:
    """True when `rule` grants `ask` (see module doc); None when it does not."""
    if not rule.resources:
        return None
    if "*" not in rule.verbs and not (rule.verbs & ask.verbs):
        return None
    if "*" not in rule.api_groups and ask.group not in rule.api_groups:
        return None
    if not _resource_matches(rule.resources, ask.resource):
        return None
    if rule.resource_names and not ask.names_apply():
        return None
    return True


def _resource_matches(rule_resources: frozenset[str], wanted: str) -> bool:
    if "*" in rule_resources or wanted in rule_resources:
        return True
    base, _, sub = wanted.partition("/")
    if sub == "*":       # any subresource of `base`
        return any(r.startswith(base + "/") for r in rule_resources) or base in rule_resources
    if sub and f"*/{sub}" in rule_resources:
        return True
    return False


# ---------------------------------------------------------------------------
# Building the index
# ---------------------------------------------------------------------------

def _rules_of(obj: KObject) -> list[Rule]:
    out = []
    for raw in as_list(obj.body.get("rules")):
        raw = as_map(raw)
        out.append(Rule(
            verbs=frozenset(str_list(raw.get("verbs"))),
            api_groups=frozenset(str_list(raw.get("apiGroups"))),
            resources=frozenset(str_list(raw.get("resources"))),
            resource_names=frozenset(str_list(raw.get("resourceNames"))),
            non_resource_urls=frozenset(str_list(raw.get("nonResourceURLs"))),
            declared_in=obj.name))
    return out


def _subjects_of(obj: KObject) -> tuple[Subject, ...]:
    out = []
    for raw in as_list(obj.body.get("subjects")):
        raw = as_map(raw)
        kind, name = raw.get("kind"), raw.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        ns = raw.get("namespace") if isinstance(raw.get("namespace"), str) else None
        if kind == "ServiceAccount" and not ns:
            ns = obj.namespace     # RoleBinding subjects default to the binding's namespace
        out.append(Subject(kind, name, ns if kind == "ServiceAccount" else None))
    return tuple(dict.fromkeys(out))


def build_rbac_index(cluster: ClusterFacts) -> RbacIndex:
    idx = RbacIndex()
    cluster_roles = {o.name: o for o in cluster.of_kind(CLUSTER_ROLE)}
    own_rules = {name: _rules_of(o) for name, o in cluster_roles.items()}

    # label index so aggregation selectors are answered without a full scan each
    by_label: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, o in cluster_roles.items():
        for k, v in o.labels.items():
            by_label[(k, v)].add(name)

    def direct_sources(name: str) -> set[str]:
        agg = as_map(cluster_roles[name].body.get("aggregationRule"))
        found: set[str] = set()
        for sel in as_list(agg.get("clusterRoleSelectors")):
            sel = as_map(sel)
            ml = as_map(sel.get("matchLabels"))
            if ml:
                sets = [by_label.get((str(k), str(v)), set()) for k, v in ml.items()]
                candidates = set.intersection(*sets) if sets else set()
            else:
                candidates = set(cluster_roles)
            for c in candidates:
                if c != name and label_selector_matches(sel, cluster_roles[c].labels):
                    found.add(c)
        return found

    for name, o in cluster_roles.items():
        rules = list(own_rules[name])
        sources: list[str] = []
        if o.body.get("aggregationRule"):
            seen = {name}
            queue = sorted(direct_sources(name))
            while queue:
                src = queue.pop(0)
                if src in seen:
                    continue
                seen.add(src)
                sources.append(src)
                rules.extend(own_rules[src])
                if cluster_roles[src].body.get("aggregationRule"):
                    queue.extend(sorted(direct_sources(src) - seen))
        idx.roles[(CLUSTER_ROLE, None, name)] = ResolvedRole(
            CLUSTER_ROLE, name, None, tuple(dict.fromkeys(rules)), tuple(sources), o)
    for o in cluster.of_kind(ROLE):
        idx.roles[(ROLE, o.namespace, o.name)] = ResolvedRole(ROLE, o.name, o.namespace, tuple(_rules_of(o)),
                                                             (), o)

    for kind in (CLUSTER_ROLE_BINDING, ROLE_BINDING):
        for o in cluster.of_kind(kind):
            ref = as_map(o.body.get("roleRef"))
            role_kind = ref.get("kind") if ref.get("kind") in (ROLE, CLUSTER_ROLE) else None
            role_name = ref.get("name") if isinstance(ref.get("name"), str) else None
            if role_kind is None or role_name is None:
                continue
            if kind == CLUSTER_ROLE_BINDING and role_kind == ROLE:
                continue   # invalid: the API rejects it
            b = Binding(kind, o.name, o.namespace if kind == ROLE_BINDING else None, role_kind, role_name,
                        _subjects_of(o), o.origin or "api")
            idx.bindings.append(b)
            for s in b.subjects:
                idx.by_subject[s].append(b)
            key = (CLUSTER_ROLE, None, role_name) if role_kind == CLUSTER_ROLE else (ROLE, b.namespace, role_name)
            if key in idx.roles:
                idx.bindings_by_role[key].append(b)
            else:
                idx.dangling.append(b)
    return idx


# ---------------------------------------------------------------------------
# The allow-list of Kubernetes' own grants (docs/section5.md)
# ---------------------------------------------------------------------------
# A grant is allow-listed only when the binding, the role it references AND
# the subject are exactly what Kubernetes' RBAC bootstrap policy (or kubeadm)
# creates. Adding a subject to one of these bindings, or pointing it at
# another role, is not allow-listed.

def _u(name: str) -> Subject:
    return Subject("User", name)


def _g(name: str) -> Subject:
    return Subject("Group", name)


def _sa(ns: str, name: str) -> Subject:
    return Subject("ServiceAccount", name, ns)


_BOOTSTRAP_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"

# (binding kind, binding namespace, binding name) -> (role kind, role name, subjects, who sets it up)
ALLOW_LISTED_BINDINGS: Mapping[tuple[str, str | None, str], tuple[str, str, frozenset[Subject], str]] = {
    (CLUSTER_ROLE_BINDING, None, "cluster-admin"): (CLUSTER_ROLE, "cluster-admin", frozenset({_g("system:masters")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:kube-controller-manager"): (CLUSTER_ROLE, "system:kube-controller-manager", frozenset({_u("system:kube-controller-manager")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:kube-scheduler"): (CLUSTER_ROLE, "system:kube-scheduler", frozenset({_u("system:kube-scheduler")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:volume-scheduler"): (CLUSTER_ROLE, "system:volume-scheduler", frozenset({_u("system:kube-scheduler")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:node-proxier"): (CLUSTER_ROLE, "system:node-proxier", frozenset({_u("system:kube-proxy")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:node"): (CLUSTER_ROLE, "system:node", frozenset(), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:kube-dns"): (CLUSTER_ROLE, "system:kube-dns", frozenset({_sa("kube-system", "kube-dns")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:monitoring"): (CLUSTER_ROLE, "system:monitoring", frozenset({_g("system:monitoring")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:discovery"): (CLUSTER_ROLE, "system:discovery", frozenset({_g("system:authenticated")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:basic-user"): (CLUSTER_ROLE, "system:basic-user", frozenset({_g("system:authenticated")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:public-info-viewer"): (CLUSTER_ROLE, "system:public-info-viewer", frozenset({_g("system:authenticated"), _g("system:unauthenticated")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "system:service-account-issuer-discovery"): (CLUSTER_ROLE, "system:service-account-issuer-discovery", frozenset({_g("system:serviceaccounts")}), "Kubernetes bootstrap policy"),
    (CLUSTER_ROLE_BINDING, None, "kubeadm:kubelet-bootstrap"): (CLUSTER_ROLE, "system:node-bootstrapper", frozenset({_g(_BOOTSTRAP_TOKEN_GROUP)}), "kubeadm"),
    (CLUSTER_ROLE_BINDING, None, "kubeadm:node-autoapprove-bootstrap"): (CLUSTER_ROLE, "system:certificates.k8s.io:certificatesigningrequests:nodeclient", frozenset({_g(_BOOTSTRAP_TOKEN_GROUP)}), "kubeadm"),
    (CLUSTER_ROLE_BINDING, None, "kubeadm:node-autoapprove-certificate-rotation"): (CLUSTER_ROLE, "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", frozenset({_g("system:nodes")}), "kubeadm"),
    (CLUSTER_ROLE_BINDING, None, "kubeadm:get-nodes"): (CLUSTER_ROLE, "kubeadm:get-nodes", frozenset({_g(_BOOTSTRAP_TOKEN_GROUP)}), "kubeadm"),
    (CLUSTER_ROLE_BINDING, None, "kubeadm:node-proxier"): (CLUSTER_ROLE, "system:node-proxier", frozenset({_sa("kube-system", "kube-proxy")}), "kubeadm"),
    (CLUSTER_ROLE_BINDING, None, "kubeadm:cluster-admins"): (CLUSTER_ROLE, "cluster-admin", frozenset({_g("kubeadm:cluster-admins")}), "kubeadm (admin.conf since v1.29)"),
    (ROLE_BINDING, "kube-system", "system::extension-apiserver-authentication-reader"): (ROLE, "extension-apiserver-authentication-reader", frozenset({_u("system:kube-controller-manager"), _u("system:kube-scheduler")}), "Kubernetes bootstrap policy"),
    (ROLE_BINDING, "kube-system", "system::leader-locking-kube-controller-manager"): (ROLE, "system::leader-locking-kube-controller-manager", frozenset({_u("system:kube-controller-manager"), _sa("kube-system", "kube-controller-manager")}), "Kubernetes bootstrap policy"),
    (ROLE_BINDING, "kube-system", "system::leader-locking-kube-scheduler"): (ROLE, "system::leader-locking-kube-scheduler", frozenset({_u("system:kube-scheduler"), _sa("kube-system", "kube-scheduler")}), "Kubernetes bootstrap policy"),
    (ROLE_BINDING, "kube-system", "kube-proxy"): (ROLE, "kube-proxy", frozenset({_g(_BOOTSTRAP_TOKEN_GROUP)}), "kubeadm"),
    (ROLE_BINDING, "kube-system", "kubeadm:kubelet-config"): (ROLE, "kubeadm:kubelet-config", frozenset({_g("system:nodes"), _g(_BOOTSTRAP_TOKEN_GROUP)}), "kubeadm"),
    (ROLE_BINDING, "kube-system", "kubeadm:nodes-kubeadm-config"): (ROLE, "kubeadm:nodes-kubeadm-config", frozenset({_g("system:nodes"), _g(_BOOTSTRAP_TOKEN_GROUP)}), "kubeadm"),
    (ROLE_BINDING, "kube-public", "kubeadm:bootstrap-signer-clusterinfo"): (ROLE, "kubeadm:bootstrap-signer-clusterinfo", frozenset({_u("system:anonymous")}), "kubeadm"),
}

# Kubernetes' own ClusterRoles that contain wildcards by design (5.1.3).
ALLOW_LISTED_WILDCARD_ROLES = frozenset({
    "cluster-admin",
    "system:controller:generic-garbage-collector",
    "system:controller:namespace-controller",
    "system:controller:resourcequota-controller",
    "system:controller:horizontal-pod-autoscaler",
    "system:controller:disruption-controller",
    "system:kube-controller-manager",
})

_CONTROLLER_PREFIX = "system:controller:"


def allow_listed_grant(b: Binding, s: Subject) -> str | None:
    """Why this (binding, subject) is one of Kubernetes' own grants, or None."""
    entry = ALLOW_LISTED_BINDINGS.get((b.kind, b.namespace, b.name))
    if entry is not None:
        role_kind, role_name, subjects, who = entry
        if b.role_kind == role_kind and b.role_name == role_name and s in subjects:
            return f"{who}: {b.label()} → {role_kind} {role_name}"
        return None
    # The controller loops of kube-controller-manager: binding, role and
    # service account all named after the controller (system:controller:X →
    # kube-system/X), cluster-wide or in kube-system / kube-public.
    if b.name.startswith(_CONTROLLER_PREFIX) and b.role_name == b.name:
        controller = b.name[len(_CONTROLLER_PREFIX):]
        if controller and s == _sa("kube-system", controller) and b.namespace in (None, "kube-system", "kube-public"):
            return f"Kubernetes bootstrap policy: controller {controller}"
    return None

