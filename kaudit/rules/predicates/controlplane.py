"""Control-plane recommendations that need more than one flag: encryption at
rest (1.2.27/1.2.28), the etcd CA (2.7), how users authenticate (3.1.x) and
the audit policy (3.2.x).

Config files named by a flag are read from node access (NodeFacts.contents).
A static pod's paths are container paths; kubeadm mounts them at the same
host paths, which is where the collector reads them.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from kaudit import components as comp
from kaudit.catalog import Check
from kaudit.model import (CLUSTER_ROLE_BINDING, ROLE_BINDING, Evidence, Facts, Finding,
                          Status)
from kaudit.rules.flags import (ComponentInstance, argv_unknown_finding, component_instances, effective_flag,
                                no_instance_finding)
from kaudit.rules.nodefiles import node_yaml
from kaudit.rules.predicates import Context, predicate
from kaudit.rules.predicates._audit_policy import LEVELS, compile_rules, levels_for

# The providers the CIS text of 1.2.28 lists; aesgcm is not among them (its
# keys must be rotated every 200k writes, which the API server never does).
STRONG_PROVIDERS = ("kms", "aescbc", "secretbox")


def _apiservers(facts: Facts, ctx: Context) -> list[ComponentInstance] | Finding:
    # (A managed control plane never gets here: the engine skips sections 1-3.)
    instances = component_instances(facts, comp.APISERVER, ctx)
    return instances or no_instance_finding(facts, comp.APISERVER)


def _file_contents(inst: ComponentInstance, path: str, facts: Facts) -> tuple[Any, str | None]:
    """(parsed YAML, None) or (None, why it is not available)."""
    return node_yaml(inst.node_facts or (facts.node(inst.node) if inst.node else None), path, inst.node)


@predicate("controlplane.encryption_at_rest")
def encryption_at_rest(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    instances = _apiservers(facts, ctx)
    if isinstance(instances, Finding):
        yield instances
        return
    part = params.get("part", "flag")
    for inst in instances:
        if inst.argv_error:
            yield argv_unknown_finding(inst)
            continue
        path = inst.flags.get("encryption-provider-config")
        flag_ev = Evidence("--encryption-provider-config", path, inst.source, expected="set")
        if not path:
            yield Finding(Status.FAIL, inst.target,
                          "--encryption-provider-config is not set: Secrets are stored unencrypted in etcd",
                          (flag_ev,))
            continue
        config, why = _file_contents(inst, path, facts)
        if part == "flag":
            if config is None:
                yield Finding(Status.PASS, inst.target,
                              f"--encryption-provider-config is set ({path}); its contents were not read: {why}",
                              (flag_ev,))
            else:
                yield Finding(Status.PASS, inst.target, f"--encryption-provider-config is set ({path})",
                              (flag_ev, *_provider_evidence(config, path, inst)))
            continue
        if config is None:
            yield Finding(Status.ERROR, inst.target, f"cannot judge the encryption providers: {why}", (flag_ev,))
            continue
        yield _judge_providers(config, path, inst, flag_ev)


def secrets_providers(config: Any) -> list[str] | None:
    if not isinstance(config, Mapping):
        return None
    for entry in config.get("resources") or ():
        if not isinstance(entry, Mapping):
            continue
        resources = [str(r) for r in entry.get("resources") or ()]
        if any(r in ("secrets", "*.*", "*.") or r == "secrets." for r in resources):
            names = []
            for p in entry.get("providers") or ():
                if isinstance(p, Mapping) and p:
                    names.append(next(iter(p)))
            return names
    return []


def _provider_evidence(config: Any, path: str, inst: ComponentInstance) -> list[Evidence]:
    providers = secrets_providers(config)
    return [Evidence(f"providers for secrets in {path}", ",".join(providers or []) or None, inst.source,
                     expected=f"first provider one of {', '.join(STRONG_PROVIDERS)}")]


def _judge_providers(config: Any, path: str, inst: ComponentInstance, flag_ev: Evidence) -> Finding:
    providers = secrets_providers(config)
    evidence = (flag_ev, *_provider_evidence(config, path, inst))
    if providers is None:
        return Finding(Status.ERROR, inst.target, f"{path} is not an EncryptionConfiguration", evidence)
    if not providers:
        return Finding(Status.FAIL, inst.target, f"{path} does not configure encryption for secrets", evidence)
    first = providers[0]
    if first in STRONG_PROVIDERS:
        return Finding(Status.PASS, inst.target, f"secrets are encrypted with {first} (first provider)", evidence)
    if first == "aesgcm":
        return Finding(Status.FAIL, inst.target,
                       "secrets are encrypted with aesgcm, which CIS 1.2.28 does not accept (only aescbc, kms or "
                       "secretbox): AES-GCM with a static key is only safe if the key is rotated every 200k "
                       "writes, and Kubernetes does not rotate it", evidence)
    return Finding(Status.FAIL, inst.target,
                   f"the first provider for secrets is {first}: new Secrets are written without encryption", evidence)


@predicate("controlplane.etcd_unique_ca")
def etcd_unique_ca(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    etcds = component_instances(facts, comp.ETCD, ctx)
    if not etcds:
        yield no_instance_finding(facts, comp.ETCD)
        return
    apis = component_instances(facts, comp.APISERVER, ctx)
    cluster_cas = {i.flags.get("client-ca-file") for i in apis if i.flags.get("client-ca-file")}
    for inst in etcds:
        fv = effective_flag(inst, "trusted-ca-file", None)
        trusted = fv.value
        ev = [Evidence(fv.name, trusted, inst.source, expected="a CA used only by etcd", note=fv.note)]
        if fv.origin == "unknown":
            yield Finding(Status.ERROR, inst.target, f"could not be determined: {fv.note}", tuple(ev))
            continue
        for api in apis:
            ev.append(Evidence("kube-apiserver --client-ca-file", api.flags.get("client-ca-file"), api.source))
        if not trusted:
            yield Finding(Status.FAIL, inst.target, "etcd has no --trusted-ca-file: client certificates are not "
                          "verified against any CA", tuple(ev))
        elif trusted in cluster_cas:
            yield Finding(Status.FAIL, inst.target, f"etcd trusts {trusted}, the same CA file the API server "
                          "trusts for all clients", tuple(ev))
        elif not apis:
            yield Finding(Status.WARN, inst.target, f"etcd trusts {trusted}; the API server's client CA is not "
                          "visible to compare", tuple(ev))
        else:
            yield Finding(Status.WARN, inst.target, f"etcd trusts {trusted}, a different file from the cluster "
                          "client CA; confirm the two files hold different CAs (kaudit does not read certificates)",
                          tuple(ev))


def _subjects(facts: Facts, kind: str) -> list[tuple[str, str]]:
    """(subject name, binding) for every RBAC binding subject of `kind`."""
    out = []
    for bkind in (CLUSTER_ROLE_BINDING, ROLE_BINDING):
        for b in facts.cluster.of_kind(bkind):
            for s in b.body.get("subjects") or ():
                if isinstance(s, Mapping) and s.get("kind") == kind:
                    out.append((str(s.get("name")), f"{bkind} {b.ref()} -> {(b.body.get('roleRef') or {}).get('name')}"))
    return out


@predicate("controlplane.user_authentication")
def user_authentication(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    instances = _apiservers(facts, ctx)
    if isinstance(instances, Finding):
        yield instances
        return
    method = params["method"]
    users = [(n, b) for n, b in _subjects(facts, "User") if not n.startswith("system:")]
    user_ev = [Evidence("RBAC binding of User", n, b) for n, b in users[:10]]
    if len(users) > 10:
        user_ev.append(Evidence("more User bindings", str(len(users) - 10), "RBAC"))
    for inst in instances:
        if inst.argv_error:
            yield argv_unknown_finding(inst)
            continue
        oidc = inst.flags.get("oidc-issuer-url") or inst.flags.get("authentication-config")
        oidc_ev = Evidence("--oidc-issuer-url / --authentication-config", oidc, inst.source,
                           note="an external identity provider for people")
        if method == "client_certificates":
            ca = inst.flags.get("client-ca-file")
            ev = (Evidence("--client-ca-file", ca, inst.source), oidc_ev, *user_ev)
            if not ca:
                yield Finding(Status.PASS, inst.target, "client certificate authentication is not enabled", ev)
            else:
                yield Finding(Status.WARN, inst.target,
                              f"client certificates are accepted (--client-ca-file={ca}); the API cannot show "
                              f"whether people hold them: review how users authenticate"
                              + ("" if oidc else "; no OIDC or authentication config is set, so people likely use certificates"),
                              ev)
        elif method == "service_account_tokens":
            sas = _subjects(facts, "ServiceAccount")
            ev = (oidc_ev, Evidence("RBAC bindings of service accounts", str(len(sas)), "RBAC"), *user_ev)
            yield Finding(Status.WARN, inst.target,
                          "service account tokens are always accepted; the API cannot show whether people use them. "
                          "Review that humans authenticate through an identity provider"
                          + ("" if oidc else " (none is configured on this API server)"), ev)
        elif method == "bootstrap_tokens":
            fv = effective_flag(inst, "enable-bootstrap-token-auth", facts.cluster.identity.minor())
            bootstrappers = [(n, b) for n, b in _subjects(facts, "Group") if n.startswith("system:bootstrappers")]
            ev = (Evidence("--enable-bootstrap-token-auth", fv.value, inst.source, expected="false, or used only to join nodes",
                           note="flag absent: Kubernetes default applies" if fv.origin == "default" else None),
                  *[Evidence("binding for bootstrap tokens", n, b) for n, b in bootstrappers[:10]])
            if fv.value != "true":
                yield Finding(Status.PASS, inst.target, "bootstrap token authentication is disabled", ev)
            else:
                yield Finding(Status.WARN, inst.target,
                              "bootstrap token authentication is enabled (normal for kubeadm node joins); confirm "
                              "tokens are short-lived and bound only to node-bootstrap roles", ev)
        else:
            raise ValueError(f"unknown method {method!r}")


# --- audit policy ----------------------------------------------------------

KEY_RESOURCES = (("", "secrets", "max"), ("", "configmaps", "max"), ("authentication.k8s.io", "tokenreviews", "max"),
                 ("", "pods/exec", "min"), ("", "pods/attach", "min"), ("", "pods/portforward", "min"),
                 ("rbac.authorization.k8s.io", "clusterrolebindings", "min"),
                 ("rbac.authorization.k8s.io", "rolebindings", "min"), ("", "serviceaccounts/token", "min"))


@predicate("controlplane.audit_policy")
def audit_policy(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    instances = _apiservers(facts, ctx)
    if isinstance(instances, Finding):
        yield instances
        return
    part = params.get("part", "minimal")
    for inst in instances:
        if inst.argv_error:
            yield argv_unknown_finding(inst)
            continue
        path = inst.flags.get("audit-policy-file")
        ev = [Evidence("--audit-policy-file", path, inst.source, expected="set"),
              Evidence("--audit-log-path / --audit-webhook-config-file",
                       inst.flags.get("audit-log-path") or inst.flags.get("audit-webhook-config-file"), inst.source)]
        if not path:
            yield Finding(Status.FAIL, inst.target, "no audit policy: --audit-policy-file is not set, so nothing is audited",
                          tuple(ev))
            continue
        policy, why = _file_contents(inst, path, facts)
        if policy is None or not isinstance(policy, Mapping):
            yield Finding(Status.ERROR, inst.target, f"--audit-policy-file is set but the policy could not be read: "
                          f"{why or 'not a mapping'}", tuple(ev))
            continue
        rules = [r for r in policy.get("rules") or () if isinstance(r, Mapping)]
        levels = sorted({str(r.get("level", "None")) for r in rules})
        ev.append(Evidence(f"rules in {path}", f"{len(rules)} rule(s), levels {', '.join(levels) or 'none'}", inst.source))
        if part == "minimal":
            if not rules or levels == ["None"]:
                yield Finding(Status.FAIL, inst.target, "the audit policy has no rule that records anything", tuple(ev))
            else:
                yield Finding(Status.PASS, inst.target, f"an audit policy with {len(rules)} rule(s) is in use", tuple(ev))
            continue
        problems, notes = [], []
        compiled = compile_rules(policy)
        for group, resource, kind in KEY_RESOURCES:
            by_level = levels_for(compiled, group, resource)
            shown = f"{group + '/' if group else ''}{resource}"
            seen = [lv for lv in reversed(LEVELS) if lv in by_level]
            for lv in seen:
                narrowed = by_level[lv].describe()
                who = f" for requests with {narrowed}" if narrowed else ""
                if kind == "max" and lv in ("Request", "RequestResponse"):
                    problems.append(f"{shown} logged at {lv}{who} (their contents end up in the audit log)")
                elif lv == "None" and len(seen) > 1:
                    notes.append(f"{shown} not logged{who}")
            if seen == ["None"]:
                (problems if resource in ("secrets", "pods/exec") else notes).append(f"{shown} not logged")
            ev.append(Evidence(f"audit level for {shown}", " or ".join(seen), path,
                               expected="Metadata" if kind == "max" else "Metadata or more",
                               note="; ".join(f"{lv}: {by_level[lv].describe() or 'other requests'}" for lv in seen)
                               if len(seen) > 1 else None))
        if problems:
            yield Finding(Status.FAIL, inst.target, "; ".join(problems), tuple(ev))
        else:
            yield Finding(Status.WARN, inst.target,
                          "key resources are audited" + (f" except: {'; '.join(notes)}" if notes else "")
                          + "; a person must judge whether the policy covers the organisation's concerns", tuple(ev))
