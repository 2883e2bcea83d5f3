"""Plain, typed data shared by every layer: facts in, results out.

Collectors produce `ClusterFacts` and `NodeFacts`; the engine turns them into
`Result`s; formatters render a `Report`. Nothing here does I/O.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping


class Status(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"    # a person must review; the evidence gathered is attached
    SKIP = "SKIP"    # not applicable here, with the reason
    ERROR = "ERROR"  # could not collect the evidence, with the reason
    WAIVED = "WAIVED"  # accepted risk, with owner, justification and expiry

    def __str__(self) -> str:  # so f-strings print "PASS", not "Status.PASS"
        return self.value


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Target:
    """What a result is about. Cluster-wide checks use kind "Cluster"."""
    kind: str
    name: str
    namespace: str | None = None
    node: str | None = None

    def key(self) -> str:
        """Stable identity used for trends, waivers and JUnit test names."""
        parts = [self.kind, self.namespace or "", self.name, self.node or ""]
        return "/".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name,
                "namespace": self.namespace, "node": self.node}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Target":
        return cls(kind=data["kind"], name=data["name"],
                   namespace=data.get("namespace"), node=data.get("node"))


CLUSTER = Target(kind="Cluster", name="cluster")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation: what was looked at, the value seen, where, and what was expected."""
    what: str                     # "--profiling", "mode of /etc/kubernetes/admin.conf", "ClusterRoleBinding x"
    value: str | None             # the value seen, rendered as text; None when absent
    source: str                   # "process kube-apiserver (pid 812) on node cp-1", "static pod kube-system/..."
    expected: str | None = None   # "false", "600 or more restrictive"
    note: str | None = None       # "Kubernetes default (flag absent)", "configz disagrees with the file"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"what": self.what, "value": self.value, "source": self.source}
        if self.expected is not None:
            out["expected"] = self.expected
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Evidence":
        return cls(what=data["what"], value=data.get("value"), source=data.get("source", ""),
                   expected=data.get("expected"), note=data.get("note"))


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule returns for one target; the engine adds the check's metadata."""
    status: Status
    target: Target
    message: str
    evidence: tuple[Evidence, ...] = ()
    # On a PASS that stands for many targets (target CLUSTER, "1,234 workloads
    # checked"): every target it judged passing, listed, so a report names
    # each target a check looked at and a target missing from it is gone.
    passed: tuple[Target, ...] = ()


@dataclass(frozen=True, slots=True)
class Waiver:
    check: str
    owner: str
    justification: str
    expires: str          # ISO date
    ticket: str | None = None
    selector: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {"check": self.check, "owner": self.owner, "justification": self.justification,
               "expires": self.expires, "selector": dict(self.selector)}
        if self.ticket:
            out["ticket"] = self.ticket
        return out


@dataclass(frozen=True, slots=True)
class Result:
    check: str            # CIS id, "1.2.1"
    title: str
    section: str          # "1.2"
    level: int
    cis_label: str        # "Automated" | "Manual" (as CIS labels it)
    automated: bool       # whether kaudit decides it fully
    severity: str         # critical | high | medium | low | info
    status: Status
    target: Target
    message: str
    evidence: tuple[Evidence, ...]
    remediation: str
    waiver: Waiver | None = None
    original_status: Status | None = None   # set when WAIVED
    passed: tuple[Target, ...] = ()         # see Finding.passed

    @property
    def targets_judged(self) -> int:
        """How many targets this result stands for: its passed list, or its one target."""
        return len(self.passed) or 1

    def check_info(self) -> dict[str, Any]:
        """What every result of one check shares: report.json keeps it once, in `checks`."""
        return {"title": self.title, "section": self.section, "level": self.level,
                "cis_label": self.cis_label, "automated": self.automated,
                "severity": self.severity, "remediation": self.remediation}

    def to_json(self, with_check_info: bool = True) -> dict[str, Any]:
        """One result. report.json (schema 2) writes it without the check's
        shared metadata, which it keeps once per check in `checks`."""
        out: dict[str, Any] = {"check": self.check}
        if with_check_info:
            out.update(self.check_info())
        out["status"] = self.status.value
        out["target"] = self.target.to_json()
        out["message"] = self.message
        out["evidence"] = [e.to_json() for e in self.evidence]
        if self.passed:
            out["passed_targets"] = group_targets(self.passed)
        if self.waiver is not None:
            out["waiver"] = self.waiver.to_json()
            out["original_status"] = self.original_status.value if self.original_status else None
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], check_info: Mapping[str, Any] | None = None) -> "Result":
        """A result row of either schema: 1.0 rows carry the check's metadata,
        2.0 rows take it from the report's `checks` table (`check_info`)."""
        meta = check_info if check_info is not None else data
        waiver = data.get("waiver")
        return cls(
            check=data["check"], title=meta["title"], section=meta.get("section", ""),
            level=int(meta.get("level", 1)), cis_label=meta.get("cis_label", ""),
            automated=bool(meta.get("automated", False)), severity=meta.get("severity", "medium"),
            status=Status(data["status"]), target=Target.from_json(data["target"]),
            message=data.get("message", ""),
            evidence=tuple(Evidence.from_json(e) for e in data.get("evidence", [])),
            remediation=meta.get("remediation", ""),
            waiver=Waiver(**{k: v for k, v in waiver.items()}) if waiver else None,
            original_status=Status(data["original_status"]) if data.get("original_status") else None,
            passed=ungroup_targets(data.get("passed_targets") or {}),
        )


def undecided_checks(results: Iterable[Result]) -> set[str]:
    """Checks that could not decide for the whole cluster (an ERROR on the
    Cluster target): a target such a check does not name may still exist and
    still fail, so its absence proves nothing (trend, stale waivers)."""
    return {r.check for r in results if r.status is Status.ERROR and r.target.kind == "Cluster"}


def group_targets(targets: Iterable[Target]) -> dict[str, dict[str, list[str]]]:
    """kind -> namespace ("" when cluster-scoped) -> names: a long list of
    targets written compactly (150,000-pod clusters pass hundreds of
    thousands of them). Node-bound targets are never grouped."""
    out: dict[str, dict[str, list[str]]] = {}
    for t in targets:
        if t.node is not None:
            raise ValueError(f"a node-bound target is never a grouped pass: {t.key()}")
        out.setdefault(t.kind, {}).setdefault(t.namespace or "", []).append(t.name)
    return out


def ungroup_targets(grouped: Mapping[str, Any]) -> tuple[Target, ...]:
    if not isinstance(grouped, Mapping):
        raise ValueError("passed_targets is not an object")
    out = []
    for kind, by_ns in grouped.items():
        if not isinstance(by_ns, Mapping):
            raise ValueError(f"passed_targets[{kind!r}] is not an object")
        for ns, names in by_ns.items():
            if not isinstance(names, list):
                raise ValueError(f"passed_targets[{kind!r}][{ns!r}] is not a list")
            out.extend(Target(kind=str(kind), name=str(n), namespace=ns or None) for n in names)
    return tuple(out)


# ---------------------------------------------------------------------------
# Cluster facts (from the API server or from manifest dumps)
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OwnerRef:
    kind: str
    name: str
    uid: str | None = None
    controller: bool = False


@dataclass(slots=True)
class KObject:
    """A Kubernetes object reduced to what checks read (see kaudit.collect.trim).

    `body` keeps only the fields of the object checks need (spec, rules,
    subjects, roleRef, webhooks, ...); Secret data is never kept.
    """
    kind: str               # the key used in ClusterFacts.objects, see kind_key()
    api_version: str
    name: str
    namespace: str | None
    uid: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    owners: tuple[OwnerRef, ...]
    body: dict[str, Any]
    origin: str = ""        # "api" or "path/to/file.yaml:12"

    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def kind_key(api_version: str, kind: str) -> str:
    """The key objects are filed under: the Kind, prefixed by its API group
    unless the group is one of Kubernetes' own (so Calico's NetworkPolicy and
    Kubernetes' NetworkPolicy do not collide)."""
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    if group in K8S_GROUPS:
        return kind
    return f"{kind}.{group}"


# API groups whose kinds are filed under the bare Kind.
K8S_GROUPS = frozenset({
    "", "apps", "batch", "rbac.authorization.k8s.io", "networking.k8s.io",
    "admissionregistration.k8s.io", "policy", "discovery.k8s.io", "extensions",
    "storage.k8s.io", "apiregistration.k8s.io", "certificates.k8s.io",
    "node.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
})

# Reasons ClusterFacts.missing gives for a kind the source never read.
NOT_IN_INPUT = "not in the input"
NOT_COLLECTED = "not read by the live scan"
FORBIDDEN = "forbidden"     # how every 403 reason starts ("forbidden: needs list on pods")


def kind_group(key: str) -> str | None:
    """The API group of a kind key; None for Kubernetes' own groups (filed
    under the bare Kind, see kind_key)."""
    return key.split(".", 1)[1] if "." in key else None


# Well-known kind keys, so predicates do not spell them by hand.
NAMESPACE = "Namespace"
NODE = "Node"
POD = "Pod"
SERVICE = "Service"
SERVICE_ACCOUNT = "ServiceAccount"
CONFIG_MAP = "ConfigMap"
ROLE = "Role"
CLUSTER_ROLE = "ClusterRole"
ROLE_BINDING = "RoleBinding"
CLUSTER_ROLE_BINDING = "ClusterRoleBinding"
NETWORK_POLICY = "NetworkPolicy"
DEPLOYMENT = "Deployment"
STATEFUL_SET = "StatefulSet"
DAEMON_SET = "DaemonSet"
REPLICA_SET = "ReplicaSet"
JOB = "Job"
CRON_JOB = "CronJob"
REPLICATION_CONTROLLER = "ReplicationController"
WORKLOAD_KINDS = (DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, JOB, CRON_JOB,
                  REPLICATION_CONTROLLER)
VALIDATING_WEBHOOK = "ValidatingWebhookConfiguration"
MUTATING_WEBHOOK = "MutatingWebhookConfiguration"
VALIDATING_ADMISSION_POLICY = "ValidatingAdmissionPolicy"
VALIDATING_ADMISSION_POLICY_BINDING = "ValidatingAdmissionPolicyBinding"
CILIUM_NETWORK_POLICY = "CiliumNetworkPolicy.cilium.io"
CILIUM_CLUSTERWIDE_NETWORK_POLICY = "CiliumClusterwideNetworkPolicy.cilium.io"
CALICO_NETWORK_POLICY = "NetworkPolicy.crd.projectcalico.org"
CALICO_GLOBAL_NETWORK_POLICY = "GlobalNetworkPolicy.crd.projectcalico.org"
CALICO_NETWORK_POLICY_V3 = "NetworkPolicy.projectcalico.org"
CALICO_GLOBAL_NETWORK_POLICY_V3 = "GlobalNetworkPolicy.projectcalico.org"


@dataclass(slots=True)
class ClusterIdentity:
    name: str | None = None          # kubeconfig context / cluster name, or the manifest source
    api_server: str | None = None
    version: str | None = None       # gitVersion, "v1.30.2"
    platform: str | None = None      # kubeadm | k3s | rke2 | eks | gke | aks | openshift | unknown
    cluster_id: str | None = None    # kube-system namespace UID
    node_count: int | None = None
    managed_control_plane: bool = False

    def minor(self) -> int | None:
        """Kubernetes minor version (30 for v1.30.2), or None when unknown."""
        if not self.version:
            return None
        v = self.version.lstrip("v").split(".")
        try:
            return int("".join(ch for ch in v[1] if ch.isdigit()))
        except (IndexError, ValueError):
            return None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "api_server": self.api_server, "version": self.version,
                "platform": self.platform, "cluster_id": self.cluster_id,
                "node_count": self.node_count, "managed_control_plane": self.managed_control_plane}


@dataclass(slots=True)
class ClusterFacts:
    identity: ClusterIdentity = field(default_factory=ClusterIdentity)
    objects: dict[str, list[KObject]] = field(default_factory=dict)
    # kind key -> why it could not be collected ("forbidden: needs list on clusterroles.rbac.authorization.k8s.io")
    unavailable: dict[str, str] = field(default_factory=dict)
    # node name -> live kubelet config (the "kubeletconfig" object of /configz)
    kubelet_configz: dict[str, dict[str, Any]] = field(default_factory=dict)
    # node name -> why configz could not be read
    configz_errors: dict[str, str] = field(default_factory=dict)
    # API server admission configuration, when visible (for PodSecurity defaults)
    source: str = "none"             # "api" | "manifests" | "demo" | "none"
    load_errors: list[str] = field(default_factory=list)   # malformed documents skipped, with file:line
    # The collection record (docs/facts.md): what the source really read.
    # `listed`: the kinds read completely, empty ones included. None means the
    # facts say nothing about it (built in code, the demo): every kind not in
    # `unavailable` then counts as read.
    listed: set[str] | None = None
    # The API groups the cluster serves as far as the source knows (None:
    # unknown). A kind of another group does not exist there, so it is not
    # missing. `groups_assumed`: derived from a dump's contents, not discovery.
    groups: set[str] | None = None
    groups_assumed: bool = False
    # Groups whose every kind the source listed (Gatekeeper's constraints):
    # a kind of them that was not listed does not exist.
    enumerated_groups: set[str] = field(default_factory=set)
    # Filled while checks run: the kinds checks needed that were not collected
    # (kind -> reason), and those taken as not installed on an assumption.
    needed_missing: dict[str, str] = field(default_factory=dict)
    assumed_absent: set[str] = field(default_factory=set)
    evidence_bundle: str | None = None   # read back from an evidence bundle: which one (kaudit.collect.evidence)
    operator: str | None = None      # who ran the scan, as the API server sees it (kaudit.attribution)
    image: str | None = None         # kaudit's own image digest, when it runs in a pod

    def of_kind(self, kind: str) -> list[KObject]:
        return self.objects.get(kind, [])

    def add(self, obj: KObject) -> None:
        self.objects.setdefault(obj.kind, []).append(obj)

    def missing(self, *kinds: str) -> dict[str, str]:
        """The kinds among `kinds` that were not collected, with the reason.

        This is the one rule every check goes through: a kind is missing when
        the source failed or was denied (`unavailable`), or when it never read
        it (`listed`) although its API group exists. Each answer is remembered
        so the report can say which needed data was missing."""
        out: dict[str, str] = {}
        for k in kinds:
            why = self.unavailable.get(k)
            if why is None and self.listed is not None and k not in self.listed:
                group = kind_group(k)
                if group is None or ((self.groups is None or group in self.groups)
                                     and group not in self.enumerated_groups):
                    why = NOT_IN_INPUT if self.source in ("manifests", "demo") else NOT_COLLECTED
                elif self.groups_assumed:
                    self.assumed_absent.add(k)
            if why is not None:
                out[k] = why
                self.needed_missing.setdefault(k, why)
        return out

    def denied(self) -> dict[str, str]:
        """The unavailable kinds the API server refused (403), with the reason."""
        return {k: v for k, v in self.unavailable.items() if v.startswith(FORBIDDEN)}

    def failed(self) -> dict[str, str]:
        """The unavailable kinds whose read failed for another reason."""
        return {k: v for k, v in self.unavailable.items() if not v.startswith(FORBIDDEN)}

    def iter_all(self) -> Iterator[KObject]:
        for objs in self.objects.values():
            yield from objs


# ---------------------------------------------------------------------------
# Node facts (from the node collector, over ssh / daemonset / local)
# ---------------------------------------------------------------------------

NODEFACTS_SCHEMA = "kaudit.nodefacts/v1"
# The error the record parser adds when the collector's output has no END
# record, and the start of the collector's error for a directory it could not list.
CUT_SHORT_ERROR = "collector output ended early (no END record): facts are incomplete"
UNLISTED_PREFIX = "cannot list "


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    pid: int
    argv: tuple[str, ...]
    env: Mapping[str, str] | None = None    # only ETCD_* etc.; None when unreadable
    env_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pid": self.pid, "argv": list(self.argv)}
        if self.env is not None:
            out["env"] = dict(self.env)
        if self.env_error:
            out["env_error"] = self.env_error
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ProcessInfo":
        env = data.get("env")
        return cls(pid=int(data["pid"]), argv=tuple(str(a) for a in data["argv"]),
                   env=dict(env) if env is not None else None, env_error=data.get("env_error"))


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    exists: bool
    type: str | None = None     # "file" | "dir" | "symlink" | "other"
    mode: int | None = None     # permission bits only (0o644)
    uid: int | None = None
    gid: int | None = None
    user: str | None = None
    group: str | None = None
    error: str | None = None    # could not stat it: the reason

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"exists": self.exists}
        for name in ("type", "uid", "gid", "user", "group", "error"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.mode is not None:
            out["mode"] = format(self.mode, "04o")
        return out

    @classmethod
    def from_json(cls, path: str, data: Mapping[str, Any]) -> "FileInfo":
        mode = data.get("mode")
        return cls(path=path, exists=bool(data.get("exists")), type=data.get("type"),
                   mode=int(mode, 8) if isinstance(mode, str) else mode,
                   uid=data.get("uid"), gid=data.get("gid"), user=data.get("user"),
                   group=data.get("group"), error=data.get("error"))


@dataclass(slots=True)
class NodeFacts:
    """What one host showed. `unreachable` set means nothing else could be read."""
    name: str
    roles: tuple[str, ...] = ()
    hostname: str | None = None
    transport: str = "unknown"       # ssh | daemonset | local | saved
    collected_at: str | None = None
    collector_version: str | None = None
    processes: tuple[ProcessInfo, ...] = ()
    files: dict[str, FileInfo] = field(default_factory=dict)
    contents: dict[str, str] = field(default_factory=dict)        # config files checks parse
    content_errors: dict[str, str] = field(default_factory=dict)  # path -> why its contents were not read
    # directory -> why its listing is missing or incomplete (permission denied, file limit)
    list_errors: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unreachable: str | None = None

    def file(self, path: str) -> FileInfo | None:
        return self.files.get(path)

    @property
    def cut_short(self) -> bool:
        """The collector's output ended early: what is absent was not seen."""
        return CUT_SHORT_ERROR in self.errors

    def listing_error(self, directory: str) -> str | None:
        """Why the collector could not list `directory`, when it said so."""
        prefix = f"{UNLISTED_PREFIX}{directory.rstrip('/')}:"
        return next((e for e in self.errors if e.startswith(prefix)), None)

    def files_under(self, directory: str) -> list[FileInfo]:
        prefix = directory.rstrip("/") + "/"
        return [f for p, f in sorted(self.files.items()) if p.startswith(prefix)]

    def listing_errors_under(self, directory: str) -> list[tuple[str, str]]:
        """(directory, why) for `directory` and every directory below it whose
        listing the collector could not produce whole."""
        prefix = directory.rstrip("/") + "/"
        return [(d, why) for d, why in sorted(self.list_errors.items())
                if d == directory.rstrip("/") or d.startswith(prefix)]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": NODEFACTS_SCHEMA,
            "name": self.name,
            "roles": list(self.roles),
            "hostname": self.hostname,
            "transport": self.transport,
            "collected_at": self.collected_at,
            "collector_version": self.collector_version,
            "processes": [p.to_json() for p in self.processes],
            "files": {p: f.to_json() for p, f in sorted(self.files.items())},
            "contents": dict(sorted(self.contents.items())),
            "content_errors": dict(sorted(self.content_errors.items())),
            "list_errors": dict(sorted(self.list_errors.items())),
            "errors": list(self.errors),
            "unreachable": self.unreachable,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "NodeFacts":
        schema = data.get("schema")
        if schema != NODEFACTS_SCHEMA:
            raise ValueError(f"unsupported NodeFacts schema {schema!r} (expected {NODEFACTS_SCHEMA})")
        if not isinstance(data.get("name"), str) or not data["name"]:
            raise ValueError("NodeFacts has no node name")
        return cls(
            name=data["name"],
            roles=tuple(data.get("roles") or ()),
            hostname=data.get("hostname"),
            transport=data.get("transport") or "saved",
            collected_at=data.get("collected_at"),
            collector_version=data.get("collector_version"),
            processes=tuple(ProcessInfo.from_json(p) for p in data.get("processes") or ()),
            files={p: FileInfo.from_json(p, f) for p, f in (data.get("files") or {}).items()},
            contents=dict(data.get("contents") or {}),
            content_errors=dict(data.get("content_errors") or {}),
            list_errors=dict(data.get("list_errors") or {}),
            errors=list(data.get("errors") or ()),
            unreachable=data.get("unreachable"),
        )


@dataclass(slots=True)
class Facts:
    """Everything one scan saw: the input of the pure engine."""
    cluster: ClusterFacts = field(default_factory=ClusterFacts)
    nodes: list[NodeFacts] = field(default_factory=list)
    node_access: str = "none"        # none | ssh | daemonset | local | saved

    def node(self, name: str) -> NodeFacts | None:
        for n in self.nodes:
            if n.name == name:
                return n
        return None


# ---------------------------------------------------------------------------
# Report: the source of truth every formatter renders from
# ---------------------------------------------------------------------------

REPORT_SCHEMA_VERSION = "2.0"


@dataclass(slots=True)
class ScanInfo:
    started: str                       # ISO 8601 UTC
    finished: str
    benchmark: str                     # "cis-1.12"
    benchmark_title: str
    benchmark_version: str
    cluster: ClusterIdentity
    source: str                        # api | manifests | demo
    node_access: str                   # none | ssh | daemonset | local | saved
    nodes_inspected: list[str] = field(default_factory=list)
    nodes_unreachable: dict[str, str] = field(default_factory=dict)
    nodes_not_inspected: int = 0       # Node objects nothing was collected from (e.g. --nodes none)
    complete: bool = True              # False when interrupted or a source failed wholesale
    incomplete_reasons: list[str] = field(default_factory=list)
    collection_errors: list[str] = field(default_factory=list)   # kinds unavailable, load errors, configz errors
    evidence_sources: list[str] = field(default_factory=list)
    # Who ran it, how, with what (kaudit.attribution); "unknown" in reports older than these fields.
    operator: str = "unknown"          # SelfSubjectReview username, else "<user> (kubeconfig user)"
    command_line: list[str] = field(default_factory=list)   # secrets redacted
    image: str = "unknown"             # kaudit's image digest when it ran in a pod
    catalog_sha256: str = "unknown"    # the checks' YAML that judged this scan

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started, "finished": self.finished,
            "benchmark": self.benchmark, "benchmark_title": self.benchmark_title,
            "benchmark_version": self.benchmark_version,
            "cluster": self.cluster.to_json(), "source": self.source,
            "node_access": self.node_access, "nodes_inspected": list(self.nodes_inspected),
            "nodes_unreachable": dict(self.nodes_unreachable),
            "nodes_not_inspected": self.nodes_not_inspected, "complete": self.complete,
            "incomplete_reasons": list(self.incomplete_reasons),
            "collection_errors": list(self.collection_errors),
            "evidence_sources": list(self.evidence_sources),
            "operator": self.operator, "command_line": list(self.command_line),
            "image": self.image, "catalog_sha256": self.catalog_sha256,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ScanInfo":
        c = data.get("cluster") or {}
        return cls(
            started=data.get("started", ""), finished=data.get("finished", ""),
            benchmark=data.get("benchmark", ""), benchmark_title=data.get("benchmark_title", ""),
            benchmark_version=data.get("benchmark_version", ""),
            cluster=ClusterIdentity(**{k: c.get(k) for k in (
                "name", "api_server", "version", "platform", "cluster_id", "node_count")},
                managed_control_plane=bool(c.get("managed_control_plane"))),
            source=data.get("source", ""), node_access=data.get("node_access", ""),
            nodes_inspected=list(data.get("nodes_inspected") or ()),
            nodes_unreachable=dict(data.get("nodes_unreachable") or {}),
            nodes_not_inspected=int(data.get("nodes_not_inspected") or 0),
            complete=bool(data.get("complete", True)),
            incomplete_reasons=list(data.get("incomplete_reasons") or ()),
            collection_errors=list(data.get("collection_errors") or ()),
            evidence_sources=list(data.get("evidence_sources") or ()),
            operator=str(data.get("operator") or "unknown"),
            command_line=[str(a) for a in data.get("command_line") or ()],
            image=str(data.get("image") or "unknown"),
            catalog_sha256=str(data.get("catalog_sha256") or "unknown"),
        )


@dataclass(slots=True)
class Report:
    tool: dict[str, str]               # {"name": "kaudit", "version": "0.1.0"}
    scan: ScanInfo
    results: list[Result]
    waivers: dict[str, Any] = field(default_factory=dict)   # applied, expired, stale, unconfirmed: report/waivers.py
    schema_version: str = REPORT_SCHEMA_VERSION

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def benchmark_score(self):
        """The score CIS would give (kaudit.score): by recommendation, Automated apart."""
        from kaudit.score import benchmark_score
        return benchmark_score(self.results, self.scan.complete, self.scan.incomplete_reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool": dict(self.tool),
            "scan": self.scan.to_json(),
            "summary": self.counts(),
            "score": self.benchmark_score().to_json(),
            "waivers": self.waivers,
            "checks": self.checks_table(),
            "results": [r.to_json(with_check_info=False) for r in self.results],
        }

    def checks_table(self) -> dict[str, dict[str, Any]]:
        """check id -> the metadata its results share, in the order checks first appear."""
        table: dict[str, dict[str, Any]] = {}
        for r in self.results:
            if r.check not in table:
                table[r.check] = r.check_info()
        return table

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Report":
        if "results" not in data or "scan" not in data:
            raise ValueError("not a kaudit report.json (no scan/results)")
        reader = result_reader(data)
        return cls(tool=dict(data.get("tool") or {}), scan=ScanInfo.from_json(data["scan"]),
                   results=[reader(r) for r in data["results"]],
                   waivers=dict(data.get("waivers") or {}),
                   schema_version=str(data.get("schema_version", REPORT_SCHEMA_VERSION)))


def result_reader(members: Mapping[str, Any]):
    """Result.from_json for the rows of a report whose top-level members
    (everything but `results`) are `members`: schema 2.0 rows take their
    check's metadata from `checks`; 1.0 rows carry it themselves."""
    checks = members.get("checks")
    if checks is None:
        return Result.from_json
    if not isinstance(checks, Mapping):
        raise ValueError("`checks` is not an object")

    def read(row: Mapping[str, Any]) -> Result:
        info = checks.get(row["check"])
        if not isinstance(info, Mapping):
            raise ValueError(f"result of check {row['check']!r} has no entry in `checks`")
        return Result.from_json(row, info)
    return read
