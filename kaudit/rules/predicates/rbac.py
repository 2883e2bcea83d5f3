"""CIS 5.1: RBAC and service accounts.

All permission questions go through one `RbacIndex` per scan
(`ctx.cached("rbac", ...)`): effective rules of every role (aggregation
included) and every binding linked to its role. Evidence is the granting
chain subject → binding → role → rule. Kubernetes' own grants are
allow-listed (see _rbac_index.ALLOW_LISTED_BINDINGS, docs/section5.md) and
always shown in a PASS line of their own, never dropped.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Iterable, Mapping

from kaudit.catalog import Check
from kaudit.model import (CLUSTER, CLUSTER_ROLE, NAMESPACE, POD, SERVICE_ACCOUNT, WORKLOAD_KINDS, Evidence,
                          Facts, Finding, Status, Target)
from kaudit.rules.predicates import Context, predicate
from kaudit.rules.predicates._common import (as_list, as_map, capped, grouped_pass, missing_kind_findings,
                                             namespace_names, safe)
from kaudit.rules.predicates._rbac_index import (ALLOW_LISTED_WILDCARD_ROLES, RBAC_KINDS, Ask, Grant, RbacIndex,
                                                 ResolvedRole, Rule, Subject, build_rbac_index)
from kaudit.rules.predicates._workload_index import WorkloadIndex, build_workload_index, where_seen

RBAC_GROUP = "rbac.authorization.k8s.io"
_ALL_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})

# Named permission sets the checks ask about (check params: `permission`).
PERMISSIONS: Mapping[str, tuple[str, tuple[Ask, ...]]] = {
    "secrets_read": ("get, list or watch Secrets", (Ask(frozenset({"get", "list", "watch"}), "", "secrets"),)),
    # Creating a pod controller creates its pods: the controller does it
    # with its own rights, from a template the creator wrote.
    "create_pods": ("create Pods, directly or through a workload controller", (
        Ask(frozenset({"create"}), "", "pods"),
        *(Ask(frozenset({"create"}), group, resource, effect=f"creates pods through the {kind} controller")
          for group, resource, kind in (("apps", "deployments", "Deployment"), ("apps", "replicasets", "ReplicaSet"),
                                        ("apps", "statefulsets", "StatefulSet"), ("apps", "daemonsets", "DaemonSet"),
                                        ("batch", "jobs", "Job"), ("batch", "cronjobs", "CronJob"),
                                        ("", "replicationcontrollers", "ReplicationController"))),
    )),
    # pkg/registry/rbac/escalation_check.go: `escalate` is authorized with the
    # role request's own namespace (none for a ClusterRole: only a
    # ClusterRoleBinding grants it); `bind` with the namespace of the binding
    # being created (a RoleBinding granting bind on clusterroles lets its
    # subjects bind any ClusterRole in that namespace).
    "bind_escalate_impersonate": ("bind or escalate roles, or impersonate", (
        Ask(frozenset({"bind", "escalate"}), RBAC_GROUP, "roles"),
        Ask(frozenset({"bind"}), RBAC_GROUP, "clusterroles"),
        Ask(frozenset({"escalate"}), RBAC_GROUP, "clusterroles", cluster_scoped=True),
        Ask(frozenset({"impersonate"}), "", "users", cluster_scoped=True),
        Ask(frozenset({"impersonate"}), "", "groups", cluster_scoped=True),
        Ask(frozenset({"impersonate"}), "", "serviceaccounts"),
        Ask(frozenset({"impersonate"}), "authentication.k8s.io", "userextras/*", cluster_scoped=True),
        Ask(frozenset({"impersonate"}), "authentication.k8s.io", "uids", cluster_scoped=True),
    )),
    "create_persistentvolumes": ("create PersistentVolumes", (
        Ask(frozenset({"create"}), "", "persistentvolumes", cluster_scoped=True),)),
    "nodes_proxy": ("access the nodes/proxy subresource (the kubelet API)", (
        Ask(_ALL_VERBS, "", "nodes/proxy", cluster_scoped=True),)),
    "csr_approval": ("approve CertificateSigningRequests (update certificatesigningrequests/approval)", (
        Ask(frozenset({"update", "patch"}), "certificates.k8s.io", "certificatesigningrequests/approval",
            cluster_scoped=True),)),
    "webhook_configurations": ("create, update, patch or delete admission webhook configurations", (
        Ask(frozenset({"create", "update", "patch", "delete", "deletecollection"}), "admissionregistration.k8s.io",
            "validatingwebhookconfigurations", cluster_scoped=True),
        Ask(frozenset({"create", "update", "patch", "delete", "deletecollection"}), "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations", cluster_scoped=True),
    )),
    "create_serviceaccount_tokens": ("create service account tokens (serviceaccounts/token)", (
        Ask(frozenset({"create"}), "", "serviceaccounts/token"),)),
}

_BROAD_GROUPS = {"system:authenticated": "every authenticated user",
                 "system:unauthenticated": "every anonymous request",
                 "system:serviceaccounts": "every service account in the cluster"}


def _rbac_findings_start(facts: Facts) -> list[Finding]:
    """ERRORs for RBAC kinds that could not be collected, or when no RBAC
    object was seen at all (every cluster has Kubernetes' own ClusterRoles,
    so none means the source did not include them: never a PASS)."""
    cluster = facts.cluster
    out = missing_kind_findings(cluster, RBAC_KINDS, why="RBAC objects are needed to resolve permissions")
    if not out and not cluster.of_kind(CLUSTER_ROLE) and not cluster.of_kind("ClusterRoleBinding"):
        out.append(Finding(Status.ERROR, CLUSTER, "no ClusterRole or ClusterRoleBinding was collected, so "
                           "permissions cannot be resolved (the source holds no RBAC objects)",
                           (Evidence("ClusterRoles", "0", "collected objects", expected="Kubernetes' own roles at least"),)))
    return out


def _rbac_complete(findings: list[Finding]) -> bool:
    return not any(f.status == Status.ERROR and f.target == CLUSTER for f in findings)


def rbac_index(facts: Facts, ctx: Context) -> RbacIndex:
    return ctx.cached("rbac", lambda: build_rbac_index(facts.cluster))


def workload_index(facts: Facts, ctx: Context) -> WorkloadIndex:
    return ctx.cached("workloads", lambda: build_workload_index(facts.cluster))


def _grant_evidence(g: Grant) -> Evidence:
    notes = [f"scope: {g.binding.scope()}"]
    if g.granted:
        notes.insert(0, "grants " + "; ".join(g.granted))
    if g.rule.declared_in != g.role.name:
        notes.append(f"rule aggregated from ClusterRole {safe(g.rule.declared_in)}")
    if g.named_only:
        notes.append("limited to the resourceNames listed")
    if g.allow_listed:
        notes.append(f"allow-listed: {g.allow_listed}")
    return Evidence(safe(g.chain(), 400), g.rule.render(), safe(g.binding.origin),
                    expected="no such grant", note="; ".join(notes))


def _allow_listed_line(allowed: list[Grant], what: str, passed: list[Target]) -> Finding:
    """`passed`: the subjects whose only grants of it are allow-listed."""
    ev = [_grant_evidence(g) for g in allowed]
    subjects = sorted({g.subject.label() for g in allowed})
    return Finding(Status.PASS, CLUSTER,
                   f"{len(subjects)} Kubernetes system subject(s) can {what} through Kubernetes' own default "
                   f"bindings (allow-listed, shown for review): {safe(', '.join(subjects), 600)}",
                   capped(ev), passed=tuple(passed))


def _distinct_targets(targets: Iterable[Target], taken: set[Target]) -> list[Target]:
    """`targets` in order, each once, leaving out those in `taken` (which grows):
    a target is judged once per check, by one row or one passed list."""
    out = []
    for t in targets:
        if t not in taken:
            taken.add(t)
            out.append(t)
    return out


@predicate("rbac.permission")
def permission(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """Every subject that holds the named permission (params.permission)."""
    what, asks = PERMISSIONS[params["permission"]]
    findings = _rbac_findings_start(facts)
    complete = _rbac_complete(findings)
    idx = rbac_index(facts, ctx)
    grants = idx.who_can(asks)
    allowed: list[Grant] = []
    allowed_only: list[Subject] = []
    failures = 0
    taken: set[Target] = set()
    for subject in sorted(grants, key=lambda s: (s.kind, s.namespace or "", s.name)):
        gs = grants[subject]
        allowed.extend(g for g in gs if g.allow_listed)
        bad = [g for g in gs if not g.allow_listed]
        if not bad:
            allowed_only.append(subject)
            continue
        failures += 1
        taken.add(subject.target())
        full = [g for g in bad if not g.named_only]
        status = Status.FAIL if full else Status.WARN
        who = _BROAD_GROUPS.get(subject.name) if subject.kind == "Group" else None
        msg = f"{subject.label()} can {what}"
        if who:
            msg += f" — that is {who}"
        msg += f" via {len({id(g.binding) for g in bad})} binding(s)"
        if not full:
            msg += "; only for the named objects listed (resourceNames): review them"
        findings.append(Finding(status, subject.target(), msg, capped([_grant_evidence(g) for g in bad])))
    # With RBAC kinds missing a subject's other bindings may be unseen: nobody is listed as passing.
    system = _distinct_targets((s.target() for s in allowed_only), taken) if complete else []
    if allowed:
        findings.append(_allow_listed_line(allowed, what, system))
    if not complete:
        return findings
    # Every other subject some binding names: none of its grants gives this.
    others = _distinct_targets((s.target() for s in sorted(idx.by_subject, key=_subject_order)), taken)
    if others:
        findings.append(grouped_pass(others, len(taken), ("subject", "subjects"),
                                     f"no binding gives them permission to {what}", (
            Evidence(f"grants to {what}", "none", "RoleBindings and ClusterRoleBindings, roles resolved "
                     "(aggregation included)", expected="no such grant outside Kubernetes' own defaults"),
            Evidence("subjects named by a binding", f"{len(taken):,}", "RBAC",
                     note=f"{failures:,} can {what}; {len(system):,} only through Kubernetes' own default "
                          f"bindings (listed apart); bindings examined: {len(idx.bindings):,}"))))
    elif failures == 0:
        findings.append(Finding(Status.PASS, CLUSTER,
                                f"no subject outside Kubernetes' own defaults can {what}",
                                (Evidence("bindings examined", str(len(idx.bindings)), "RoleBindings and "
                                          "ClusterRoleBindings"),)))
    return findings


def _subject_order(s: Subject) -> tuple[str, str, str]:
    return (s.kind, s.namespace or "", s.name)


def _full_control_rule(role: ResolvedRole) -> Rule | None:
    """A rule granting every verb on every resource in every API group (no
    resourceNames): what cluster-admin is, whatever the role is called."""
    for r in role.rules:
        if "*" in r.verbs and "*" in r.api_groups and "*" in r.resources and not r.resource_names:
            return r
    return None


@predicate("rbac.cluster_admin")
def cluster_admin(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """Bindings (cluster-wide or namespaced) whose roleRef is the cluster-admin
    ClusterRole, and ClusterRoleBindings to any role that is cluster-admin in
    all but name (`*` verbs on `*` resources in `*` groups, aggregation included)."""
    findings = _rbac_findings_start(facts)
    complete = _rbac_complete(findings)
    idx = rbac_index(facts, ctx)
    from kaudit.rules.predicates._rbac_index import allow_listed_grant
    allowed: list[Evidence] = []
    bad_count = 0
    taken: set[Target] = set()
    plain: list[Target] = []        # bindings that grant no cluster-admin at all
    system: list[Target] = []       # bindings whose cluster-admin grants are all allow-listed
    for b in idx.bindings:
        equivalent = None
        if b.role_kind != CLUSTER_ROLE or b.role_name != "cluster-admin":
            role = idx.role_for(b)
            if b.kind != "ClusterRoleBinding" or role is None:
                plain.append(Target(b.kind, b.name, b.namespace))
                continue
            equivalent = _full_control_rule(role)
            if equivalent is None:
                plain.append(Target(b.kind, b.name, b.namespace))
                continue
        role_label = f"{b.role_kind} {b.role_name}"
        ev = []
        for s in b.subjects:
            why = allow_listed_grant(b, s)
            note = f"allow-listed: {why}" if why else None
            if equivalent is not None:
                note = f"cluster-admin equivalent: {equivalent.render()}" + (
                    f" (aggregated from ClusterRole {safe(equivalent.declared_in)})"
                    if equivalent.declared_in != b.role_name else "")
            e = Evidence(safe(f"{s.label()} → {b.label()} → {role_label}", 400),
                         "full control of " + ("the cluster" if b.kind == "ClusterRoleBinding"
                                               else f"namespace {b.namespace}"),
                         safe(b.origin), expected="cluster-admin only where required", note=note)
            (allowed if why else ev).append(e)
        target = Target(b.kind, b.name, b.namespace)
        if not ev:
            (system if b.subjects else plain).append(target)
            continue
        bad_count += 1
        taken.add(target)
        who = safe(", ".join(e.what.split(" → ")[0] for e in ev), 400)
        if equivalent is not None:
            msg = (f"{b.label()} grants {safe(role_label)}, cluster-admin equivalent (every verb on every resource "
                   f"in every API group), to {len(ev)} subject(s): {who}")
        else:
            msg = f"{b.label()} grants cluster-admin to {len(ev)} subject(s): {who}"
        findings.append(Finding(Status.FAIL, target, msg, capped(ev)))
    # A role not collected could be cluster-admin in all but name: with RBAC
    # kinds missing no binding is listed as passing.
    system = _distinct_targets(system, taken) if complete else []
    if allowed:
        findings.append(Finding(Status.PASS, CLUSTER,
                                f"{len(allowed)} cluster-admin grant(s) are Kubernetes/kubeadm defaults "
                                "(allow-listed, shown for review)", capped(allowed), passed=tuple(system)))
    others = _distinct_targets(plain, taken) if complete else []
    if others:
        findings.append(grouped_pass(others, len(taken), ("binding", "bindings"),
                                     "none grants cluster-admin, or a role equivalent to it, to any subject", (
            Evidence("subjects each listed binding gives cluster-admin, or every verb on every resource in "
                     "every API group", "none", "RoleBindings and ClusterRoleBindings, roles resolved "
                     "(aggregation included)", expected="cluster-admin only where required"),
            Evidence("bindings examined", f"{len(idx.bindings):,}", "RBAC",
                     note=f"{bad_count:,} grant cluster-admin; {len(system):,} only to Kubernetes' own "
                          "subjects (listed apart)"))))
    elif bad_count == 0 and complete:
        findings.append(Finding(Status.PASS, CLUSTER, "cluster-admin, and any role equivalent to it, is bound only "
                                "by Kubernetes' own defaults",
                                (Evidence("bindings examined", str(len(idx.bindings)), "RBAC"),)))
    return findings


@predicate("rbac.wildcards")
def wildcards(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """Roles and ClusterRoles whose effective rules hold a wildcard."""
    findings = _rbac_findings_start(facts)
    complete = _rbac_complete(findings)
    idx = rbac_index(facts, ctx)
    bound = defaultdict(int)
    for key, bs in idx.bindings_by_role.items():
        bound[key] = len(bs)
    allowed: list[Evidence] = []
    bad = 0
    taken: set[Target] = set()
    plain: list[Target] = []        # roles without a wildcard
    system: list[Target] = []       # Kubernetes' own roles that use wildcards by design
    for key, role in sorted(idx.roles.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])):
        wild = [(r, r.wildcards()) for r in role.rules if r.wildcards()]
        target = Target(role.kind, role.name, role.namespace)
        if not wild:
            plain.append(target)
            continue
        ev = []
        for r, fields in wild:
            note = f"wildcard in {', '.join(fields)}"
            if r.declared_in != role.name:
                note += f"; aggregated from ClusterRole {safe(r.declared_in)}"
            ev.append(Evidence(safe(role.label()), r.render(), safe(role.obj.origin if role.obj else ""),
                               expected="explicit verbs, apiGroups and resources", note=note))
        if role.kind == CLUSTER_ROLE and role.name in ALLOW_LISTED_WILDCARD_ROLES:
            allowed.extend(ev)
            system.append(target)
            continue
        bad += 1
        taken.add(target)
        n = bound.get(key, 0)
        findings.append(Finding(Status.FAIL, target,
                                f"{role.label()} uses wildcards in {len(wild)} rule(s)"
                                + (f"; bound by {n} binding(s)" if n else "; not bound by any binding"),
                                capped(ev)))
    # Aggregation can add a wildcard from a role not collected: with RBAC kinds
    # missing no role is listed as passing.
    system = _distinct_targets(system, taken) if complete else []
    if allowed:
        findings.append(Finding(Status.PASS, CLUSTER,
                                "Kubernetes' own ClusterRoles that use wildcards by design (allow-listed, shown "
                                "for review)", capped(allowed), passed=tuple(system)))
    others = _distinct_targets(plain, taken) if complete else []
    if others:
        findings.append(grouped_pass(others, len(taken), ("role", "roles"),
                                     "their effective rules name verbs, apiGroups and resources explicitly", (
            Evidence("wildcards (*) in the effective rules of each listed Role and ClusterRole", "none",
                     "Roles and ClusterRoles (aggregation resolved)", expected="explicit verbs, apiGroups and resources"),
            Evidence("roles examined", f"{len(idx.roles):,}", "RBAC",
                     note=f"{bad:,} use wildcards; {len(system):,} are Kubernetes' own (listed apart)"))))
    elif bad == 0 and complete:
        findings.append(Finding(Status.PASS, CLUSTER, "no Role or ClusterRole outside Kubernetes' own uses wildcards",
                                (Evidence("roles examined", str(len(idx.roles)), "RBAC"),)))
    return findings


@predicate("rbac.system_masters")
def system_masters(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """Bindings that name the system:masters group, plus what the API cannot show."""
    findings = _rbac_findings_start(facts)
    idx = rbac_index(facts, ctx)
    from kaudit.rules.predicates._rbac_index import allow_listed_grant
    masters = Subject("Group", "system:masters")
    others: list[Target] = []
    for b in idx.bindings:
        if masters not in b.subjects:
            others.append(Target(b.kind, b.name, b.namespace))
            continue
        why = allow_listed_grant(b, masters)
        ev = (Evidence(safe(f"Group system:masters → {b.label()} → {b.role_kind} {b.role_name}", 400),
                       "binding names system:masters", safe(b.origin),
                       note=f"allow-listed: {why}" if why else None),)
        if why:
            findings.append(Finding(Status.PASS, Target(b.kind, b.name, b.namespace),
                                    f"{b.label()} is Kubernetes' own binding of system:masters (allow-listed)", ev))
        else:
            findings.append(Finding(Status.FAIL, Target(b.kind, b.name, b.namespace),
                                    f"{b.label()} names the system:masters group", ev))
    # Whether a binding names the group is read from the binding alone, but a
    # binding kind that was not collected is no binding shown to pass.
    taken = {f.target for f in findings if f.target.kind != "Cluster"}
    others = _distinct_targets(others, taken) if _rbac_complete(findings) else []
    if others:
        findings.append(grouped_pass(others, len(taken), ("binding", "bindings"),
                                     "they do not name the system:masters group", (
            Evidence("subjects of each listed binding", "no Group system:masters", "RoleBindings and "
                     "ClusterRoleBindings", expected="system:masters named only by Kubernetes' own bindings"),)))
    findings.append(Finding(
        Status.WARN, CLUSTER,
        "Members of system:masters bypass RBAC entirely and cannot be revoked by the API: any client "
        "certificate signed by the cluster CA with O=system:masters is cluster-admin until it expires. The "
        "API does not list issued certificates, so review how client certificates are issued (kubeadm "
        "admin.conf uses kubeadm:cluster-admins since v1.29; older super-admin/admin.conf files use "
        "system:masters) and keep such credentials offline.",
        (Evidence("client certificates in group system:masters", None, "not visible through the Kubernetes API",
                  expected="none in day-to-day use",
                  note="check the CA's issuance records and the kubeconfig files that hold certificates"),)))
    return findings


@predicate("rbac.default_service_accounts")
def default_service_accounts(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context
                             ) -> Iterable[Finding]:
    """Per namespace: the default ServiceAccount does not automount a token,
    holds no RBAC binding, and no workload runs with it and a mounted token."""
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, (SERVICE_ACCOUNT, NAMESPACE, *RBAC_KINDS))
    if cluster.missing(SERVICE_ACCOUNT):
        return findings
    idx = rbac_index(facts, ctx)
    wl = workload_index(facts, ctx)
    defaults = {o.namespace: o for o in cluster.of_kind(SERVICE_ACCOUNT) if o.name == "default"}
    usage = defaultdict(list)
    for t in wl.targets:
        if t.is_static:
            continue
        if t.service_account() == "default" and _token_mounted(t, defaults.get(t.namespace)):
            usage[t.namespace].append(t)
    for ns in namespace_names(cluster):
        target = Target("ServiceAccount", "default", ns)
        sa = defaults.get(ns)
        if sa is None:
            findings.append(Finding(Status.WARN, target, f"no default ServiceAccount in namespace {ns} among the "
                                    "collected objects; it could not be checked"))
            continue
        problems: list[Evidence] = []
        automount = sa.body.get("automountServiceAccountToken")
        if automount is not False:
            problems.append(Evidence("automountServiceAccountToken", "unset (true)" if automount is None
                                     else safe(automount), f"ServiceAccount {ns}/default", expected="false"))
        subject = Subject("ServiceAccount", "default", ns)
        for b in idx.bindings_of(subject):
            problems.append(Evidence(safe(f"{subject.label()} → {b.label()} → {b.role_kind} {b.role_name}", 400),
                                     "RBAC binding names the default ServiceAccount", safe(b.origin),
                                     expected="no bindings"))
        for t in usage.get(ns, []):
            problems.append(Evidence(t.label(), f"runs as the default ServiceAccount with its token mounted "
                                     f"({t.running()} running pod(s))", "workload", expected="a dedicated "
                                     "ServiceAccount, or no token"))
        if problems:
            findings.append(Finding(Status.FAIL, target, f"the default ServiceAccount of namespace {ns} is "
                                    "actively usable: " + "; ".join(sorted({p.what.split(' → ')[0] if '→' in p.what
                                                                            else p.what for p in problems}))[:300],
                                    capped(problems)))
        else:
            findings.append(Finding(Status.PASS, target, f"default ServiceAccount of {ns} does not automount a "
                                    "token and is not bound or used",
                                    (Evidence("automountServiceAccountToken", "false", f"ServiceAccount {ns}/default"),)))
    return findings


def _token_mounted(t, sa_obj) -> bool:
    return any(token_mount_reasons(spec, sa_obj) for _, spec in t.specs())


# The volume the ServiceAccount admission plugin adds when a token is automounted
# (plugin/pkg/admission/serviceaccount: "kube-api-access-" + random suffix).
_AUTOMOUNT_VOLUME_PREFIX = "kube-api-access-"
_PER_POD_VOLUME = re.compile(re.escape(_AUTOMOUNT_VOLUME_PREFIX) + r"[a-z0-9]+")


def token_mount_reasons(spec: Mapping[str, Any], sa_obj, sa_unknown: bool = False) -> list[str]:
    """Why a pod spec gets a service account token, or [] when it gets none.

    The automount setting (the pod's wins over the ServiceAccount's; default
    true) decides only the token the admission plugin adds. A projected
    volume with a `serviceAccountToken` source is a token the pod asked for
    itself: the kubelet issues it whatever automountServiceAccountToken says.
    `sa_unknown`: the pod's ServiceAccount was never collected, so whether it
    opts out is unknown; only what the pod itself says is judged."""
    reasons = []
    pod_setting = spec.get("automountServiceAccountToken")
    sa_setting = sa_obj.body.get("automountServiceAccountToken") if sa_obj is not None else None
    if pod_setting is True:
        reasons.append("pod sets automountServiceAccountToken: true")
    elif pod_setting is None and sa_setting is not False and not sa_unknown:
        reasons.append("ServiceAccount " + ("not found" if sa_obj is None else "does not set "
                       "automountServiceAccountToken: false") + " and the pod does not opt out")
    # With the ServiceAccount unseen the automounted volume may be there: not "explicit".
    automount = bool(reasons) or (sa_unknown and pod_setting is None)
    mounted_by = defaultdict(list)
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in as_list(spec.get(kind)):
            for m in as_list(as_map(c).get("volumeMounts")):
                mounted_by[as_map(m).get("name")].append(str(as_map(c).get("name", "?")))
    for v in as_list(spec.get("volumes")):
        v = as_map(v)
        name = str(v.get("name", "?"))
        sources = as_list(as_map(v.get("projected")).get("sources"))
        if not any(as_map(src).get("serviceAccountToken") is not None for src in sources):
            continue
        if automount and name.startswith(_AUTOMOUNT_VOLUME_PREFIX):
            continue      # the automounted token itself, already named
        where = (f"mounted by {safe(', '.join(mounted_by[name]), 200)}" if mounted_by.get(name)
                 else "issued to the pod by the kubelet")
        why = f"explicit projected serviceAccountToken volume {safe(name, 80)} ({where})"
        if not automount:
            why += "; automountServiceAccountToken: false does not stop it"
        reasons.append(why)
    return reasons


@predicate("rbac.token_mounts")
def token_mounts(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    """Workloads whose pods mount a service account token the service account
    has no RBAC permission to use (pod setting wins over the ServiceAccount's)."""
    cluster = facts.cluster
    findings = missing_kind_findings(cluster, (POD, SERVICE_ACCOUNT, *WORKLOAD_KINDS, *RBAC_KINDS))
    idx = rbac_index(facts, ctx)
    wl = workload_index(facts, ctx)
    sas = {(o.namespace, o.name): o for o in cluster.of_kind(SERVICE_ACCOUNT)}
    # What was never collected decides nothing (the ERRORs above say so).
    sa_unseen, rbac_unseen = bool(cluster.missing(SERVICE_ACCOUNT)), bool(cluster.missing(*RBAC_KINDS))
    bound: set[tuple[str | None, str]] = set()
    group_bound: set[str] = set()
    for b in idx.bindings:
        for s in b.subjects:
            if s.kind == "ServiceAccount":
                bound.add((s.namespace, s.name))
            elif s.kind == "Group" and s.name.startswith("system:serviceaccounts:"):
                group_bound.add(s.name.removeprefix("system:serviceaccounts:"))
    checked = 0
    failed = 0
    passing: list[Target] = []
    for t in wl.targets:
        if t.is_static:
            continue      # static pods cannot use service accounts
        checked += 1
        sa_name = t.service_account()
        sa = sas.get((t.namespace, sa_name))
        sa_unknown = sa is None and sa_unseen      # its ServiceAccount may opt out: unknown
        mounts = [(where, how) for where, spec in t.specs()
                  for how in token_mount_reasons(spec, sa, sa_unknown)]
        has_rbac = (t.namespace, sa_name) in bound or t.namespace in group_bound
        if not mounts or (sa_name != "default" and (has_rbac or rbac_unseen)):
            passing.append(t.target())
            continue
        failed += 1
        reason = ("the default ServiceAccount is not meant to be used by workloads" if sa_name == "default"
                  else f"ServiceAccount {sa_name} has no RBAC binding, so the token grants it nothing it needs")
        # One item per way the token gets there, naming where it was seen once
        # (the template and N running pods), as 5.2.x does; the admission
        # plugin's volume name differs per pod, so it does not split the item.
        ways: dict[str, tuple[str, list[str]]] = {}
        for where, how in mounts:
            ways.setdefault(_PER_POD_VOLUME.sub(_AUTOMOUNT_VOLUME_PREFIX + "*", how), (how, []))[1].append(where)
        ev = [Evidence(f"{t.label()}: {how}", "token mounted", where_seen(ws),
                       expected="no token: automountServiceAccountToken: false and no projected token volume",
                       note=None if len(ws) < 2 or how == key else "volume name differs per pod; first shown")
              for key, (how, ws) in ways.items()]
        explicit = next((how for _, how in mounts if how.startswith("explicit projected")), None)
        how_mounted = f" through an {explicit.split(' (')[0]}, despite automountServiceAccountToken: false" \
            if explicit and "does not stop it" in explicit else ""
        findings.append(Finding(Status.FAIL, t.target(), f"{t.label()} mounts a service account token{how_mounted} "
                                f"({t.running()} running pod(s)) but {reason}", capped(ev)))
    # What was not collected decides nothing: no workload is listed as passing then.
    if passing and not cluster.missing(POD, SERVICE_ACCOUNT, *WORKLOAD_KINDS, *RBAC_KINDS):
        findings.append(grouped_pass(passing, checked, ("workload", "workloads"),
                                     "none mounts a token it has no use for", (
            Evidence("service account token of each listed workload",
                     "not mounted, or its ServiceAccount (not default) holds an RBAC binding",
                     "pods and pod templates, ServiceAccounts, RoleBindings and ClusterRoleBindings",
                     expected="no token, or a dedicated ServiceAccount with RBAC permissions"),
            Evidence("workloads examined", f"{checked:,}", "pods and pod templates",
                     note=f"{failed:,} fail; static pods are not judged (they cannot use service accounts)"))))
    elif failed == 0 and not cluster.missing(POD, SERVICE_ACCOUNT, *WORKLOAD_KINDS, *RBAC_KINDS):
        findings.append(Finding(Status.PASS, CLUSTER, f"{checked} workload(s) checked: none mounts a token",
                                (Evidence("workloads examined", str(checked), "pods and pod templates"),)))
    return findings
