"""Workload attribution and pod-spec analysis, built once per scan.

Every running pod is attributed to its top-level owner (Pod → ReplicaSet →
Deployment, Pod → Job → CronJob, ...) by following controller
ownerReferences, so a 50-replica Deployment is one target with 50 running
pods. Workload templates are analysed too, so a workload scaled to zero or
a CronJob between runs is still judged. A pod whose owner is a Node is a
static (mirror) pod: its own target; for kube-system control-plane
components some findings are expected (docs/section5.md).

Each pod spec is analysed once (one pass over its containers) into
`Facets`: per control, the violations found. Predicates only read facets.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

from kaudit import components
from kaudit.model import (CRON_JOB, POD, WORKLOAD_KINDS, ClusterFacts, KObject, Target)
from kaudit.rules.predicates._common import as_list, as_map, safe, str_list

# The controls a pod spec is analysed for (keys of Facets).
CONTROLS = ("privileged", "hostPID", "hostIPC", "hostNetwork", "allowPrivilegeEscalation", "root",
            "netRaw", "capabilities", "hostProcess", "hostPath", "hostPorts", "secretEnv",
            "seccomp", "seccompLocalhost", "securityContext")

# What a kube-system control-plane static pod (kube-apiserver, etcd, ...) is
# expected to do: kubeadm and every distribution run them on the host
# network, with hostPath mounts of certificates and data, as root, without
# dropping capabilities. Reported as expected, never as a silent PASS.
EXPECTED_FOR_CONTROL_PLANE = frozenset({"hostNetwork", "hostPath", "hostPorts", "root",
                                        "allowPrivilegeEscalation", "netRaw", "capabilities",
                                        "securityContext"})

# Capabilities Pod Security "restricted" still lets a container add.
RESTRICTED_ADDABLE = frozenset({"NET_BIND_SERVICE"})

TERMINATED_PHASES = ("Succeeded", "Failed")

Facets = dict[str, tuple[str, ...]]
_EMPTY: tuple[str, ...] = ()


def _cap(name: Any) -> str:
    return str(name).upper().removeprefix("CAP_")


def _containers(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    out = []
    for field_name, kind in (("initContainers", "init container"), ("containers", "container"),
                             ("ephemeralContainers", "ephemeral container")):
        for c in as_list(spec.get(field_name)):
            c = as_map(c)
            out.append((f"{kind} {safe(c.get('name', '?'), 80)}", c))
    return out


def analyze_pod_spec(spec: Mapping[str, Any]) -> Facets:
    """Every control's violations in one pod spec (see module doc)."""
    found: dict[str, list[str]] = defaultdict(list)
    spec = as_map(spec)
    psc = as_map(spec.get("securityContext"))
    windows = as_map(spec.get("os")).get("name") == "windows"
    for flag in ("hostPID", "hostIPC", "hostNetwork"):
        if spec.get(flag) is True:
            found[flag].append(f"spec.{flag}: true")
    if as_map(psc.get("windowsOptions")).get("hostProcess") is True:
        found["hostProcess"].append("spec.securityContext.windowsOptions.hostProcess: true")
    for v in as_list(spec.get("volumes")):
        v = as_map(v)
        if "hostPath" in v:
            found["hostPath"].append(f"volume {safe(v.get('name', '?'), 80)}: hostPath "
                                     f"{safe(as_map(v.get('hostPath')).get('path', '?'), 200)}")
    pod_seccomp = as_map(psc.get("seccompProfile"))
    for where, c in _containers(spec):
        sc = as_map(c.get("securityContext"))
        caps = as_map(sc.get("capabilities"))
        added = {_cap(x) for x in str_list(caps.get("add"))}
        dropped = {_cap(x) for x in str_list(caps.get("drop"))}
        privileged = sc.get("privileged") is True
        if privileged:
            found["privileged"].append(f"{where}: securityContext.privileged: true")
        if as_map(sc.get("windowsOptions")).get("hostProcess") is True:
            found["hostProcess"].append(f"{where}: securityContext.windowsOptions.hostProcess: true")
        for p in as_list(c.get("ports")):
            hp = as_map(p).get("hostPort")
            if isinstance(hp, int) and hp != 0:
                found["hostPorts"].append(f"{where}: hostPort {hp}")
        for e in as_list(c.get("env")):
            ref = as_map(as_map(as_map(e).get("valueFrom")).get("secretKeyRef"))
            if ref:
                found["secretEnv"].append(f"{where}: env {safe(as_map(e).get('name', '?'), 80)} from secret "
                                          f"{safe(ref.get('name', '?'), 120)} key {safe(ref.get('key', '?'), 80)}")
        for ef in as_list(c.get("envFrom")):
            ref = as_map(as_map(ef).get("secretRef"))
            if ref:
                found["secretEnv"].append(f"{where}: envFrom secret {safe(ref.get('name', '?'), 120)}")

        run_as_user = sc.get("runAsUser", psc.get("runAsUser"))
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        root_ok = False
        if isinstance(run_as_user, int) and run_as_user == 0:
            found["root"].append(f"{where}: runAsUser: 0")
        elif non_root is True or (isinstance(run_as_user, int) and run_as_user > 0):
            root_ok = True
        elif non_root is False:
            found["root"].append(f"{where}: runAsNonRoot: false and no non-zero runAsUser")
        else:
            found["root"].append(f"{where}: neither runAsNonRoot: true nor a non-zero runAsUser "
                                 "(the image decides; it may run as root)")

        if windows:
            continue  # the Linux-only controls below do not apply (as in Pod Security "restricted")
        ape = sc.get("allowPrivilegeEscalation")
        if privileged or "SYS_ADMIN" in added or "ALL" in added:
            found["allowPrivilegeEscalation"].append(
                f"{where}: effectively true ({'privileged' if privileged else 'CAP_SYS_ADMIN added'})")
        elif ape is True:
            found["allowPrivilegeEscalation"].append(f"{where}: allowPrivilegeEscalation: true")
        elif ape is not False:
            found["allowPrivilegeEscalation"].append(
                f"{where}: allowPrivilegeEscalation unset (no_new_privs is not set, so escalation is allowed)")

        if "NET_RAW" in added or "ALL" in added:
            found["netRaw"].append(f"{where}: adds {'NET_RAW' if 'NET_RAW' in added else 'ALL'}")
        elif not ({"ALL", "NET_RAW"} & dropped) and not privileged:
            found["netRaw"].append(f"{where}: does not drop NET_RAW (container runtimes grant it by default)")
        if privileged:
            found["netRaw"].append(f"{where}: privileged (has every capability, NET_RAW included)")

        extra = sorted(added - RESTRICTED_ADDABLE)
        if extra:
            found["capabilities"].append(f"{where}: adds {', '.join(safe(x, 40) for x in extra)}")
        if "ALL" not in dropped:
            found["capabilities"].append(f"{where}: does not drop ALL capabilities")

        # the container's seccompProfile replaces the pod's as a whole (type and localhostProfile)
        profile = as_map(sc.get("seccompProfile")) if "seccompProfile" in sc else pod_seccomp
        seccomp = profile.get("type")
        if seccomp == "RuntimeDefault":
            pass
        elif seccomp == "Localhost":
            # the profile is a file on each node: what it allows cannot be read through the API
            found["seccompLocalhost"].append(f"{where}: seccompProfile Localhost "
                                             f"{safe(profile.get('localhostProfile', '(no localhostProfile)'), 200)}")
        elif seccomp is None:
            found["seccomp"].append(f"{where}: seccompProfile unset (pod and container)")
        else:
            found["seccomp"].append(f"{where}: seccompProfile {safe(seccomp, 40)}")

        missing = []
        if not root_ok:
            missing.append("runAsNonRoot: true (or a non-zero runAsUser)")
        if ape is not False or privileged:
            missing.append("allowPrivilegeEscalation: false")
        if "ALL" not in dropped:
            missing.append("capabilities.drop: [ALL]")
        if privileged:
            missing.append("privileged unset or false")
        if missing:
            found["securityContext"].append(f"{where}: missing {'; '.join(missing)}")
    return {k: tuple(v) for k, v in found.items()}


@dataclass(slots=True)
class WorkloadTarget:
    kind: str
    name: str
    namespace: str | None
    obj: KObject | None = None                 # None when only an ownerReference names it
    template: Mapping[str, Any] | None = None  # the pod spec of its template
    pods: list[KObject] = field(default_factory=list)
    static_component: str | None = None        # control-plane component of a static pod
    _facets: dict[str, dict[str, list[str]]] | None = None

    @property
    def is_static(self) -> bool:
        return self.kind == POD and self.obj is not None and any(o.kind == "Node" for o in self.obj.owners)

    def target(self) -> Target:
        return Target(self.kind, self.name, self.namespace)

    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def running(self) -> int:
        return len(self.pods)

    def specs(self) -> list[tuple[str, Mapping[str, Any]]]:
        out: list[tuple[str, Mapping[str, Any]]] = []
        if self.template is not None:
            out.append(("template", self.template))
        for p in self.pods:
            out.append((f"pod {p.name}", as_map(p.body.get("spec"))))
        return out

    def service_account(self) -> str:
        for _, spec in self.specs():
            sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
            return sa if isinstance(sa, str) and sa else "default"
        return "default"

    def facets(self, cache: dict[int, Facets]) -> dict[str, dict[str, list[str]]]:
        """control -> violation text -> where it was seen (template, pod names)."""
        if self._facets is None:
            merged: dict[str, dict[str, list[str]]] = defaultdict(dict)
            for where, spec in self.specs():
                key = id(spec)
                f = cache.get(key)
                if f is None:
                    f = cache[key] = analyze_pod_spec(spec)
                for control, items in f.items():
                    bucket = merged[control]
                    for item in items:
                        bucket.setdefault(item, []).append(where)
            self._facets = dict(merged)
        return self._facets


@dataclass(slots=True)
class WorkloadIndex:
    targets: list[WorkloadTarget]
    facet_cache: dict[int, Facets] = field(default_factory=dict)

    def violations(self, t: WorkloadTarget, control: str) -> dict[str, list[str]]:
        return t.facets(self.facet_cache).get(control, {})

    def by_namespace(self) -> dict[str | None, list[WorkloadTarget]]:
        out: dict[str | None, list[WorkloadTarget]] = defaultdict(list)
        for t in self.targets:
            out[t.namespace].append(t)
        return out


def where_seen(wheres: list[str]) -> str:
    """Where one observation was made, once: "pod template and 3 running
    pod(s), e.g. pod web-1" (`wheres`: "template" and "pod <name>" items)."""
    pods = [w for w in wheres if w.startswith("pod ")]
    parts = []
    if "template" in wheres:
        parts.append("pod template")
    if pods:
        parts.append(f"{len(pods)} running pod(s), e.g. {safe(pods[0], 120)}")
    return " and ".join(parts) or "pod spec"


def _template_spec(obj: KObject) -> Mapping[str, Any] | None:
    spec = as_map(obj.body.get("spec"))
    if obj.kind == CRON_JOB:
        spec = as_map(as_map(spec.get("jobTemplate")).get("spec"))
    template = spec.get("template")
    if not isinstance(template, Mapping):
        return None
    return as_map(template.get("spec"))


def _controller(obj: KObject):
    for o in obj.owners:
        if o.controller:
            return o
    return obj.owners[0] if obj.owners else None


def build_workload_index(cluster: ClusterFacts) -> WorkloadIndex:
    by_uid: dict[str, KObject] = {}
    by_name: dict[tuple[str, str | None, str], KObject] = {}
    for kind in WORKLOAD_KINDS:
        for o in cluster.of_kind(kind):
            if o.uid:
                by_uid[o.uid] = o
            by_name[(o.kind, o.namespace, o.name)] = o

    def resolve(owner, namespace: str | None) -> KObject | None:
        if owner.uid and owner.uid in by_uid:
            return by_uid[owner.uid]
        return by_name.get((owner.kind, namespace, owner.name))

    def top_of(obj: KObject) -> tuple[str, str, KObject | None]:
        """(kind, name, object or None) of the top-level owner of `obj`."""
        current: KObject = obj
        for _ in range(8):   # ownership chains are short; bound hostile cycles
            owner = _controller(current)
            if owner is None or owner.kind == "Node":
                return current.kind, current.name, current
            nxt = resolve(owner, current.namespace)
            if nxt is None:
                return owner.kind, owner.name, None
            current = nxt
        return current.kind, current.name, current

    targets: dict[tuple[str, str | None, str], WorkloadTarget] = {}

    def target_for(kind: str, ns: str | None, name: str, obj: KObject | None) -> WorkloadTarget:
        key = (kind, ns, name)
        t = targets.get(key)
        if t is None:
            t = targets[key] = WorkloadTarget(kind, name, ns, obj)
        elif t.obj is None and obj is not None:
            t.obj = obj
        return t

    # Templates: only top-level workloads are targets of their own; a
    # ReplicaSet owned by a Deployment contributes nothing the Deployment's
    # template does not already say (its pods are attributed below).
    for kind in WORKLOAD_KINDS:
        for o in cluster.of_kind(kind):
            top_kind, top_name, top_obj = top_of(o)
            if top_obj is o:
                target_for(kind, o.namespace, o.name, o).template = _template_spec(o)
            elif top_obj is None:
                # owner not collected: attribute to it by name; keep this template
                t = target_for(top_kind, o.namespace, top_name, None)
                if t.template is None:
                    t.template = _template_spec(o)
    for pod in cluster.of_kind(POD):
        phase = as_map(pod.body.get("status")).get("phase")
        if phase in TERMINATED_PHASES:
            continue
        owner = _controller(pod)
        if owner is None or owner.kind == "Node":
            t = target_for(POD, pod.namespace, pod.name, pod)
            if owner is not None and pod.namespace == "kube-system":
                t.static_component = components.component_of_static_pod(pod.name, pod.labels)
        else:
            nxt = resolve(owner, pod.namespace)
            if nxt is None:
                t = target_for(owner.kind, pod.namespace, owner.name, None)
            else:
                kind, name, obj = top_of(nxt)
                t = target_for(kind, pod.namespace, name, obj)
        t.pods.append(pod)
    ordered = sorted(targets.values(), key=lambda t: (t.namespace or "", t.kind, t.name))
    return WorkloadIndex(ordered)
