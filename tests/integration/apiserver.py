"""A wire-level HTTPS stand-in for kube-apiserver, for tests and benchmarks.

It speaks the parts of the Kubernetes REST API kaudit uses, over real TLS
with a certificate generated at start-up, so the official `kubernetes` client
talks to it through a socket exactly as it talks to a cluster:

- bearer-token authentication (401 with a `Status` body for unknown tokens);
- per-token RBAC given as ClusterRole-style rules (`apiGroups`, `resources`
  incl. subresources such as `nodes/proxy`, `verbs`, `resourceNames`);
  discovery and /version are open to every authenticated token, as the
  `system:discovery` role makes them;
- discovery: /version, /api, /api/v1, /apis, /apis/<group>/<version>;
- list with `limit`/`continue` (pages pre-serialised and cached, so the
  server is not the bottleneck in benchmarks), get, create, delete;
- `nodes/{name}/proxy/configz`, with per-node answers (a config, an HTTP
  status, or a hang);
- injectable faults: N answers of a given status (with Retry-After) for
  requests matching a path pattern;
- a minimal DaemonSet lifecycle: creating a DaemonSet creates one pod per
  node with a scripted outcome (finished collector with logs, failed
  collector, never scheduled, still pending), pod logs, deleting the
  DaemonSet deletes its pods.

Run standalone for manual poking: `python tests/integration/apiserver.py`.
Tests import it as `apiserver` (pytest puts tests/integration on sys.path).
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

# ---------------------------------------------------------------------------
# Resource types the server knows
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    resource: str        # plural
    kind: str
    namespaced: bool
    crd: bool = False    # custom resources keep kind/apiVersion on list items, like the real server

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _t(group: str, version: str, resource: str, kind: str, namespaced: bool, crd: bool = False) -> ResourceType:
    return ResourceType(group, version, resource, kind, namespaced, crd)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "namespaces", "Namespace", False),
    _t("", "v1", "nodes", "Node", False),
    _t("", "v1", "pods", "Pod", True),
    _t("", "v1", "serviceaccounts", "ServiceAccount", True),
    _t("", "v1", "services", "Service", True),
    _t("", "v1", "configmaps", "ConfigMap", True),
    _t("", "v1", "secrets", "Secret", True),
    _t("", "v1", "endpoints", "Endpoints", True),
    _t("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    _t("", "v1", "replicationcontrollers", "ReplicationController", True),
    _t("apps", "v1", "deployments", "Deployment", True),
    _t("apps", "v1", "statefulsets", "StatefulSet", True),
    _t("apps", "v1", "daemonsets", "DaemonSet", True),
    _t("apps", "v1", "replicasets", "ReplicaSet", True),
    _t("batch", "v1", "jobs", "Job", True),
    _t("batch", "v1", "cronjobs", "CronJob", True),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    _t("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    _t("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _t("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", False),
    _t("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", False),
    _t("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False),
    _t("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
       "ValidatingAdmissionPolicyBinding", False),
)

ADDON_TYPES: dict[str, tuple[ResourceType, ...]] = {
    "cilium": (_t("cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy", True, True),
               _t("cilium.io", "v2", "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy",
                  False, True)),
    "calico": (_t("crd.projectcalico.org", "v1", "networkpolicies", "NetworkPolicy", True, True),
               _t("crd.projectcalico.org", "v1", "globalnetworkpolicies", "GlobalNetworkPolicy", False, True)),
    "kyverno": (_t("kyverno.io", "v1", "clusterpolicies", "ClusterPolicy", False, True),
                _t("kyverno.io", "v1", "policies", "Policy", True, True),
                _t("kyverno.io", "v2", "policyexceptions", "PolicyException", True, True)),
    "gatekeeper": (_t("templates.gatekeeper.sh", "v1", "constrainttemplates", "ConstraintTemplate", False, True),),
}

SUBRESOURCES = {("", "nodes"): ("proxy",), ("", "pods"): ("log",)}

# ---------------------------------------------------------------------------
# RBAC-ish authorisation
# ---------------------------------------------------------------------------

Rules = list[dict[str, Any]]


def rules_allow(rules: Rules | None, verb: str, group: str, resource: str, name: str | None) -> bool:
    """ClusterRole semantics: any rule granting (verb, group, resource[/sub], name)."""
    if rules is None:
        return True
    for rule in rules:
        if not _matches(rule.get("verbs"), verb):
            continue
        if not _matches(rule.get("apiGroups"), group):
            continue
        if not _matches(rule.get("resources"), resource):
            continue
        names = rule.get("resourceNames") or []
        if names and (name is None or name not in names):
            continue
        return True
    return False


def _matches(allowed: Iterable[str] | None, value: str) -> bool:
    allowed = list(allowed or ())
    return "*" in allowed or value in allowed


# ---------------------------------------------------------------------------
# Scripted behaviour
# ---------------------------------------------------------------------------


@dataclass
class Fault:
    pattern: re.Pattern[str]
    method: str
    status: int
    remaining: int
    retry_after: str | None = None
    hits: int = 0


@dataclass(frozen=True)
class Hang:
    """Answer only after `seconds` (the client should time out first)."""
    seconds: float
    then: Any = None


@dataclass(frozen=True)
class PodOutcome:
    """What the collector pod on one node does after a DaemonSet is created."""
    logs: str = ""                # what the collector container printed
    exit_code: int | None = 0     # None: never finishes (stays waiting)
    waiting_reason: str = "ContainerCreating"
    delay: float = 0.0            # seconds after creation before the outcome is visible


@dataclass
class RequestRecord:
    token: str | None
    method: str
    path: str
    query: dict[str, list[str]]
    verb: str | None
    group: str | None
    resource: str | None
    namespace: str | None
    name: str | None
    status: int = 0


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_tls(directory: Path) -> tuple[Path, Path]:
    """A self-signed CA certificate for 127.0.0.1/localhost, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kaudit-test-apiserver")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path = directory / "apiserver.crt"
    key_path = directory / "apiserver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class _Store:
    """Objects by resource type, with cached pre-serialised list pages."""

    def __init__(self) -> None:
        self.objects: dict[ResourceType, dict[tuple[str, str], dict[str, Any]]] = {}
        self.encoded: dict[ResourceType, dict[tuple[str, str], bytes]] = {}
        self.pages: dict[tuple[Any, ...], bytes] = {}
        self.sorted_keys: dict[tuple[ResourceType, str | None], list[tuple[str, str]]] = {}
        self.resource_version = 1000
        self.lock = threading.RLock()

    def put(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        self.resource_version += 1
        meta.setdefault("resourceVersion", str(self.resource_version))
        meta.setdefault("creationTimestamp", _now())
        key = (meta.get("namespace") or "", meta["name"])
        with self.lock:
            self.objects.setdefault(rtype, {})[key] = obj
            self.encoded.setdefault(rtype, {}).pop(key, None)
            self._invalidate(rtype)

    def delete(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.get(rtype, {}).pop((namespace, name), None)
            self.encoded.get(rtype, {}).pop((namespace, name), None)
            self._invalidate(rtype)
            return obj

    def _invalidate(self, rtype: ResourceType) -> None:
        self.pages = {k: v for k, v in self.pages.items() if k[0] != rtype}
        self.sorted_keys = {k: v for k, v in self.sorted_keys.items() if k[0] != rtype}

    def item_bytes(self, rtype: ResourceType, key: tuple[str, str]) -> bytes:
        enc = self.encoded.setdefault(rtype, {})
        data = enc.get(key)
        if data is None:
            obj = self.objects[rtype][key]
            if not rtype.crd:
                obj = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            data = json.dumps(obj, separators=(",", ":")).encode()
            enc[key] = data
        return data

    def keys(self, rtype: ResourceType, namespace: str | None) -> list[tuple[str, str]]:
        cache_key = (rtype, namespace)
        keys = self.sorted_keys.get(cache_key)
        if keys is None:
            keys = sorted(k for k in self.objects.get(rtype, {}) if namespace is None or k[0] == namespace)
            self.sorted_keys[cache_key] = keys
        return keys

    def page(self, rtype: ResourceType, namespace: str | None, start: int, limit: int | None) -> bytes:
        cache_key = (rtype, namespace, start, limit)
        with self.lock:
            cached = self.pages.get(cache_key)
            if cached is not None:
                return cached
            keys = self.keys(rtype, namespace)
            end = len(keys) if not limit else min(len(keys), start + limit)
            meta: dict[str, Any] = {"resourceVersion": str(self.resource_version)}
            if end < len(keys):
                meta["continue"] = _encode_continue(rtype, namespace, end)
                meta["remainingItemCount"] = len(keys) - end
            head = json.dumps({"kind": rtype.kind + "List", "apiVersion": rtype.group_version,
                               "metadata": meta}, separators=(",", ":")).encode()
            body = (head[:-1] + b',"items":[' + b",".join(self.item_bytes(rtype, k) for k in keys[start:end])
                    + b"]}")
            self.pages[cache_key] = body
            return body


def _encode_continue(rtype: ResourceType, namespace: str | None, start: int) -> str:
    raw = json.dumps({"r": rtype.resource, "g": rtype.group, "n": namespace, "s": start}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> dict[str, Any] | None:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None


class FakeApiServer:
    """Start with `start()`, stop with `stop()`; or use as a context manager."""

    def __init__(self, objects: Iterable[dict[str, Any]] = (), *, addons: Iterable[str] = (),
                 extra_types: Iterable[ResourceType] = (), version: str = "v1.30.2",
                 tokens: dict[str, Rules | None] | None = None, record: bool = True) -> None:
        self.version = version
        self.types: list[ResourceType] = list(BUILTIN_TYPES)
        for addon in addons:
            self.types.extend(ADDON_TYPES[addon])
        self.types.extend(extra_types)
        self.store = _Store()
        self.tokens: dict[str, Rules | None] = dict(tokens or {"admin-token": None})
        self.faults: list[Fault] = []
        self.configz: dict[str, Any] = {}
        self.pod_outcomes: dict[str, PodOutcome | None] = {}
        self.default_pod_outcome: Callable[[str], PodOutcome | None] = lambda node: PodOutcome(
            logs=json.dumps({"schema": "kaudit.nodefacts/v1", "name": node}))
        self.pod_logs: dict[tuple[str, str], str] = {}
        self.pod_created: dict[tuple[str, str], float] = {}
        self.created_daemonsets: list[dict[str, Any]] = []
        self.deleted_daemonsets: list[str] = []
        # Seconds between storing a created DaemonSet and answering the create (a slow apiserver).
        self.daemonset_create_delay = 0.0
        self.record = record
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="kaudit-apiserver-")
        self.tmpdir = Path(self._tmp.name)
        self.ca_file, self._key_file = generate_tls(self.tmpdir)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for obj in objects:
            self.add(obj)

    # -- setup ------------------------------------------------------------------

    def rtype_for(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for t in self.types:
            if t.group == group and t.kind == kind:
                return t
        return None

    def rtype_by_resource(self, group: str, version: str, resource: str) -> ResourceType | None:
        for t in self.types:
            if t.group == group and t.version == version and t.resource == resource:
                return t
        return None

    def add(self, obj: dict[str, Any]) -> None:
        obj = copy.deepcopy(obj)
        rtype = self.rtype_for(obj["apiVersion"], obj["kind"])
        if rtype is None:
            raise ValueError(f"no resource type registered for {obj['apiVersion']} {obj['kind']}")
        self.store.put(rtype, obj)

    def add_fault(self, path_pattern: str, status: int, times: int = 1, *, method: str = "GET",
                  retry_after: str | None = None) -> Fault:
        fault = Fault(re.compile(path_pattern), method, status, times, retry_after)
        self.faults.append(fault)
        return fault

    def objects_of(self, resource: str, group: str = "") -> list[dict[str, Any]]:
        for t, objs in self.store.objects.items():
            if t.resource == resource and t.group == group:
                return list(objs.values())
        return []

    # -- lifecycle --------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> "FakeApiServer":
        server = self

        class Handler(_Handler):
            api = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.ca_file), str(self._key_file))
        # Handshake in the handler thread, not in the accept loop.
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="fake-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self._tmp.cleanup()

    def __enter__(self) -> "FakeApiServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- client side helpers ------------------------------------------------------

    def kubeconfig_dict(self, token: str = "admin-token", *, context: str = "kaudit-test",
                        cluster: str = "test-cluster", user: str = "test-user",
                        server: str | None = None) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": cluster, "cluster": {"server": server or self.url,
                                                       "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        }

    def write_kubeconfig(self, path: Path, token: str = "admin-token", **kw: Any) -> Path:
        path.write_text(yaml.safe_dump(self.kubeconfig_dict(token, **kw)))
        return path

    def requests_for(self, resource: str, verb: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if r.resource == resource and (verb is None or r.verb == verb)]

    def warm(self, limit: int) -> None:
        """Pre-serialise every list page at `limit` (benchmarks)."""
        for rtype in list(self.store.objects):
            start = 0
            total = len(self.store.keys(rtype, None))
            while start < total or start == 0:
                self.store.page(rtype, None, start, limit)
                start += limit
                if start >= total:
                    break


class _Handler(BaseHTTPRequestHandler):
    api: FakeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"
    # Headers and body in one segment, no Nagle: avoids 40 ms delayed-ACK stalls per request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle(self) -> None:
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            return
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- responses --------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self._record.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode())

    def _status(self, code: int, reason: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                     "status": "Failure", "message": message, "reason": reason,
                                     "code": code}).encode(), headers=headers)

    # -- request handling ---------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        api = self.api
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization") or ""
        # kube-apiserver compares the scheme case-insensitively (in-cluster clients send "bearer").
        scheme, _, value = auth.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" and value.strip() else None
        route = _parse_path(api, method, path, query)
        self._record = RequestRecord(token, method, path, query, route.verb, route.group,
                                     route.resource_name, route.namespace, route.name)
        if api.record:
            with api._lock:
                api.requests.append(self._record)
        if token is None or token not in api.tokens:
            self._status(401, "Unauthorized", "Unauthorized")
            return
        for fault in api.faults:
            if fault.remaining > 0 and fault.method == method and fault.pattern.search(path):
                fault.remaining -= 1
                fault.hits += 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
                reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                          410: "Expired", 403: "Forbidden"}.get(fault.status, "Error")
                self._status(fault.status, reason, f"injected fault {fault.status}", headers)
                return
        if route.nonresource is not None:
            self._nonresource(route.nonresource)
            return
        if route.error:
            self._status(404, "NotFound", route.error)
            return
        rules = api.tokens[token]
        if not rules_allow(rules, route.verb or "", route.group or "", route.resource_name or "", route.name):
            scope = (f'in the namespace "{route.namespace}"' if route.namespace else "at the cluster scope")
            res = route.resource_name or ""
            full = f"{route.rtype.resource}.{route.group}" if route.group else route.rtype.resource
            self._status(403, "Forbidden",
                         f'{full} is forbidden: User "{token}" cannot {route.verb} resource "{res}" '
                         f'in API group "{route.group}" {scope}')
            return
        self._resource(method, route, query, body)

    def _nonresource(self, path: str) -> None:
        api = self.api
        if path == "/version":
            major, minor = api.version.lstrip("v").split(".")[:2]
            self._json(200, {"major": major, "minor": minor, "gitVersion": api.version,
                             "platform": "linux/amd64"})
        elif path == "/api":
            self._json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        elif path == "/apis":
            groups: dict[str, list[str]] = {}
            for t in api.types:
                if t.group:
                    versions = groups.setdefault(t.group, [])
                    if t.version not in versions:
                        versions.append(t.version)
            self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in groups.items()]})
        else:
            m = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
            group, version = ("", "v1") if m and m.group(1) else ((m.group(2), m.group(3)) if m else ("", ""))
            types = [t for t in api.types if t.group == group and t.version == version]
            if not types:
                self._status(404, "NotFound", "the server could not find the requested resource")
                return
            resources = []
            for t in types:
                resources.append({"name": t.resource, "singularName": t.kind.lower(), "namespaced": t.namespaced,
                                  "kind": t.kind, "verbs": ["create", "delete", "get", "list", "watch"]})
                for sub in SUBRESOURCES.get((t.group, t.resource), ()):
                    resources.append({"name": f"{t.resource}/{sub}", "namespaced": t.namespaced,
                                      "kind": t.kind, "verbs": ["get"]})
            self._json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": types[0].group_version, "resources": resources})

    def _resource(self, method: str, route: "_Route", query: dict[str, list[str]], body: bytes) -> None:
        api = self.api
        rtype = route.rtype
        assert rtype is not None
        if route.subresource == "proxy" and rtype.resource == "nodes":
            self._configz(route.name or "", route.rest)
            return
        if route.subresource == "log" and rtype.resource == "pods":
            logs = api.pod_logs.get((route.namespace or "", route.name or ""))
            if logs is None:
                self._status(404, "NotFound", f'pods "{route.name}" not found')
            else:
                self._send(200, logs.encode(), "text/plain")
            return
        if method == "GET" and route.name is None:
            self._list(rtype, route.namespace, query)
        elif method == "GET":
            obj = api.store.objects.get(rtype, {}).get((route.namespace or "", route.name))
            if obj is None:
                self._status(404, "NotFound", f'{rtype.resource} "{route.name}" not found')
            elif rtype.resource == "pods":
                self._json(200, _with_pod_status(api, obj))
            else:
                self._json(200, obj)
        elif method == "POST" and route.name is None:
            self._create(rtype, route.namespace, body)
        elif method == "DELETE" and route.name is not None:
            self._delete(rtype, route.namespace, route.name)
        else:
            self._status(405, "MethodNotAllowed", "method not allowed")

    def _list(self, rtype: ResourceType, namespace: str | None, query: dict[str, list[str]]) -> None:
        api = self.api
        limit = int((query.get("limit") or ["0"])[0] or 0) or None
        start = 0
        token = (query.get("continue") or [None])[0]
        if token:
            state = _decode_continue(token)
            if not state or state.get("r") != rtype.resource or state.get("n") != namespace:
                self._status(400, "BadRequest", "invalid continue token")
                return
            start = int(state["s"])
        selector = (query.get("labelSelector") or [None])[0]
        if selector or rtype.resource == "pods" and api.pod_created:
            # Unusual paths (label selectors, live pod status) are built on demand.
            items = []
            for key in api.store.keys(rtype, namespace):
                obj = api.store.objects[rtype][key]
                if selector and not _selector_matches(selector, (obj.get("metadata") or {}).get("labels") or {}):
                    continue
                items.append(_with_pod_status(api, obj) if rtype.resource == "pods" else obj)
            self._json(200, {"kind": rtype.kind + "List", "apiVersion": rtype.group_version,
                             "metadata": {"resourceVersion": str(api.store.resource_version)}, "items": items})
            return
        self._send(200, api.store.page(rtype, namespace, start, limit))

    def _configz(self, node: str, rest: str) -> None:
        api = self.api
        if rest != "configz":
            self._status(404, "NotFound", "only configz is proxied")
            return
        if (("", node) not in api.store.objects.get(api.rtype_for("v1", "Node"), {})):  # type: ignore[arg-type]
            self._status(404, "NotFound", f'nodes "{node}" not found')
            return
        answer = api.configz.get(node, {"kubeletconfig": {"authentication": {"anonymous": {"enabled": False}},
                                                          "readOnlyPort": 0}})
        if isinstance(answer, Hang):
            time.sleep(answer.seconds)
            answer = answer.then if answer.then is not None else {"kubeletconfig": {}}
        if isinstance(answer, int):
            self._status(answer, "ServiceUnavailable" if answer == 503 else "Error",
                         f"error trying to reach service: {answer}")
            return
        self._json(200, answer)

    def _create(self, rtype: ResourceType, namespace: str | None, body: bytes) -> None:
        api = self.api
        try:
            obj = json.loads(body)
        except ValueError:
            self._status(400, "BadRequest", "invalid JSON body")
            return
        meta = obj.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
            meta["name"] = name
        if not name:
            self._status(422, "Invalid", "metadata.name required")
            return
        if (namespace or "", name) in api.store.objects.get(rtype, {}):
            self._status(409, "AlreadyExists", f'{rtype.resource} "{name}" already exists')
            return
        obj.setdefault("kind", rtype.kind)
        obj.setdefault("apiVersion", rtype.group_version)
        api.store.put(rtype, obj)
        if rtype.resource == "daemonsets":
            api.created_daemonsets.append(copy.deepcopy(obj))
            _schedule_daemonset(api, obj)
            time.sleep(api.daemonset_create_delay)
        self._json(201, obj)

    def _delete(self, rtype: ResourceType, namespace: str | None, name: str) -> None:
        api = self.api
        obj = api.store.delete(rtype, namespace or "", name)
        if obj is None:
            self._status(404, "NotFound", f'{rtype.resource} "{name}" not found')
            return
        if rtype.resource == "daemonsets":
            api.deleted_daemonsets.append(name)
            pods_t = api.rtype_for("v1", "Pod")
            assert pods_t is not None
            for key, pod in list(api.store.objects.get(pods_t, {}).items()):
                owners = (pod.get("metadata") or {}).get("ownerReferences") or []
                if any(o.get("uid") == obj["metadata"]["uid"] for o in owners):
                    api.store.delete(pods_t, *key)
        self._json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                         "details": {"name": name, "kind": rtype.resource}})


@dataclass
class _Route:
    verb: str | None = None
    group: str | None = None
    rtype: ResourceType | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    rest: str = ""
    nonresource: str | None = None
    error: str | None = None

    @property
    def resource_name(self) -> str | None:
        if self.rtype is None:
            return None
        return self.rtype.resource + (f"/{self.subresource}" if self.subresource else "")


def _parse_path(api: FakeApiServer, method: str, path: str, query: dict[str, list[str]]) -> _Route:
    if path in ("/version", "/api", "/apis") or re.fullmatch(r"/api/v1|/apis/[^/]+/[^/]+", path):
        return _Route(verb="get", nonresource=path)
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return _Route(error=f"unknown path {path}")
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource, name = rest[0], (rest[1] if len(rest) > 1 else None)
    subresource = rest[2] if len(rest) > 2 else None
    rtype = api.rtype_by_resource(group, version, resource)
    if rtype is None:
        return _Route(group=group, error=f"the server could not find the requested resource ({path})")
    verb = {"GET": "get" if name else "list", "POST": "create", "DELETE": "delete"}.get(method, method.lower())
    return _Route(verb=verb, group=group, rtype=rtype, namespace=namespace, name=name,
                  subresource=subresource, rest="/".join(rest[3:]))


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


# -- the DaemonSet lifecycle ---------------------------------------------------


def _schedule_daemonset(api: FakeApiServer, ds: dict[str, Any]) -> None:
    nodes_t = api.rtype_for("v1", "Node")
    pods_t = api.rtype_for("v1", "Pod")
    assert nodes_t is not None and pods_t is not None
    template = ds["spec"]["template"]
    ns = ds["metadata"]["namespace"]
    for (_, node), _node_obj in sorted(api.store.objects.get(nodes_t, {}).items()):
        outcome = api.pod_outcomes[node] if node in api.pod_outcomes else api.default_pod_outcome(node)
        if outcome is None:
            continue          # never scheduled on this node
        name = f"{ds['metadata']['name']}-{uuid.uuid4().hex[:5]}"
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns,
                            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                 "name": ds["metadata"]["name"], "uid": ds["metadata"]["uid"],
                                                 "controller": True}]},
               "spec": {**copy.deepcopy(template["spec"]), "nodeName": node},
               "_outcome": outcome}
        api.store.put(pods_t, pod)
        api.pod_created[(ns, name)] = time.monotonic()
        if outcome.exit_code is not None:
            api.pod_logs[(ns, name)] = outcome.logs


def _with_pod_status(api: FakeApiServer, pod: dict[str, Any]) -> dict[str, Any]:
    outcome: PodOutcome | None = pod.get("_outcome")
    out = {k: v for k, v in pod.items() if k != "_outcome"}
    if outcome is None:
        return out
    meta = pod["metadata"]
    created = api.pod_created.get((meta["namespace"], meta["name"]), 0.0)
    init_names = [c["name"] for c in pod["spec"].get("initContainers") or ()]
    main_names = [c["name"] for c in pod["spec"].get("containers") or ()]
    visible = time.monotonic() - created >= outcome.delay
    waiting = {"waiting": {"reason": outcome.waiting_reason}}
    if not visible or outcome.exit_code is None:
        init_state, phase, main_state = waiting, "Pending", waiting
    elif outcome.exit_code == 0:
        init_state = {"terminated": {"exitCode": 0, "reason": "Completed"}}
        phase, main_state = "Running", {"running": {"startedAt": _now()}}
    else:
        init_state = {"terminated": {"exitCode": outcome.exit_code, "reason": "Error"}}
        phase, main_state = "Pending", {"waiting": {"reason": "PodInitializing"}}
    out["status"] = {
        "phase": phase,
        "initContainerStatuses": [{"name": n, "state": init_state, "ready": False, "restartCount": 0}
                                  for n in init_names],
        "containerStatuses": [{"name": n, "state": main_state, "ready": phase == "Running",
                               "restartCount": 0} for n in main_names],
    }
    return out


# -- a small kubeadm-like cluster -------------------------------------------------

KUBE_SYSTEM_UID = "5f0c3f9e-0000-4000-8000-00000000c1d5"


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{name}"))}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def _static_pod(component: str, node: str, args: list[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": _meta(f"{component}-{node}", "kube-system",
                              labels={"component": component, "tier": "control-plane"},
                              annotations={"kubernetes.io/config.source": "file"},
                              ownerReferences=[{"apiVersion": "v1", "kind": "Node", "name": node,
                                                "uid": "n-" + node, "controller": True}]),
            "spec": {"nodeName": node, "hostNetwork": True, "priorityClassName": "system-node-critical",
                     "containers": [{"name": component, "image": f"registry.k8s.io/{component}:v1.30.2",
                                     "command": [component, *args],
                                     "volumeMounts": [{"name": "k8s-certs", "mountPath": "/etc/kubernetes/pki",
                                                       "readOnly": True}]}],
                     "volumes": [{"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki",
                                                                    "type": "DirectoryOrCreate"}}]},
            "status": {"phase": "Running"}}


def sample_cluster() -> list[dict[str, Any]]:
    """A kubeadm-like cluster with one control-plane node and two workers,
    static control-plane pods, workloads, RBAC and policies. The same
    objects feed the API server and the manifest source in parity tests."""
    objs: list[dict[str, Any]] = []
    for ns, labels in (("default", {}), ("kube-system", {}), ("kube-public", {}),
                       ("app", {"pod-security.kubernetes.io/enforce": "restricted"})):
        meta = _meta(ns, labels={"kubernetes.io/metadata.name": ns, **labels})
        if ns == "kube-system":
            meta["uid"] = KUBE_SYSTEM_UID
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta, "status": {"phase": "Active"}})
    for node, cp in (("cp-1", True), ("worker-1", False), ("worker-2", False)):
        labels = {"kubernetes.io/hostname": node, "kubernetes.io/os": "linux"}
        if cp:
            labels["node-role.kubernetes.io/control-plane"] = ""
        objs.append({"apiVersion": "v1", "kind": "Node", "metadata": _meta(node, labels=labels),
                     "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane",
                                          "effect": "NoSchedule"}] if cp else []},
                     "status": {"nodeInfo": {"kubeletVersion": "v1.30.2", "osImage": "Debian GNU/Linux 12"},
                                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}})
    objs.append(_static_pod("kube-apiserver", "cp-1", [
        "--advertise-address=10.0.0.1", "--authorization-mode=Node,RBAC", "--anonymous-auth=false",
        "--enable-admission-plugins=NodeRestriction", "--profiling=false",
        "--etcd-servers=https://127.0.0.1:2379"]))
    objs.append(_static_pod("kube-controller-manager", "cp-1", ["--profiling=false",
                                                                "--use-service-account-credentials=true"]))
    objs.append(_static_pod("kube-scheduler", "cp-1", ["--profiling=false", "--bind-address=127.0.0.1"]))
    objs.append(_static_pod("etcd", "cp-1", ["--client-cert-auth=true", "--data-dir=/var/lib/etcd"]))
    for name in ("kube-proxy", "kubelet-config", "kubeadm-config"):
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, "kube-system"),
                     "data": {"config.conf" if name == "kube-proxy" else "kubelet" if name == "kubelet-config"
                              else "ClusterConfiguration": f"kind: {name}\nmetricsBindAddress: 127.0.0.1:10249\n"}})
    objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("app-settings", "app"),
                 "data": {"password": "do-not-read-me"}})
    objs.append({"apiVersion": "v1", "kind": "Secret", "metadata": _meta("db-password", "app"),
                 "type": "Opaque", "data": {"password": "c2VjcmV0"}})
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"serviceAccountName": "web", "automountServiceAccountToken": False,
                         "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                         "containers": [{"name": "web", "image": "nginx:1.27",
                                         "env": [{"name": "MODE", "value": "literal-secret-ish"}],
                                         "securityContext": {"allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}}}]}}
    objs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("web", "app"),
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
                 "status": {"replicas": 2, "readyReplicas": 2}})
    objs.append({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                 "metadata": _meta("web-5d8f", "app", ownerReferences=[
                     {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": True}]),
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template}})
    for i in range(2):
        objs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": _meta(f"web-5d8f-{i}", "app", labels={"app": "web"}, ownerReferences=[
                         {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "controller": True}]),
                     "spec": {**template["spec"], "nodeName": f"worker-{i + 1}"}, "status": {"phase": "Running"}})
    objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": _meta("debug", "default"),
                 "spec": {"hostPID": True, "containers": [{"name": "sh", "image": "busybox",
                                                            "securityContext": {"privileged": True}}]},
                 "status": {"phase": "Running"}})
    objs.append({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta("backup", "app"),
                 "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}})
    for ns in ("default", "kube-system", "app"):
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("default", ns)})
    objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("web", "app"),
                 "automountServiceAccountToken": False})
    objs.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta("kubernetes", "default"),
                 "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1"}})
    objs.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta("legacy", "default"),
                 "spec": {"type": "NodePort", "clusterIP": "10.96.0.20"}})
    objs.append({"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta("kubernetes", "default")})
    objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": _meta("cluster-admin"),
                 "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                           {"nonResourceURLs": ["*"], "verbs": ["*"]}]})
    objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": _meta("secret-reader"),
                 "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]})
    objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": _meta("cluster-admin"),
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]})
    objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta("pod-exec", "app"),
                 "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]})
    objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": _meta("web-secrets", "app"),
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-reader"},
                 "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "app"}]})
    objs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": _meta("default-deny", "app"),
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    objs.append({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                 "metadata": _meta("policy-webhook"),
                 "webhooks": [{"name": "validate.example.com", "failurePolicy": "Fail",
                               "clientConfig": {"service": {"name": "policy", "namespace": "kube-system"},
                                                "caBundle": "LS0t"},
                               "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                          "resources": ["pods"]}]}]})
    return objs


if __name__ == "__main__":   # manual poking: prints a kubeconfig and serves until ^C
    import sys
    with FakeApiServer() as srv:
        cfg = srv.write_kubeconfig(srv.tmpdir / "kubeconfig")
        print(f"serving on {srv.url}; KUBECONFIG={cfg}", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
