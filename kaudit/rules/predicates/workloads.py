"""CIS 5.2 (pod security admission), 5.4.1 (secrets in env), 5.5.1 (image
provenance), 5.6.2 (seccomp) and 5.6.3 (security context).

5.2.x are about admission: per namespace, does an enforcing mechanism stop
the admission of the control (see _admission)? A namespace without one
fails. In addition every workload running in violation today fails, once,
against its top-level owner (see _workload_index), with its running pod
count. Control-plane static pods have documented expectations
(EXPECTED_FOR_CONTROL_PLANE) shown in a PASS line of their own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from kaudit.catalog import Check
from kaudit.model import (CLUSTER, MUTATING_WEBHOOK, NAMESPACE, NODE, POD, VALIDATING_WEBHOOK, WORKLOAD_KINDS,
                          Evidence, Facts, Finding, Status, Target)
from kaudit.rules.predicates import Context, predicate
from kaudit.rules.predicates._admission import (CONTROL_LEVEL, GATEKEEPER_SUFFIX, KYVERNO_CLUSTER_POLICY,
                                                KYVERNO_POLICY, KYVERNO_POLICY_EXCEPTION, AdmissionIndex, build_admission_index,
                                                unavailable_policy_kinds)
from kaudit.rules.predicates._common import (as_list, as_map, capped, grouped_pass, missing_kind_findings,
                                             namespace_names, safe, str_list)
from kaudit.rules.predicates._workload_index import (EXPECTED_FOR_CONTROL_PLANE, WorkloadIndex, WorkloadTarget,
                                                    where_seen)
from kaudit.rules.predicates.rbac import workload_index

POD_KINDS = (POD, *WORKLOAD_KINDS)

CONTROL_TEXT = {
    "privileged": "privileged containers",
    "hostPID": "sharing the host PID namespace",
    "hostIPC": "sharing the host IPC namespace",
    "hostNetwork": "sharing the host network namespace",
    "allowPrivilegeEscalation": "containers allowing privilege escalation",
    "root": "containers running as root",
    "netRaw": "containers with NET_RAW",
    "capabilities": "containers with capabilities assigned",
    "hostProcess": "Windows HostProcess containers",
    "hostPath": "hostPath volumes",
    "hostPorts": "host ports",
    "secretEnv": "Secrets in environment variables",
    "seccomp": "containers without a RuntimeDefault or Localhost seccomp profile",
    "seccompLocalhost": "containers whose Localhost seccomp profile cannot be verified from the API",
    "securityContext": "containers without the minimum security context",
}


def admission_index(facts: Facts, ctx: Context) -> AdmissionIndex:
    return ctx.cached("admission", lambda: build_admission_index(facts, ctx))


@dataclass(slots=True)
class _Judged:
    """One control judged over every workload."""
    fails: list[Finding] = field(default_factory=list)
    expected: list[Evidence] = field(default_factory=list)       # control-plane static pods, by design
    expected_targets: list[Target] = field(default_factory=list)
    passing: list[Target] = field(default_factory=list)           # no violation at all
    per_ns: dict[str | None, int] = field(default_factory=dict)   # FAILs per namespace
    examined: int = 0


def _violation_findings(facts: Facts, wl: WorkloadIndex, control: str) -> _Judged:
    """FAIL per workload violating `control`; expected static-pod items; the passing ones."""
    out = _Judged()
    relax_seccomp = _seccomp_default_nodes(facts) if control == "seccomp" else None
    for t in wl.targets:
        out.examined += 1
        items = wl.violations(t, control)
        if items and relax_seccomp is not None:
            items = _apply_seccomp_default(t, items, *relax_seccomp)
        if not items:
            out.passing.append(t.target())
            continue
        if t.static_component and control in EXPECTED_FOR_CONTROL_PLANE:
            out.expected.extend(Evidence(t.label(), text, "control-plane static pod",
                                         note=f"expected for {t.static_component} (docs/section5.md)")
                                for text in list(items)[:3])
            out.expected_targets.append(t.target())
            continue
        out.per_ns[t.namespace] = out.per_ns.get(t.namespace, 0) + 1
        ev = [Evidence(text, "violation", where_seen(wheres), expected=f"no {CONTROL_TEXT[control]}")
              for text, wheres in items.items()]
        first = next(iter(items))
        out.fails.append(Finding(Status.FAIL, t.target(),
                                 f"{t.label()} ({t.running()} running pod(s)): {first}"
                                 + (f" (+{len(items) - 1} more)" if len(items) > 1 else ""), capped(ev)))
    return out


def _passing_workloads(judged: _Judged, control: str, what_ok: str, left_out: frozenset[Target] = frozenset()
                       ) -> Finding | None:
    """The PASS naming every workload with no violation of `control` (None when none passes)."""
    passing = [t for t in judged.passing if t not in left_out]
    if not passing:
        return None
    return grouped_pass(passing, judged.examined, ("workload", "workloads"), what_ok, (
        Evidence(f"{CONTROL_TEXT[control]} in the pod template and running pods of each listed workload",
                 "none", "pods and pod templates (ownerReferences followed to the top-level workload)",
                 expected=f"no {CONTROL_TEXT[control]}"),
        Evidence("workloads examined", f"{judged.examined:,}", "pods and pod templates",
                 note=f"{len(judged.fails):,} fail, {len(judged.expected_targets):,} control-plane static pod(s) "
                      f"expected, {len(passing):,} pass"),
    ))


def _expected_line(judged: _Judged, message: str, complete: bool) -> Finding:
    """The control-plane static pods that do this by design; named as passing
    only when every pod and workload kind was collected (as the others)."""
    return Finding(Status.PASS, CLUSTER, message, capped(judged.expected),
                   passed=tuple(judged.expected_targets) if complete else ())


def _seccomp_default_nodes(facts: Facts) -> tuple[set[str], bool]:
    """Nodes whose kubelet runs with seccompDefault: true (unset profile then
    means RuntimeDefault), and whether that holds for every node."""
    on = {n for n, cfg in facts.cluster.kubelet_configz.items() if as_map(cfg).get("seccompDefault") is True}
    nodes = {n.name for n in facts.cluster.of_kind(NODE)}
    return on, bool(nodes) and nodes <= on


def _apply_seccomp_default(t: WorkloadTarget, items: dict[str, list[str]], on: set[str], everywhere: bool
                           ) -> dict[str, list[str]]:
    if not on:
        return items
    pod_nodes = {p.name: as_map(p.body.get("spec")).get("nodeName") for p in t.pods}
    out = {}
    for text, wheres in items.items():
        if "seccompProfile unset" not in text:
            out[text] = wheres
            continue
        still = [w for w in wheres if not (everywhere or (w.startswith("pod ") and pod_nodes.get(w[4:]) in on))]
        if still:
            out[text] = still
    return out


def _namespaces_with_workloads(facts: Facts, wl: WorkloadIndex) -> set[str] | None:
    """Namespaces running or templating user workloads (control-plane static
    pods are not user workloads); None when pods or workloads could not all
    be collected, so no namespace can be shown to be empty."""
    if facts.cluster.missing(*POD_KINDS):
        return None
    return {t.namespace for t in wl.targets if t.namespace and not t.static_component}


@predicate("workloads.pod_security")
def pod_security(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.2.2-5.2.12: per namespace with user workloads (the CIS remediation's
    scope), admission of params.control is blocked; every workload violating
    it today fails. Namespaces without workloads are named in one line."""
    control = params["control"]
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, (NAMESPACE, *POD_KINDS))
    adm = admission_index(facts, ctx)
    wl = workload_index(facts, ctx)
    judged_wl = _violation_findings(facts, wl, control)
    per_ns = judged_wl.per_ns
    hidden = unavailable_policy_kinds(cluster)
    exceptions_hidden = cluster.missing(KYVERNO_POLICY_EXCEPTION)
    counts = {ns: len(ts) for ns, ts in wl.by_namespace().items()}
    needed = CONTROL_LEVEL[control]
    judged = _namespaces_with_workloads(facts, wl)
    empty: list[Evidence] = []
    # Undecided namespaces, one ERROR per cause: at 1,500 namespaces the cause
    # is the same for all of them and one row per namespace said nothing more.
    kyverno_only: list[tuple[str, Evidence]] = []
    unseen: list[tuple[str, Evidence]] = []
    for ns in namespace_names(cluster):
        enforced, psa_ev, idle = adm.enforcing(ns, control)
        if judged is not None and ns not in judged:
            # the namespace's own Pod Security observation, so how its level was decided stays visible
            status = (f"no workloads; blocked by {safe(enforced[0].what, 200)}" if enforced else
                      f"no workloads; would not block {CONTROL_TEXT[control]}")
            empty.append(Evidence(psa_ev.what, psa_ev.value, psa_ev.source, psa_ev.expected,
                                  note="; ".join(n for n in (status, psa_ev.note) if n)))
            continue
        tail = f"{counts.get(ns, 0)} workload(s), {per_ns.get(ns, 0)} in violation"
        if enforced and exceptions_hidden and all(e.what.startswith("Kyverno ") for e in enforced):
            kyverno_only.append((ns, enforced[0]))
            continue
        if enforced:
            findings.append(Finding(Status.PASS, Target(NAMESPACE, ns),
                                    f"admission of {CONTROL_TEXT[control]} is blocked in {ns} by "
                                    f"{safe(enforced[0].what, 200)} ({tail})", capped(enforced + idle)))
            continue
        ev = [psa_ev, *idle,
              Evidence("Kyverno / Gatekeeper / ValidatingAdmissionPolicy rules blocking it",
                       "none enforcing here" if idle else "none found", "policy objects",
                       expected=f"at least one enforcing rule, or Pod Security Admission enforce={needed}")]
        if hidden:
            unseen.append((ns, psa_ev))
            continue
        findings.append(Finding(Status.FAIL, Target(NAMESPACE, ns),
                                f"nothing stops the admission of {CONTROL_TEXT[control]} in namespace {ns} "
                                f"(needs Pod Security enforce={needed} or an enforcing policy; {tail})", capped(ev)))
    if kyverno_only:
        reason = safe(exceptions_hidden[KYVERNO_POLICY_EXCEPTION], 300)
        findings.append(_undecided_namespaces(
            kyverno_only, lambda what: f"only Kyverno blocks {CONTROL_TEXT[control]} in {what}, and its "
            f"PolicyExceptions could not be read: {reason}"))
    if unseen:
        reason = safe("; ".join(f"{k}: {v}" for k, v in hidden.items()), 400)
        findings.append(_undecided_namespaces(
            unseen, lambda what: f"no enforcement seen in {what}, but policy objects could not be read: {reason}",
            Evidence("Kyverno / Gatekeeper / ValidatingAdmissionPolicy rules blocking it", "not decidable",
                     "policy objects", expected=f"at least one enforcing rule, or Pod Security Admission "
                     f"enforce={needed}", note="; ".join(sorted(hidden)) + " not collected")))
    if empty:
        bare = [e.what.rsplit(" ", 1)[-1] for e in empty if "would not block" in (e.note or "")]
        findings.append(Finding(Status.SKIP, CLUSTER,
                                f"{len(empty)} namespace(s) run no workloads and are not judged (CIS scopes 5.2 to "
                                f"namespaces with user workloads); {len(bare)} of them would not block "
                                f"{CONTROL_TEXT[control]}" + (f": {safe(', '.join(bare), 300)}" if bare else ""),
                                capped(empty, 60)))
    findings.extend(judged_wl.fails)
    if judged_wl.expected:
        findings.append(_expected_line(judged_wl, f"control-plane static pods do this by design "
                                       f"({CONTROL_TEXT[control]}): expected, shown for review",
                                       not cluster.missing(*POD_KINDS)))
    if not cluster.missing(*POD_KINDS):
        # the workloads judged beside their namespaces: each passing one named
        passing = _passing_workloads(judged_wl, control,
                                     f"no {CONTROL_TEXT[control]} in their pod templates or running pods")
        if passing is not None:
            findings.append(passing)
    return findings


def _undecided_namespaces(undecided: list[tuple[str, Evidence]], message: Callable[[str], str],
                          *extra: Evidence) -> Finding:
    """One cluster-wide ERROR for namespaces left undecided by one cause.

    Every namespace is named (the full list, so a trend can tell "not judged"
    from "gone"); the first ones keep their own observation of how their
    Pod Security level was decided. `message` words the cause around the
    namespaces' description."""
    names = [ns for ns, _ in undecided]
    shown = ", ".join(safe(n, 80) for n in names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
    what = (f"namespace {safe(names[0], 120)}" if len(names) == 1 else
            f"{len(names):,} namespaces with workloads ({shown})")
    listing = Evidence("namespaces not decided", f"{len(names):,}", "namespaces with workloads",
                       note=", ".join(safe(n, 253) for n in names))
    own = [ev for _, ev in undecided]
    return Finding(Status.ERROR, CLUSTER, message(what),
                   (listing, *extra, *capped(own, MAX_UNDECIDED_SHOWN)))


MAX_UNDECIDED_SHOWN = 20


@predicate("workloads.policy_mechanism")
def policy_mechanism(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.2.1: at least one active (enforcing) policy control mechanism."""
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, (NAMESPACE,))
    adm = admission_index(facts, ctx)
    active = adm.any_active()
    if active:
        findings.append(Finding(Status.PASS, CLUSTER, f"{len(active)} enforcing policy control(s) found, e.g. "
                                f"{safe(active[0].what, 200)}", capped(active)))
        return findings
    hidden = unavailable_policy_kinds(cluster)
    ev = [Evidence("Pod Security Admission", "no namespace enforces baseline or restricted",
                   "Namespace labels", expected="enforce=baseline or restricted"),
          Evidence("Pod Security Admission cluster default", adm.default.level or "not visible",
                   adm.default.source or "kube-apiserver admission configuration", note=adm.default.note or None),
          Evidence("Kyverno / Gatekeeper / ValidatingAdmissionPolicy", "no enforcing pod rule", "policy objects")]
    unknown = unrecognised_pod_webhooks(cluster)
    if unknown:
        # CIS 5.2.1 audit: review the policy mechanisms in place; kaudit cannot read what these enforce
        findings.append(Finding(Status.WARN, CLUSTER, f"no policy control kaudit recognises enforces, but "
                                f"{len(unknown)} admission webhook(s) of an engine it does not recognise intercept "
                                "pods: review what they enforce: " + safe(", ".join(e.what for e in unknown), 300),
                                capped(unknown + ev)))
        return findings
    if cluster.missing(VALIDATING_WEBHOOK):
        hidden = {**hidden, **cluster.missing(VALIDATING_WEBHOOK)}
    if hidden:
        findings.append(Finding(Status.ERROR, CLUSTER, "no enforcing policy seen, but policy objects could not be "
                                "read: " + safe("; ".join(f"{k}: {v}" for k, v in hidden.items()), 400), tuple(ev)))
    else:
        findings.append(Finding(Status.FAIL, CLUSTER, "no active policy control mechanism: no Pod Security "
                                "enforcement and no enforcing Kyverno, Gatekeeper or ValidatingAdmissionPolicy "
                                "rule for pods", tuple(ev)))
    return findings


# Webhooks of the engines kaudit reads the policies of (Kyverno, Gatekeeper):
# their verdict comes from those policies, not from the webhook's presence.
_RECOGNISED_WEBHOOK_SUFFIXES = (".kyverno.svc", ".kyverno.svc-fail", ".kyverno.svc-ignore", ".gatekeeper.sh")


def unrecognised_pod_webhooks(cluster) -> list[Evidence]:
    """Validating admission webhooks that intercept pod creation and belong to
    no engine kaudit reads. Mutating webhooks (sidecar injectors, defaulting)
    change pods rather than judge them: they are not a policy control."""
    out = []
    for cfg in cluster.of_kind(VALIDATING_WEBHOOK):
        for hook in as_list(cfg.body.get("webhooks")):
            hook = as_map(hook)
            name = str(hook.get("name", ""))
            if any(name.endswith(sfx) for sfx in _RECOGNISED_WEBHOOK_SUFFIXES) or "kyverno" in name.split("."):
                continue
            if not any(_rule_matches_pod_create(as_map(r)) for r in as_list(hook.get("rules"))):
                continue
            svc = as_map(as_map(hook.get("clientConfig")).get("service"))
            where = f"service {svc.get('namespace')}/{svc.get('name')}" if svc else \
                str(as_map(hook.get("clientConfig")).get("url") or "no clientConfig")
            out.append(Evidence(f"{VALIDATING_WEBHOOK} {safe(cfg.name, 120)} webhook {safe(name, 120)}",
                                "intercepts pod creation", safe(where, 200),
                                note=f"failurePolicy {safe(hook.get('failurePolicy', 'Fail'), 20)}"))
    return out


def _rule_matches_pod_create(rule: Mapping[str, Any]) -> bool:
    groups = str_list(rule.get("apiGroups"))
    resources = str_list(rule.get("resources"))
    operations = str_list(rule.get("operations"))
    return (("" in groups or "*" in groups) and any(r in ("pods", "*", "*/*") for r in resources)
            and any(o in ("CREATE", "*") for o in operations))


def _workload_check(facts: Facts, ctx: Context, control: str, what_ok: str,
                    extra: Callable[[WorkloadIndex, set[Target]], list[Finding]] | None = None) -> list[Finding]:
    """FAIL per violating workload; `extra` adds findings (WARN for review)
    for the others; one PASS names every remaining workload, whenever one
    passes, and only when every pod and workload kind was collected."""
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, POD_KINDS)
    wl = workload_index(facts, ctx)
    judged = _violation_findings(facts, wl, control)
    findings.extend(judged.fails)
    more = extra(wl, {f.target for f in judged.fails}) if extra else []
    findings.extend(more)
    if judged.expected:
        findings.append(_expected_line(judged, "control-plane static pods: expected for "
                                       f"{CONTROL_TEXT[control]}, shown for review", not cluster.missing(*POD_KINDS)))
    if not cluster.missing(*POD_KINDS):
        passing = _passing_workloads(judged, control, what_ok, frozenset(f.target for f in more))
        if passing is not None:
            findings.append(passing)
        elif not judged.fails and not more and not judged.expected:
            findings.append(Finding(Status.PASS, CLUSTER, f"{judged.examined} workload(s) checked: {what_ok}",
                                    (Evidence("workloads examined", str(judged.examined), "pods and pod templates"),)))
    return findings


@predicate("workloads.secret_env")
def secret_env(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.4.1: secrets referenced from env (secretKeyRef) or envFrom (secretRef)."""
    return _workload_check(facts, ctx, "secretEnv", "none reads a Secret into environment variables")


@predicate("workloads.seccomp")
def seccomp(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.6.2: every container runs with RuntimeDefault or Localhost seccomp
    (pod or container level; unset counts as set on nodes whose kubelet has
    seccompDefault: true). A Localhost profile is a file on each node that
    the API does not show: WARN with its path, for review on the nodes."""
    return _workload_check(facts, ctx, "seccomp", "every container has a RuntimeDefault seccomp profile",
                           _localhost_seccomp_findings)


def _localhost_seccomp_findings(wl: WorkloadIndex, failed: set[Target]) -> list[Finding]:
    out = []
    for t in wl.targets:
        items = wl.violations(t, "seccompLocalhost")
        if not items or t.target() in failed:
            continue
        ev = [Evidence(text, "profile file on the node, not visible through the API", where_seen(wheres),
                       expected="a reviewed profile at this path on every node the pod can run on")
              for text, wheres in items.items()]
        profiles = sorted({text.rsplit("Localhost ", 1)[-1] for text in items})
        out.append(Finding(Status.WARN, t.target(),
                           f"{t.label()} ({t.running()} running pod(s)) uses Localhost seccomp profile(s) "
                           f"{safe(', '.join(profiles), 300)}: review the file(s) on the nodes", capped(ev)))
    return out


@predicate("workloads.security_context")
def security_context(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """5.6.3: the documented minimum security context on every container."""
    return _workload_check(facts, ctx, "securityContext", "every container has the minimum security context")


# ---------------------------------------------------------------------------
# 5.5.1 image provenance (manual: WARN with the evidence found)
# ---------------------------------------------------------------------------

_IMAGE_POLICY_KINDS = ("ClusterImagePolicy.policy.sigstore.dev", "ImagePolicy.policy.sigstore.dev",
                       "K8sAllowedRepos" + GATEKEEPER_SUFFIX, "K8sDisallowedTags" + GATEKEEPER_SUFFIX)
_IMAGE_WEBHOOK_HINTS = ("connaisseur", "policy-controller", "ratify", "kritis", "portieris", "cosign",
                        "image-policy", "imagepolicy", "sigstore")


@predicate("admission.image_provenance")
def image_provenance(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    from kaudit.rules.flags import component_instances, effective_admission_plugins

    cluster = facts.cluster
    ev: list[Evidence] = []
    instances = component_instances(facts, "kube-apiserver", ctx)
    minor = cluster.identity.minor()
    for inst in instances:
        plugins, how = effective_admission_plugins(inst, minor)
        on = "ImagePolicyWebhook" in plugins
        ev.append(Evidence("ImagePolicyWebhook admission plugin", "enabled" if on else "not enabled", inst.source,
                           expected="enabled, with an image policy backend", note=safe(how, 300)))
        cfg = inst.flags.get("admission-control-config-file")
        if on and cfg:
            ev.append(Evidence("--admission-control-config-file", safe(cfg), inst.source,
                               note="holds the ImagePolicyWebhook backend configuration; review it"))
    if not instances:
        ev.append(Evidence("ImagePolicyWebhook admission plugin", None, "kube-apiserver flags not visible",
                           note="managed control plane or no node access"))
    for key in (KYVERNO_CLUSTER_POLICY, KYVERNO_POLICY):
        for pol in cluster.of_kind(key):
            rules = [as_map(r) for r in as_list(as_map(pol.body.get("spec")).get("rules"))]
            if any(r.get("verifyImages") for r in rules):
                ev.append(Evidence(f"Kyverno {key.split('.')[0]} {pol.ref()}", "verifyImages rule", pol.origin or "api"))
    for key in _IMAGE_POLICY_KINDS:
        for obj in cluster.of_kind(key):
            ev.append(Evidence(f"{key} {obj.ref()}", "image policy object", obj.origin or "api"))
    for key in (VALIDATING_WEBHOOK, MUTATING_WEBHOOK):
        for obj in cluster.of_kind(key):
            if any(h in obj.name.lower() for h in _IMAGE_WEBHOOK_HINTS):
                ev.append(Evidence(f"{key} {safe(obj.name)}", "admission webhook that looks like an image "
                                   "verifier (by name)", obj.origin or "api"))
    found = [e for e in ev if e.value not in (None, "not enabled")]
    msg = ("image provenance controls found; confirm they enforce signed or allow-listed images: "
           + safe(", ".join(e.what for e in found[:4]), 300)) if found else \
        "no image provenance control found (ImagePolicyWebhook, Kyverno verifyImages, sigstore policy-controller, ...)"
    unseen = cluster.missing(VALIDATING_WEBHOOK, MUTATING_WEBHOOK, KYVERNO_CLUSTER_POLICY, KYVERNO_POLICY,
                             *_IMAGE_POLICY_KINDS)
    if unseen:
        # The reviewer would be judging on partial evidence: say what could not be read.
        return [Finding(Status.ERROR, CLUSTER, "the evidence is incomplete: "
                        + "; ".join(f"{k}: {why}" for k, why in unseen.items()) + f" (seen so far: {msg})",
                        capped(ev))]
    return [Finding(Status.WARN, CLUSTER, msg, capped(ev))]
