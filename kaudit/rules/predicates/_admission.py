"""Which admission mechanisms enforce which pod-security controls, per namespace.

Recognised mechanisms (docs/section5.md, "What counts as enforcing admission"):

* Pod Security Admission: the namespace label `pod-security.kubernetes.io/enforce`
  (an invalid value is treated as `restricted`, as Kubernetes does), else the
  cluster-wide `defaults.enforce` of the PodSecurity plugin configuration in
  the API server's `--admission-control-config-file` when a node collector
  could read it; namespaces in its `exemptions.namespaces` are exempt.
* Kyverno ClusterPolicy / Policy rules that match Pods and resolve to Enforce
  in the namespace (overrides, rule action, policy action: `kyverno_action`),
  minus what a PolicyException takes away: `validate.podSecurity` by level (minus excluded controls), or
  patterns / CEL / deny conditions that name the field a control is about.
* Gatekeeper constraints of the gatekeeper-library PSP kinds with
  `enforcementAction: deny` (the default), honouring match.namespaces,
  excludedNamespaces, namespaceSelector and the `admission.gatekeeper.sh/ignore`
  namespace label.
* ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding whose
  validationActions include Deny, matching pods, whose CEL names the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


from kaudit.model import (NAMESPACE, VALIDATING_ADMISSION_POLICY, VALIDATING_ADMISSION_POLICY_BINDING,
                          ClusterFacts, Evidence, Facts)
from kaudit.rules.predicates import Context
from kaudit.rules.nodefiles import node_yaml
from kaudit.rules.predicates._common import (as_list, as_map, glob_match, label_selector_matches,
                                             namespace_labels, namespace_names, safe, str_list)

PSA_LEVELS = {"privileged": 0, "baseline": 1, "restricted": 2}
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"

# The Pod Security Standards level that blocks each control.
CONTROL_LEVEL: Mapping[str, str] = {
    "privileged": "baseline", "hostPID": "baseline", "hostIPC": "baseline", "hostNetwork": "baseline",
    "hostPath": "baseline", "hostPorts": "baseline", "hostProcess": "baseline",
    "allowPrivilegeEscalation": "restricted", "root": "restricted", "netRaw": "restricted",
    "capabilities": "restricted", "seccomp": "restricted",
}
ADMISSION_CONTROLS = tuple(CONTROL_LEVEL)

# Pod Security Standards control names (as Kyverno's podSecurity.exclude uses them).
_PSS_CONTROL_NAMES: Mapping[str, tuple[str, ...]] = {
    "privileged containers": ("privileged",),
    "host namespaces": ("hostPID", "hostIPC", "hostNetwork"),
    "hostpath volumes": ("hostPath",),
    "host ports": ("hostPorts",),
    "hostprocess": ("hostProcess",),
    "capabilities": ("capabilities", "netRaw"),
    "privilege escalation": ("allowPrivilegeEscalation",),
    "running as non-root": ("root",),
    "running as non-root user": ("root",),
    "seccomp": ("seccomp",),
}

KYVERNO_CLUSTER_POLICY = "ClusterPolicy.kyverno.io"
KYVERNO_POLICY = "Policy.kyverno.io"
GATEKEEPER_SUFFIX = ".constraints.gatekeeper.sh"
GATEKEEPER_IGNORE_LABEL = "admission.gatekeeper.sh/ignore"


def controls_at_level(level: str) -> set[str]:
    rank = PSA_LEVELS.get(level, 0)
    return {c for c, lvl in CONTROL_LEVEL.items() if PSA_LEVELS[lvl] <= rank}


def controls_mentioned(node: Any) -> set[str]:
    """Controls whose field a policy body (pattern, CEL, deny) names.
    Kyverno anchors ("=(privileged)", "X(hostPath)") are stripped; `message`
    texts are ignored so a message cannot count as a rule."""
    keys: list[str] = []
    texts: list[str] = []

    def walk(n: Any, depth: int = 0) -> None:
        if depth > 40:
            return
        if isinstance(n, Mapping):
            for k, v in n.items():
                if k == "message":
                    continue
                keys.append("".join(ch for ch in str(k) if ch.isalnum() or ch == "_"))
                walk(v, depth + 1)
        elif isinstance(n, list):
            for v in n:
                walk(v, depth + 1)
        elif isinstance(n, str):
            texts.append(n)

    walk(node)
    blob = " ".join(keys + texts)
    found: set[str] = set()
    for token, control in (("privileged", "privileged"), ("hostPID", "hostPID"), ("hostIPC", "hostIPC"),
                           ("hostNetwork", "hostNetwork"), ("allowPrivilegeEscalation", "allowPrivilegeEscalation"),
                           ("runAsNonRoot", "root"), ("hostPath", "hostPath"), ("hostPort", "hostPorts"),
                           ("hostProcess", "hostProcess"), ("seccompProfile", "seccomp")):
        if token in blob:
            found.add(control)
    if "capabilities" in blob:
        if "ALL" in blob:
            found |= {"capabilities", "netRaw"}
        elif "NET_RAW" in blob:
            found.add("netRaw")
    elif "NET_RAW" in blob:
        found.add("netRaw")
    return found


@dataclass(slots=True)
class PolicyRule:
    """One rule of a policy engine that can block pods, and the namespaces it reaches."""
    mechanism: str                 # "Kyverno ClusterPolicy disallow-privileged rule check-privileged"
    source: str
    controls: set[str]
    applies: Callable[[str, Mapping[str, str]], bool]   # (namespace, its labels) -> in the rule's scope
    # (namespace, labels, control) -> why the rule does not enforce there (Audit, an exception), or None
    not_enforcing: Callable[[str, Mapping[str, str], str], str | None] = lambda ns, labels, control: None


@dataclass(slots=True)
class PsaDefault:
    level: str | None              # None: not visible
    exempt: frozenset[str] = frozenset()
    source: str = ""
    note: str = ""


@dataclass(slots=True)
class AdmissionIndex:
    labels: dict[str, dict[str, str]]
    namespaces: list[str]
    default: PsaDefault
    rules: list[PolicyRule] = field(default_factory=list)

    def psa_level(self, ns: str) -> tuple[str, str]:
        """(effective PSA enforce level, how it was decided) for a namespace."""
        if ns in self.default.exempt:
            return "privileged", f"namespace exempt in the PodSecurity admission configuration ({self.default.source})"
        raw = self.labels.get(ns, {}).get(PSA_ENFORCE)
        if raw is not None:
            if raw in PSA_LEVELS:
                return raw, f"namespace label {PSA_ENFORCE}={raw}"
            return "restricted", (f"namespace label {PSA_ENFORCE}={safe(raw, 60)} is invalid; "
                                  "Pod Security Admission then enforces restricted")
        if self.default.level:
            return self.default.level, f"cluster default enforce={self.default.level} ({self.default.source})"
        return "privileged", ("no namespace label; " + (self.default.note or
                              "cluster default is privileged (Kubernetes default)"))

    def enforcing(self, ns: str, control: str) -> tuple[list[Evidence], Evidence, list[Evidence]]:
        """(mechanisms that block `control` in `ns`, the PSA observation,
        rules that reach `ns` but do not enforce there, with why)."""
        level, how = self.psa_level(ns)
        needed = CONTROL_LEVEL[control]
        assumed = (self.default.level is None and ns not in self.default.exempt
                   and PSA_ENFORCE not in self.labels.get(ns, {}))
        psa_ev = Evidence(f"Pod Security Admission enforce level of namespace {ns}", level, how,
                          expected=f"{needed} or stricter",
                          note="assumed, not seen: the API server's PodSecurity admission configuration was not "
                               "visible, so Kubernetes' default (privileged) is assumed" if assumed else None)
        out: list[Evidence] = []
        idle: list[Evidence] = []
        if PSA_LEVELS[level] >= PSA_LEVELS[needed]:
            out.append(psa_ev)
        labels = self.labels.get(ns, {})
        for r in self.rules:
            if control not in r.controls or not r.applies(ns, labels):
                continue
            why_not = r.not_enforcing(ns, labels, control)
            if why_not:
                idle.append(Evidence(r.mechanism, "does not enforce here", r.source, note=why_not))
            else:
                out.append(Evidence(r.mechanism, "enforcing", r.source, note=f"blocks {control}"))
        return out, psa_ev, idle

    def any_active(self) -> list[Evidence]:
        out = []
        if self.default.level and PSA_LEVELS[self.default.level] > 0:
            out.append(Evidence("Pod Security Admission cluster default", self.default.level, self.default.source))
        for ns in self.namespaces:
            raw = self.labels.get(ns, {}).get(PSA_ENFORCE)
            if raw is not None and PSA_LEVELS.get(raw, 2) > 0:
                out.append(Evidence(f"namespace {ns} label {PSA_ENFORCE}", safe(raw, 60), f"Namespace {ns}"))
        for r in self.rules:
            where = [ns for ns in self.namespaces
                     if r.applies(ns, self.labels.get(ns, {}))
                     and any(r.not_enforcing(ns, self.labels.get(ns, {}), c) is None for c in r.controls)]
            if where:
                out.append(Evidence(r.mechanism, "enforcing", r.source,
                                    note=f"blocks {', '.join(sorted(r.controls))} in {len(where)} namespace(s)"))
        return out


# ---------------------------------------------------------------------------
# PodSecurity cluster default from the API server admission configuration
# ---------------------------------------------------------------------------

def psa_cluster_default(facts: Facts, ctx: Context | None) -> PsaDefault:
    """The PodSecurity plugin's `defaults.enforce`, when it can be seen.

    Reads `--admission-control-config-file` of each kube-apiserver instance
    (kaudit.rules.flags.component_instances) and the file's contents from the
    node collector; a `path:` to a separate PodSecurityConfiguration is
    followed on the same node."""
    from kaudit.rules.flags import component_instances   # the lead's resolver; imported late

    instances = component_instances(facts, "kube-apiserver", ctx)
    if not instances:
        return PsaDefault(None, note="cluster default not visible: no kube-apiserver instance was seen "
                                     "(managed control plane or no node access)")
    notes: list[tuple[str, str]] = []     # (reason, node)
    for inst in instances:
        path = inst.flags.get("admission-control-config-file")
        if not path:
            return PsaDefault("privileged", source=f"{inst.source}: no --admission-control-config-file",
                              note="cluster default is privileged (no admission configuration file)")
        nf = inst.node_facts
        doc, why = node_yaml(nf, path, inst.node)
        if why:
            notes.append((f"{inst.source}: --admission-control-config-file: {safe(why, 300)}", inst.node))
            continue
        for plugin in as_list(as_map(doc).get("plugins")):
            plugin = as_map(plugin)
            if plugin.get("name") != "PodSecurity":
                continue
            cfg = plugin.get("configuration")
            where = f"{safe(path)} on node {inst.node}"
            if cfg is None and isinstance(plugin.get("path"), str):
                cfg, why = node_yaml(nf, plugin["path"], inst.node)
                if why:
                    notes.append((f"PodSecurity configuration: {safe(why, 300)}", inst.node))
                    break
                where = f"{safe(plugin['path'])} on node {inst.node}"
            cfg = as_map(cfg)
            level = as_map(cfg.get("defaults")).get("enforce", "privileged")
            if level not in PSA_LEVELS:
                level = "restricted"
            exempt = frozenset(str_list(as_map(cfg.get("exemptions")).get("namespaces")))
            return PsaDefault(level, exempt, where)
        else:
            return PsaDefault("privileged", source=f"{safe(path)} has no PodSecurity plugin configuration")
    return PsaDefault(None, note=_fold_node_notes(notes) or "cluster default not visible")


def _fold_node_notes(notes: list[tuple[str, str]]) -> str:
    """One reason per kind of failure, not per control-plane node: the same
    reason on three API servers is said once, naming the other nodes. Every
    namespace's 5.2 evidence quotes it, so at 1,500 namespaces it counts."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for text, node in notes:
        shape = text.replace(node, "\0") if node else text
        groups.setdefault(shape, []).append((text, node))
    out = []
    for members in groups.values():
        text = members[0][0]
        others = [node for _, node in members[1:]]
        out.append(text + (f" (likewise on node{'s' if len(others) > 1 else ''} {', '.join(others)})"
                           if others else ""))
    return "; ".join(out)


# ---------------------------------------------------------------------------
# Policy engines
# ---------------------------------------------------------------------------

def _kyverno_rules(cluster: ClusterFacts) -> list[PolicyRule]:
    exceptions = _kyverno_exceptions(cluster)
    out = []
    for kind in (KYVERNO_CLUSTER_POLICY, KYVERNO_POLICY):
        for pol in cluster.of_kind(kind):
            spec = as_map(pol.body.get("spec"))
            if spec.get("admission") is False:
                continue      # background scans only: never applied at admission
            policy_name = f"{pol.namespace}/{pol.name}" if pol.namespace else pol.name
            for rule in as_list(spec.get("rules")):
                rule = as_map(rule)
                validate = as_map(rule.get("validate"))
                if not validate:
                    continue
                if not _kyverno_matches_pods(rule):
                    continue
                ps = as_map(validate.get("podSecurity"))
                if ps:
                    controls = controls_at_level(str(ps.get("level", "")))
                    for ex in as_list(ps.get("exclude")):
                        name = str(as_map(ex).get("controlName", "")).strip().lower()
                        for c in _PSS_CONTROL_NAMES.get(name, ()):
                            controls.discard(c)
                else:
                    controls = controls_mentioned({k: v for k, v in validate.items() if k != "message"})
                if not controls:
                    continue
                rule_name = str(rule.get("name", ""))
                label = f"Kyverno {kind.split('.')[0]} {pol.ref()} rule {safe(rule_name or '?', 80)}"
                mine = [e for e in exceptions if e.covers(policy_name, rule_name)]
                out.append(PolicyRule(label, pol.origin or "api", controls, _kyverno_scope(rule, pol.namespace),
                                      _kyverno_not_enforcing(validate, spec, mine)))
    return out


def kyverno_action(validate: Mapping[str, Any], spec: Mapping[str, Any], ns: str,
                   labels: Mapping[str, str]) -> tuple[str, str]:
    """(effective failure action, where it came from) of a validate rule for
    a resource in `ns`, as Kyverno resolves it (pkg/engine/api
    ResolveValidationFailureAction): the rule's failureActionOverrides, its
    failureAction, the policy's validationFailureActionOverrides, its
    validationFailureAction (default Audit). The first matching override wins."""
    for override in as_list(validate.get("failureActionOverrides")):
        if _override_matches(as_map(override), ns, labels):
            return str(as_map(override).get("action")), "rule failureActionOverrides"
    if isinstance(validate.get("failureAction"), str):
        return validate["failureAction"], "rule failureAction"
    for override in as_list(spec.get("validationFailureActionOverrides")):
        if _override_matches(as_map(override), ns, labels):
            return str(as_map(override).get("action")), "policy validationFailureActionOverrides"
    action = spec.get("validationFailureAction")
    if isinstance(action, str):
        return action, "policy validationFailureAction"
    return "Audit", "validationFailureAction unset (Kyverno default Audit)"


_KYVERNO_ACTIONS = ("Enforce", "enforce", "Audit", "audit")


def _override_matches(o: Mapping[str, Any], ns: str, labels: Mapping[str, str]) -> bool:
    # Kyverno matchesFailureActionOverride: no namespaces and no selector = every namespace;
    # namespaces (wildcards) and the selector must both match when both are given.
    if o.get("action") not in _KYVERNO_ACTIONS:
        return False
    selector = o.get("namespaceSelector")
    if o.get("namespaces") is None:
        return selector is None or label_selector_matches(selector, labels) is True
    return any(glob_match(p, ns) for p in str_list(o.get("namespaces"))) and (
        selector is None or label_selector_matches(selector, labels) is True)


def _kyverno_not_enforcing(validate: Mapping[str, Any], spec: Mapping[str, Any], exceptions: list["KyvernoException"]
                           ) -> Callable[[str, Mapping[str, str], str], str | None]:
    def why_not(ns: str, labels: Mapping[str, str], control: str) -> str | None:
        action, how = kyverno_action(validate, spec, ns, labels)
        if action.lower() != "enforce":
            return f"{safe(action, 20)} in namespace {ns} ({how}): violations are reported, not blocked"
        for e in exceptions:
            why = e.exempts(ns, labels, control)
            if why:
                return why
        return None
    return why_not


@dataclass(frozen=True, slots=True)
class KyvernoException:
    """A Kyverno PolicyException: the rules it names do not apply to what it matches."""
    name: str
    source: str
    rules: tuple[tuple[str, str], ...]                # (policy name, rule name pattern)
    match: tuple[Mapping[str, Any], ...]              # resource filters (match.any / match.all)
    pod_security_controls: frozenset[str]             # podSecurity exemptions: only these controls

    def covers(self, policy: str, rule: str) -> bool:
        return any(p == policy and glob_match(r, rule) for p, r in self.rules)

    def exempts(self, ns: str, labels: Mapping[str, str], control: str) -> str | None:
        if self.pod_security_controls and control not in self.pod_security_controls:
            return None
        for res in self.match:
            kinds = str_list(res.get("kinds"))
            if kinds and not any(k in ("Pod", "*") or k.endswith("/Pod") for k in kinds):
                continue
            names = str_list(res.get("namespaces"))
            if names and not any(glob_match(p, ns) for p in names):
                continue
            sel = res.get("namespaceSelector")
            if sel is not None and label_selector_matches(sel, labels) is not True:
                continue
            who = str_list(res.get("names"))
            return (f"PolicyException {self.name} exempts "
                    + (f"pods named {safe(', '.join(who), 120)}" if who else "its pods")
                    + f" in namespace {ns}")
        return None


KYVERNO_POLICY_EXCEPTION = "PolicyException.kyverno.io"


def _kyverno_exceptions(cluster: ClusterFacts) -> list[KyvernoException]:
    out = []
    for e in cluster.of_kind(KYVERNO_POLICY_EXCEPTION):
        spec = as_map(e.body.get("spec"))
        rules = tuple((str(as_map(x).get("policyName", "")), r)
                      for x in as_list(spec.get("exceptions")) for r in str_list(as_map(x).get("ruleNames")))
        match = tuple(_kyverno_blocks({"match": spec.get("match")}, "match"))
        controls: set[str] = set()
        for ps in as_list(spec.get("podSecurity")):
            controls |= set(_PSS_CONTROL_NAMES.get(str(as_map(ps).get("controlName", "")).strip().lower(), ()))
        out.append(KyvernoException(e.ref(), e.origin or "api", rules, match, frozenset(controls)))
    return out


def _kyverno_blocks(rule: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    block = as_map(rule.get(key))
    items = [as_map(as_map(x).get("resources")) for x in as_list(block.get("any")) + as_list(block.get("all"))]
    if block.get("resources"):
        items.append(as_map(block.get("resources")))
    return items


def _kyverno_matches_pods(rule: Mapping[str, Any]) -> bool:
    for res in _kyverno_blocks(rule, "match"):
        for k in str_list(res.get("kinds")):
            if k in ("Pod", "*") or k.endswith("/Pod"):
                return True
    return False


def _kyverno_scope(rule: Mapping[str, Any], policy_ns: str | None) -> Callable[[str, Mapping[str, str]], bool]:
    matches = _kyverno_blocks(rule, "match")
    excludes = _kyverno_blocks(rule, "exclude")

    def res_applies(res: Mapping[str, Any], ns: str, labels: Mapping[str, str]) -> bool:
        names = str_list(res.get("namespaces"))
        if names and not any(glob_match(p, ns) for p in names):
            return False
        sel = res.get("namespaceSelector")
        if sel is not None and label_selector_matches(sel, labels) is not True:
            return False
        return True

    def applies(ns: str, labels: Mapping[str, str]) -> bool:
        if policy_ns is not None and ns != policy_ns:
            return False
        if not any(res_applies(r, ns, labels) for r in matches):
            return False
        for r in excludes:
            # an exclude that only names namespaces (or a selector) removes them
            if (r.get("namespaces") or r.get("namespaceSelector") is not None) and res_applies(r, ns, labels):
                return False
        return True
    return applies


_GATEKEEPER_KINDS: Mapping[str, set[str]] = {
    "K8sPSPPrivilegedContainer": {"privileged"},
    "K8sPSPHostNamespace": {"hostPID", "hostIPC"},
    "K8sPSPHostNetworkingPorts": {"hostNetwork", "hostPorts"},
    "K8sPSPAllowPrivilegeEscalationContainer": {"allowPrivilegeEscalation"},
    "K8sPSPAllowedUsers": {"root"},
    "K8sPSPCapabilities": {"capabilities", "netRaw"},
    "K8sPSPHostFilesystem": {"hostPath"},
    "K8sPSPVolumeTypes": {"hostPath"},
    "K8sPSPSeccomp": {"seccomp"},
    "K8sPSPWindowsHostProcess": {"hostProcess"},
    "K8sPSPHostProcess": {"hostProcess"},
}


def _gatekeeper_controls(kind: str, params: Mapping[str, Any]) -> set[str]:
    controls = set(_GATEKEEPER_KINDS.get(kind, ()))
    if kind == "K8sPSPHostNetworkingPorts":
        if params.get("hostNetwork") is True:
            controls.discard("hostNetwork")
        if params.get("max") is None:     # without a range the library template lets any hostPort through
            controls.discard("hostPorts")
    elif kind == "K8sPSPAllowedUsers":
        rule = as_map(params.get("runAsUser")).get("rule")
        ranges = as_list(as_map(params.get("runAsUser")).get("ranges"))
        if not (rule == "MustRunAsNonRoot" or (rule == "MustRunAs" and ranges and
                all(isinstance(as_map(r).get("min"), int) and as_map(r)["min"] >= 1 for r in ranges))):
            controls.clear()
    elif kind == "K8sPSPCapabilities":
        drops = {str(x).upper() for x in str_list(params.get("requiredDropCapabilities"))}
        if "ALL" in drops:
            controls = {"capabilities", "netRaw"}
        elif "NET_RAW" in drops:
            controls = {"netRaw"}
        else:
            controls.clear()
    elif kind == "K8sPSPVolumeTypes":
        vols = str_list(params.get("volumes"))
        if "*" in vols or "hostPath" in vols:
            controls.clear()
    elif kind == "K8sPSPSeccomp":
        allowed = str_list(params.get("allowedProfiles"))
        if any(p in ("*", "unconfined", "Unconfined") for p in allowed):
            controls.clear()
    return controls


def _gatekeeper_rules(cluster: ClusterFacts) -> list[PolicyRule]:
    out = []
    for key in sorted(k for k in cluster.objects if k.endswith(GATEKEEPER_SUFFIX)):
        kind = key[: -len(GATEKEEPER_SUFFIX)]
        for c in cluster.of_kind(key):
            spec = as_map(c.body.get("spec"))
            action = spec.get("enforcementAction", "deny")
            if action == "scoped":
                scoped = as_list(spec.get("scopedEnforcementActions"))
                if not any(as_map(s).get("action") == "deny" and
                           any(as_map(e).get("name") in ("validation.gatekeeper.sh", "*")
                               for e in as_list(as_map(s).get("enforcementPoints"))) for s in scoped):
                    continue
            elif action != "deny":
                continue
            controls = _gatekeeper_controls(kind, as_map(spec.get("parameters")))
            match = as_map(spec.get("match"))
            kinds = as_list(match.get("kinds"))
            if kinds and not any("Pod" in str_list(as_map(k).get("kinds")) or "*" in str_list(as_map(k).get("kinds"))
                                 for k in kinds):
                continue
            if not controls:
                continue
            out.append(PolicyRule(f"Gatekeeper {kind} {safe(c.name, 120)} (enforcementAction {action})",
                                  c.origin or "api", controls, _gatekeeper_scope(match)))
    return out


def _gatekeeper_scope(match: Mapping[str, Any]) -> Callable[[str, Mapping[str, str]], bool]:
    names = str_list(match.get("namespaces"))
    excluded = str_list(match.get("excludedNamespaces"))
    selector = match.get("namespaceSelector")

    def applies(ns: str, labels: Mapping[str, str]) -> bool:
        if GATEKEEPER_IGNORE_LABEL in labels:
            return False
        if names and not any(glob_match(p, ns) for p in names):
            return False
        if any(glob_match(p, ns) for p in excluded):
            return False
        if selector is not None and label_selector_matches(selector, labels) is not True:
            return False
        return True
    return applies


def _vap_rules(cluster: ClusterFacts) -> list[PolicyRule]:
    policies = {p.name: p for p in cluster.of_kind(VALIDATING_ADMISSION_POLICY)}
    out = []
    for b in cluster.of_kind(VALIDATING_ADMISSION_POLICY_BINDING):
        spec = as_map(b.body.get("spec"))
        if "Deny" not in str_list(spec.get("validationActions")):
            continue
        pol = policies.get(str(spec.get("policyName", "")))
        if pol is None:
            continue
        pspec = as_map(pol.body.get("spec"))
        constraints = as_map(pspec.get("matchConstraints"))
        if not any("pods" in str_list(as_map(r).get("resources")) or "*" in str_list(as_map(r).get("resources"))
                   for r in as_list(constraints.get("resourceRules"))):
            continue
        controls = controls_mentioned([as_map(v).get("expression") for v in as_list(pspec.get("validations"))])
        if not controls:
            continue
        selectors = [s for s in (constraints.get("namespaceSelector"),
                                 as_map(spec.get("matchResources")).get("namespaceSelector")) if s is not None]

        def applies(ns: str, labels: Mapping[str, str], selectors=selectors) -> bool:
            return all(label_selector_matches(s, labels) is True for s in selectors)
        out.append(PolicyRule(f"ValidatingAdmissionPolicy {safe(pol.name, 120)} via binding "
                              f"{safe(b.name, 120)} (Deny)", b.origin or "api", controls, applies))
    return out


# Kinds that may hold enforcement kaudit did not see. PolicyExceptions are not
# among them: they only take enforcement away (see workloads.pod_security).
POLICY_KINDS = (KYVERNO_CLUSTER_POLICY, KYVERNO_POLICY, VALIDATING_ADMISSION_POLICY,
                VALIDATING_ADMISSION_POLICY_BINDING)


def build_admission_index(facts: Facts, ctx: Context | None) -> AdmissionIndex:
    cluster = facts.cluster
    idx = AdmissionIndex(labels=namespace_labels(cluster), namespaces=namespace_names(cluster),
                         default=psa_cluster_default(facts, ctx))
    idx.rules.extend(_kyverno_rules(cluster))
    idx.rules.extend(_gatekeeper_rules(cluster))
    idx.rules.extend(_vap_rules(cluster))
    return idx


def unavailable_policy_kinds(cluster: ClusterFacts) -> dict[str, str]:
    """Policy kinds that were not collected (they may hide enforcement): the
    collector failed or was denied, or the input never held them."""
    out = cluster.missing(NAMESPACE, *POLICY_KINDS)
    out.update((k, v) for k, v in cluster.unavailable.items() if k.endswith(GATEKEEPER_SUFFIX))
    return out

