"""CIS 5.4.2 (manual): external secret storage. WARN with what was found:
external secret operators, the Secrets Store CSI driver, Vault injection,
sealed secrets, and KMS encryption of Secrets at rest."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from kaudit.catalog import Check
from kaudit.model import (CLUSTER, DAEMON_SET, DEPLOYMENT, MUTATING_WEBHOOK, POD, Evidence, Facts, Finding, Status)
from kaudit.rules.predicates import Context, predicate
from kaudit.rules.predicates._common import as_list, as_map, capped, safe

_SECRET_STORE_KINDS = (
    ("ExternalSecret.external-secrets.io", "External Secrets Operator ExternalSecret"),
    ("ClusterExternalSecret.external-secrets.io", "External Secrets Operator ClusterExternalSecret"),
    ("SecretStore.external-secrets.io", "External Secrets Operator SecretStore"),
    ("ClusterSecretStore.external-secrets.io", "External Secrets Operator ClusterSecretStore"),
    ("SecretProviderClass.secrets-store.csi.x-k8s.io", "Secrets Store CSI driver SecretProviderClass"),
    ("SealedSecret.bitnami.com", "Sealed Secrets (encrypted in Git; still a Kubernetes Secret in the cluster)"),
    ("VaultStaticSecret.secrets.hashicorp.com", "Vault Secrets Operator VaultStaticSecret"),
    ("VaultDynamicSecret.secrets.hashicorp.com", "Vault Secrets Operator VaultDynamicSecret"),
)
_COMPONENT_HINTS = ("external-secrets", "secrets-store-csi", "csi-secrets-store", "vault-agent-injector",
                    "vault-secrets-operator", "sealed-secrets", "secrets-store-provider")


@predicate("secrets.external_storage")
def external_storage(facts: Facts, check: Check, params: Mapping[str, Any], ctx: Context) -> Iterable[Finding]:
    cluster = facts.cluster
    ev: list[Evidence] = []
    for key, what in _SECRET_STORE_KINDS:
        objs = cluster.of_kind(key)
        if objs:
            ev.append(Evidence(what, f"{len(objs)} object(s)", key,
                               note="e.g. " + safe(", ".join(o.ref() for o in objs[:3]), 200)))
    for kind in (DEPLOYMENT, DAEMON_SET):
        for obj in cluster.of_kind(kind):
            if any(h in obj.name for h in _COMPONENT_HINTS):
                ev.append(Evidence(f"{kind} {obj.ref()}", "secret store component (by name)", obj.origin or "api"))
    for obj in cluster.of_kind(MUTATING_WEBHOOK):
        if "vault" in obj.name:
            ev.append(Evidence(f"MutatingWebhookConfiguration {safe(obj.name)}", "Vault agent injection", "api"))
    csi_pods = 0
    for pod in cluster.of_kind(POD):
        for v in as_list(as_map(pod.body.get("spec")).get("volumes")):
            if as_map(as_map(v).get("csi")).get("driver") == "secrets-store.csi.k8s.io":
                csi_pods += 1
                break
    if csi_pods:
        ev.append(Evidence("pods mounting secrets-store.csi.k8s.io volumes", str(csi_pods), "Pod volumes"))
    ev.extend(_kms_evidence(facts, ctx))
    external = [e for e in ev if not e.what.startswith("encryption")]
    msg = ("external secret storage in use: " + safe(", ".join(e.what for e in external[:4]), 300)
           + "; review which Secrets still live only in the cluster") if external else \
        "no external secret store integration found; Secrets live in etcd (review whether that is acceptable)"
    evidence = capped(ev) or (Evidence("external secret stores", "none found", "cluster objects"),)
    unseen = cluster.missing(MUTATING_WEBHOOK, DEPLOYMENT, DAEMON_SET, POD, *(k for k, _ in _SECRET_STORE_KINDS))
    if unseen:
        # The reviewer would be judging on partial evidence: say what could not be read.
        return [Finding(Status.ERROR, CLUSTER, "the evidence is incomplete: "
                        + "; ".join(f"{k}: {why}" for k, why in unseen.items()) + f" (seen so far: {msg})",
                        evidence)]
    return [Finding(Status.WARN, CLUSTER, msg, evidence)]


def _kms_evidence(facts: Facts, ctx: Context) -> list[Evidence]:
    """The API server's encryption provider for Secrets (KMS counts as external key storage)."""
    from kaudit.rules.flags import component_instances
    from kaudit.rules.nodefiles import node_yaml
    from kaudit.rules.predicates.controlplane import secrets_providers

    out = []
    for inst in component_instances(facts, "kube-apiserver", ctx):
        path = inst.flags.get("encryption-provider-config")
        if not path:
            out.append(Evidence("encryption of Secrets at rest", "no --encryption-provider-config", inst.source))
            continue
        doc, why = node_yaml(inst.node_facts, path, inst.node)
        if why:
            out.append(Evidence("encryption provider configuration", safe(path), inst.source, note=safe(why, 300)))
            continue
        providers = secrets_providers(doc) or []
        first = providers[0] if providers else "none"
        out.append(Evidence("encryption of Secrets at rest (first provider)", safe(first), f"{safe(path)} ({inst.source})",
                            note="KMS keeps the key outside the cluster" if first == "kms" else None))
    return out
