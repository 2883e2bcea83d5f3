"""Node access through a short-lived DaemonSet (no SSH needed).

One collector pod per node runs `kaudit node-facts --root /host` as an init
container, so "finished" is visible in the pod status without the pod ever
exiting (DaemonSet pods must restart-always); the main container only waits.
kaudit reads each init container's log (NodeFacts JSON), then deletes the
DaemonSet. A privileged DaemonSet on every node must never outlive its scan:
- it counts as created before the create call returns (a signal can arrive
  after the server stored it, before the answer), and is deleted in a
  `finally` by its per-run label, with SIGTERM turned into an interrupt
  (raised once; never while cleaning up) so a killed scan still cleans up;
- inside a pod whose downward API gives POD_NAME, POD_NAMESPACE and POD_UID
  (job/cronjob.yaml), and when the collector runs in that same namespace,
  its ownerReference is the scanner's Pod, so Kubernetes' garbage collector
  removes it when that Pod object is deleted (a scanner killed outright whose
  Pod object stays, Failed, is the sweep's case). An
  owner in another namespace is not allowed (the garbage collector treats
  it as absent and would delete the DaemonSet at once), so none is set then;
- every run first deletes collector DaemonSets of earlier runs whose
  `kaudit.io/expires` time has passed or that have none (an older kaudit); a
  DaemonSet of a run that may still be going is left alone;
- a DaemonSet that could not be deleted is a collection error on the report.

Pod hardening and why each privilege is there (see docs/live-api.md):
- runs as root (uid 0): control-plane files (/etc/kubernetes/pki/*.key,
  admin.conf) are root-owned and mode 600; reading and stat-ing them needs
  the owner. runAsNonRoot is therefore impossible for the collector (the
  waiting container does run as nobody).
- capabilities: ALL dropped, then DAC_READ_SEARCH (traverse/read files owned
  by other users, e.g. etcd's data dir) and SYS_PTRACE only when
  `read_process_env` is on: /proc/<pid>/environ of another process (etcd's
  ETCD_* settings) requires ptrace-read access to it.
- hostPID: to see the host's processes and their command lines.
- host paths are mounted read-only under /host, only those the checks read;
  readOnlyRootFilesystem, no privilege escalation, RuntimeDefault seccomp,
  no service account token, no host network.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import threading
import time
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import quote

from kaudit import __version__
from kaudit.collect import NodeSource, Progress, SourceError, no_progress
from kaudit.collect.api import Connection, HttpError, KubeHttp, RequestTimeout, connect
from kaudit.collect.node.saved import node_facts_from_document
from kaudit.model import NODE, ClusterFacts, NodeFacts

DEFAULT_IMAGE = f"ghcr.io/kaudit/kaudit:{__version__}"
COLLECTOR_CONTAINER = "collect"
RUN_LABEL = "kaudit.io/run"
APP_LABEL = "app.kubernetes.io/name"
APP_NAME = "kaudit-node-collector"
MAX_LOG_BYTES = 32 * 1024 * 1024
EXPIRES_ANNOTATION = "kaudit.io/expires"
# How long after its scan's timeout a DaemonSet may still be deleted by that scan.
CLEANUP_MARGIN = 600.0
# The scanner's own Pod, from the downward API (job/job.yaml, job/cronjob.yaml).
SCANNER_POD_ENV = ("POD_NAME", "POD_NAMESPACE", "POD_UID")

# Host paths the node checks read (mounted read-only under /host). /proc is
# the host's through hostPID.
HOST_PATHS = ("/etc/kubernetes", "/var/lib/kubelet", "/var/lib/etcd", "/etc/systemd", "/lib/systemd",
              "/etc/cni", "/opt/cni", "/var/lib/kube-proxy", "/etc/rancher", "/var/lib/rancher")

# Init container states that will not fix themselves within a scan.
_STUCK_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                  "CreateContainerError", "RunContainerError")


def node_collector_rules() -> list[dict[str, Any]]:
    """RBAC for the DaemonSet transport, as a Role in its namespace (besides
    the scan's read-only ClusterRole). Creating the namespace, when it does not
    exist yet, additionally needs `create` on namespaces."""
    return [
        # list: find this run's DaemonSet by label, and stale ones of earlier runs
        {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create", "delete", "list"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]


class DaemonSetSource(NodeSource):
    name = "daemonset"

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, *,
                 namespace: str = "kaudit", image: str = DEFAULT_IMAGE, timeout: float = 300.0,
                 poll_interval: float = 2.0, read_process_env: bool = True,
                 host_paths: tuple[str, ...] = HOST_PATHS,
                 api_client_factory: Callable[[], Connection] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespace = namespace
        self.image = image
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.read_process_env = read_process_env
        self.host_paths = host_paths
        self.api_client_factory = api_client_factory
        self.environ = os.environ if environ is None else environ
        self.cleanup_error: str | None = None
        # What `partial_nodes` reports after an interrupted `collect`: the nodes
        # targeted, and those whose collector output was read to the end.
        self._targets: dict[str, Any] = {}
        self._finished: dict[str, NodeFacts] = {}

    def scanner_pod_owner(self) -> tuple[dict[str, Any] | None, str | None]:
        """(ownerReference to the scanner's Pod, None), or (None, why not) in
        a pod where it cannot be set; (None, None) outside a pod."""
        name, namespace, uid = (self.environ.get(v) for v in SCANNER_POD_ENV)
        if not (name and namespace and uid):
            return None, None
        if namespace != self.namespace:
            # "A namespaced owner must exist in the same namespace as the dependent. If it
            # does not, the owner reference is treated as absent, and the dependent is subject
            # to deletion" (kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/).
            return None, (f"the scanner pod runs in namespace {namespace}, the collector in {self.namespace}: "
                          f"no owner reference across namespaces; if kaudit is killed, the next run deletes "
                          f"the collector DaemonSet")
        # No blockOwnerDeletion: setting it needs more permissions than deleting the DaemonSet.
        return {"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid}, None

    # -- the manifest -----------------------------------------------------------

    def daemonset_manifest(self, run_id: str, owner: dict[str, Any] | None = None,
                           expires: str | None = None) -> dict[str, Any]:
        labels = {APP_LABEL: APP_NAME, RUN_LABEL: run_id}
        metadata: dict[str, Any] = {"name": f"kaudit-node-{run_id}", "namespace": self.namespace, "labels": labels}
        if expires:
            metadata["annotations"] = {EXPIRES_ANNOTATION: expires}
        if owner:
            metadata["ownerReferences"] = [owner]
        caps = ["DAC_READ_SEARCH"] + (["SYS_PTRACE"] if self.read_process_env else [])
        volumes = [{"name": _volume_name(p), "hostPath": {"path": p}} for p in self.host_paths]
        mounts = [{"name": _volume_name(p), "mountPath": "/host" + p, "readOnly": True} for p in self.host_paths]
        volumes.append({"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}})
        mounts.append({"name": "tmp", "mountPath": "/tmp"})
        collector = {
            "name": COLLECTOR_CONTAINER, "image": self.image, "imagePullPolicy": "IfNotPresent",
            "command": ["kaudit", "node-facts", "--root", "/host"],
            "env": [{"name": "KAUDIT_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
            "securityContext": {
                # Root: the files audited are root-owned with mode 600 (see module docstring).
                "runAsUser": 0, "runAsNonRoot": False, "privileged": False,
                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"], "add": caps},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            "volumeMounts": mounts,
        }
        waiter = {
            "name": "done", "image": self.image, "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-c",
                        "import signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); signal.pause()"],
            "securityContext": {"runAsUser": 65534, "runAsNonRoot": True, "privileged": False,
                                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
            "resources": {"requests": {"cpu": "1m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
        }
        return {
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": metadata,
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "hostPID": True, "hostNetwork": False, "hostIPC": False,
                        "automountServiceAccountToken": False, "enableServiceLinks": False,
                        "terminationGracePeriodSeconds": 1,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        # Every node, control plane included, whatever its taints.
                        "tolerations": [{"operator": "Exists"}],
                        "initContainers": [collector], "containers": [waiter], "volumes": volumes,
                    },
                },
            },
        }

    # -- collection -----------------------------------------------------------------

    def collect(self, cluster: ClusterFacts, progress: Progress = no_progress) -> list[NodeFacts]:
        nodes = {n.name: n for n in cluster.of_kind(NODE)}
        if not nodes:
            why = cluster.unavailable.get(NODE, "the cluster source returned no nodes")
            raise SourceError(f"daemonset node access needs the node list: {why}")
        self._targets, self._finished = nodes, {}
        conn = self.api_client_factory() if self.api_client_factory else connect(self.kubeconfig, self.context)
        http = KubeHttp(conn, max_attempts=3, backoff=0.5, request_timeout=30.0)
        run_id = secrets.token_hex(4)
        owner, no_owner = self.scanner_pod_owner()
        if no_owner:
            progress(no_owner)
        expires = _utc(time.time() + self.timeout + CLEANUP_MARGIN)
        manifest = self.daemonset_manifest(run_id, owner, expires)
        ds_name = manifest["metadata"]["name"]
        created_namespace = False
        create_attempted = False
        with _sigterm_as_interrupt() as interrupts:
            try:
                self._sweep_stale(http, run_id, cluster, progress)
                created_namespace = self._ensure_namespace(http)
                progress(f"creating DaemonSet {self.namespace}/{ds_name} on {len(nodes)} nodes")
                # Created as far as cleanup is concerned from here: the server may store it
                # and a signal interrupt us before its answer arrives.
                create_attempted = True
                try:
                    http.send_json("POST", self._daemonsets_path(), manifest)
                except HttpError as exc:
                    if exc.status != 409:   # 409: a retried create whose first attempt succeeded (the name is ours)
                        raise SourceError(f"could not create the node collector DaemonSet in namespace "
                                          f"{self.namespace} on {http.server}: {exc}") from exc
                results = self._wait(http, run_id, nodes, progress)
            finally:
                interrupts.hold()      # first thing: a signal must not cut the cleanup short
                self._cleanup(http, run_id, ds_name if create_attempted else None, created_namespace,
                              cluster, progress)
        for facts in results:
            _add_roles(facts, nodes.get(facts.name))
        return results

    def partial_nodes(self, reason: str) -> list[NodeFacts] | None:
        """The nodes whose collector output was read before the interruption (a
        signal during a log read leaves that node unread), every other node not
        inspected. The DaemonSet is deleted by `collect`'s own cleanup."""
        if not self._targets:
            return None
        out = []
        for name, node in self._targets.items():
            facts = self._finished.get(name) or NodeFacts(
                name=name, transport="daemonset", unreachable=f"not inspected: the scan was interrupted ({reason})")
            _add_roles(facts, node)
            out.append(facts)
        return out

    def _ensure_namespace(self, http: KubeHttp) -> bool:
        path = f"/api/v1/namespaces/{quote(self.namespace, safe='')}"
        try:
            http.get_json(path)
            return False
        except HttpError as exc:
            if exc.status != 404:
                return False          # forbidden to read it: assume it exists, creating the DaemonSet will tell
        body = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": self.namespace, "labels": {
                    APP_LABEL: "kaudit",
                    # hostPID and hostPath need the privileged Pod Security level here.
                    "pod-security.kubernetes.io/enforce": "privileged"}}}
        try:
            http.send_json("POST", "/api/v1/namespaces", body)
        except HttpError as exc:
            raise SourceError(f"namespace {self.namespace} does not exist and could not be created "
                              f"({exc}); create it, or pass another namespace") from exc
        return True

    def _wait(self, http: KubeHttp, run_id: str, nodes: dict[str, Any], progress: Progress) -> list[NodeFacts]:
        done: dict[str, NodeFacts] = {}
        last_seen: dict[str, str] = {}
        deadline = time.monotonic() + self.timeout
        pods_path = f"/api/v1/namespaces/{quote(self.namespace, safe='')}/pods"
        reported = -1
        while True:
            try:
                pods = http.get_json(pods_path, [("labelSelector", f"{RUN_LABEL}={run_id}")]).get("items") or []
            except (HttpError, RequestTimeout) as exc:
                pods = []
                progress(f"node collectors: could not list pods ({exc}); retrying")
            for pod in pods:
                node = ((pod.get("spec") or {}).get("nodeName")) if isinstance(pod, dict) else None
                if not isinstance(node, str) or node not in nodes or node in done:
                    continue
                outcome = self._pod_outcome(http, pod, node)
                if isinstance(outcome, NodeFacts):
                    done[node] = self._finished[node] = outcome
                else:
                    last_seen[node] = outcome
            if len(done) != reported:
                reported = len(done)
                progress(f"node collectors: {len(done)}/{len(nodes)} finished")
            if len(done) == len(nodes) or time.monotonic() >= deadline:
                break
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
        results = []
        for name in nodes:
            if name in done:
                results.append(done[name])
            else:
                state = last_seen.get(name)
                reason = (f"collector pod did not finish within {self.timeout:g}s ({state})" if state else
                          f"no collector pod ran on this node within {self.timeout:g}s "
                          f"(taints, node selector, or node not ready)")
                results.append(NodeFacts(name=name, transport="daemonset", unreachable=reason))
        # Every node has its outcome now: a signal from here on loses none of them.
        self._finished = {f.name: f for f in results}
        return results

    def _pod_outcome(self, http: KubeHttp, pod: dict[str, Any], node: str) -> NodeFacts | str:
        """NodeFacts when the collector finished (or failed for good), else a
        one-line description of where it is."""
        name = str((pod.get("metadata") or {}).get("name", ""))
        status = pod.get("status") or {}
        init = next((s for s in status.get("initContainerStatuses") or ()
                     if isinstance(s, dict) and s.get("name") == COLLECTOR_CONTAINER), None)
        if init is None:
            return f"pod {name} phase {status.get('phase') or 'unknown'}"
        state = init.get("state") or {}
        terminated = state.get("terminated") or ((init.get("lastState") or {}).get("terminated")
                                                 if "waiting" in state else None)
        if terminated:
            code = terminated.get("exitCode")
            logs = self._logs(http, name)
            if code == 0 and logs is not None:
                return _parse_node_facts(logs, node)
            tail = _one_line((logs or "")[-300:]) or terminated.get("reason") or "no output"
            return NodeFacts(name=node, transport="daemonset",
                             unreachable=f"node collector in pod {name} exited with code {code}: {tail}")
        waiting = (state.get("waiting") or {}).get("reason") or ""
        if waiting in _STUCK_REASONS:
            return f"pod {name} waiting: {waiting}"
        return f"pod {name} phase {status.get('phase') or 'unknown'}" + (f", {waiting}" if waiting else "")

    def _logs(self, http: KubeHttp, pod: str) -> str | None:
        path = f"/api/v1/namespaces/{quote(self.namespace, safe='')}/pods/{quote(pod, safe='')}/log"
        try:
            resp = http.request("GET", path, [("container", COLLECTOR_CONTAINER), ("limitBytes", MAX_LOG_BYTES)])
        except RequestTimeout:
            return None
        if resp.status != 200:
            return None
        return resp.data.decode("utf-8", "replace")

    def _daemonsets_path(self, name: str | None = None) -> str:
        path = f"/apis/apps/v1/namespaces/{quote(self.namespace, safe='')}/daemonsets"
        return path + (f"/{quote(name, safe='')}" if name else "")

    def _list_daemonsets(self, http: KubeHttp, selector: str) -> list[dict[str, Any]]:
        items = http.get_json(self._daemonsets_path(), [("labelSelector", selector)]).get("items") or []
        return [ds for ds in items if isinstance(ds, dict) and isinstance(ds.get("metadata"), dict)]

    def _delete_daemonset(self, http: KubeHttp, name: str) -> str | None:
        """None when it is gone (or never existed), else why it is not."""
        try:
            resp = http.request("DELETE", self._daemonsets_path(name), [("propagationPolicy", "Background")])
        except (HttpError, RequestTimeout, SourceError) as exc:
            return str(exc)
        if resp.status in (200, 202, 404):
            return None
        return f"HTTP {resp.status}: {_one_line(resp.data[:200].decode('utf-8', 'replace'))}"

    def _note(self, cluster: ClusterFacts, progress: Progress, message: str) -> None:
        """A problem that belongs on the report's cover (its collection errors)."""
        cluster.load_errors.append(f"node collector DaemonSet: {message}")
        progress(message)

    def _sweep_stale(self, http: KubeHttp, run_id: str, cluster: ClusterFacts, progress: Progress) -> None:
        """Delete collector DaemonSets that earlier runs left behind (killed
        outright, or their delete failed); never one that may still be in use."""
        try:
            found = self._list_daemonsets(http, f"{APP_LABEL}={APP_NAME}")
        except (HttpError, RequestTimeout) as exc:
            self._note(cluster, progress, f"could not look for collector DaemonSets left by earlier runs in "
                                          f"namespace {self.namespace}: {exc}")
            return
        now = time.time()
        for ds in found:
            meta = ds["metadata"]
            name = str(meta.get("name") or "")
            if not name or (meta.get("labels") or {}).get(RUN_LABEL) == run_id:
                continue
            # Without a readable expiry it was made by an older kaudit (or by hand): stale.
            # Deleting one still in use costs that scan its node results (ERROR, fail closed);
            # leaving one behind leaves root pods on every node.
            expires = _epoch((meta.get("annotations") or {}).get(EXPIRES_ANNOTATION))
            if expires is not None and expires > now:
                progress(f"DaemonSet {self.namespace}/{name} of another kaudit run may still be in use; left alone")
                continue
            why = self._delete_daemonset(http, name)
            if why:
                self._note(cluster, progress, f"could not delete {self.namespace}/{name}, left by an earlier run "
                                              f"({why}); delete it: kubectl -n {self.namespace} delete daemonset {name}")
            else:
                progress(f"deleted DaemonSet {self.namespace}/{name} left by an earlier run")

    def _cleanup(self, http: KubeHttp, run_id: str, ds_name: str | None, delete_namespace: bool,
                 cluster: ClusterFacts, progress: Progress) -> None:
        with _signals_ignored():
            if ds_name:
                # By the run's label (whatever holds it), and by name in case listing fails.
                names = {ds_name}
                try:
                    names |= {str(ds["metadata"].get("name")) for ds in
                              self._list_daemonsets(http, f"{RUN_LABEL}={run_id}") if ds["metadata"].get("name")}
                except (HttpError, RequestTimeout, SourceError):
                    pass
                for name in sorted(names):
                    why = self._delete_daemonset(http, name)
                    if why:
                        self.cleanup_error = (f"could not delete {self.namespace}/{name} ({why}); it still runs "
                                              f"on every node: kubectl -n {self.namespace} delete daemonset {name}")
                        self._note(cluster, progress, self.cleanup_error)
                    else:
                        progress(f"deleted DaemonSet {self.namespace}/{name}")
            if delete_namespace:
                try:
                    http.request("DELETE", f"/api/v1/namespaces/{quote(self.namespace, safe='')}")
                except (HttpError, RequestTimeout, SourceError) as exc:
                    progress(f"could not delete namespace {self.namespace} created for the scan: {exc}")


def _add_roles(facts: NodeFacts, node: Any) -> None:
    """Roles from the Node object's node-role labels, unless the node said."""
    if node is not None and not facts.roles:
        facts.roles = tuple(sorted(k.rsplit("/", 1)[1] for k in node.labels
                                   if k.startswith("node-role.kubernetes.io/") and "/" in k))


def _parse_node_facts(text: str, node: str) -> NodeFacts:
    """The NodeFacts document in a collector log. Logs interleave stderr, so
    look for the JSON object that starts a line if the whole text is not one."""
    decoder = json.JSONDecoder()
    candidates = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n" and text[i + 1:i + 2] == "{"]
    error = "no JSON document in the collector output"
    for start in candidates:
        try:
            data, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        if not isinstance(data, dict):
            continue
        try:
            facts = node_facts_from_document(data)     # the reader of --node-facts files, too
        except ValueError as exc:
            error = f"collector output is not valid NodeFacts: {exc}"
            continue
        # The API's node name is authoritative: the output is the node's word.
        facts.name = node
        facts.transport = "daemonset"
        return facts
    return NodeFacts(name=node, transport="daemonset", unreachable=error)


def _volume_name(path: str) -> str:
    return "host" + path.replace("/", "-")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: Any) -> float | None:
    """An RFC 3339 time (as Kubernetes writes creationTimestamp) -> seconds, or None."""
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()


class _Interrupts:
    """SIGTERM/SIGHUP -> KeyboardInterrupt, raised once and never after
    `hold()`: cleanup runs to its end whatever signals follow."""

    def __init__(self) -> None:
        self.held = False

    def hold(self) -> None:
        self.held = True

    def handler(self, signum: int, _frame: Any) -> None:
        if not self.held:
            self.held = True
            raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[_Interrupts]:
    """Turn SIGTERM (and SIGHUP) into KeyboardInterrupt so `finally` runs."""
    interrupts = _Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield interrupts
        return
    previous = {s: signal.signal(s, interrupts.handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield interrupts
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """While deleting what the scan created, a second ^C must not abort it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
