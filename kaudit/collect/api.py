"""Collect ClusterFacts from a live API server, the way kubectl connects.

Connection: `--kubeconfig`/`KUBECONFIG` (several files merged), `--context`,
in-cluster service account config, exec plugins and OIDC, custom CAs and
proxy variables, all through the official `kubernetes` client's config
loaders. Requests go through the client's ApiClient without model
deserialisation: the JSON of each page is parsed with `json.loads` and every
object goes straight through `kaudit.collect.trim.to_kobject`, so a 150,000-pod
cluster costs one paginated list per resource type, not one model per field.

What is read is `kaudit.collect.permissions.READS` (the same table prints the
ClusterRole), plus discovery, /version and each node's kubelet configz.
"""
from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.config import incluster_config
from kubernetes.config.config_exception import ConfigException

from kaudit import yamlsafe
from kaudit.collect import ClusterSource, Progress, SourceError, no_progress
from kaudit.collect.permissions import (GATEKEEPER_CONSTRAINTS_GROUP, NODE_PROXY_RULE, READS,
                                        ResourceRead)
from kaudit.collect.platform import detect_identity
from kaudit.collect.trim import NotAnObject, Sharer, to_kobject
from kaudit.model import ClusterFacts, NODE, NAMESPACE, kind_key

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0      # seconds: never let a server park the scan longer per attempt
MAX_BACKOFF = 8.0


# ---------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class Connection:
    api_client: kclient.ApiClient
    server: str           # https://host:port, named in every error message
    cluster_name: str     # the kubeconfig context's cluster, or "in-cluster"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def connect(kubeconfig: str | None = None, context: str | None = None, *, pool_size: int = 32) -> Connection:
    """Build an ApiClient like kubectl resolves its config.

    Order: an explicit kubeconfig path; else `KUBECONFIG` (":"-separated
    files, merged); else the in-cluster service account when running in a
    pod; else ~/.kube/config. A malformed or incomplete kubeconfig is a
    configuration error (exit 2).
    """
    cfg = kclient.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or None
    in_cluster = (path is None and context is None
                  and bool(os.environ.get(incluster_config.SERVICE_HOST_ENV_NAME))
                  and Path(incluster_config.SERVICE_TOKEN_FILENAME).exists())
    if in_cluster:
        try:
            incluster_config.InClusterConfigLoader(
                token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
                cert_filename=incluster_config.SERVICE_CERT_FILENAME,
            ).load_and_set(cfg)
        except ConfigException as exc:
            raise SourceError(f"in-cluster configuration is unusable: {_one_line(exc)}", exit_code=2) from exc
        cluster_name = "in-cluster"
    else:
        path = path or os.path.expanduser("~/.kube/config")
        if not any(Path(p).is_file() for p in path.split(os.pathsep) if p):
            raise SourceError(f"no kubeconfig found at {path} (pass --kubeconfig, set KUBECONFIG, "
                              f"or run inside a pod)", exit_code=2)
        for part in (p for p in path.split(os.pathsep) if p and Path(p).is_file()):
            _check_kubeconfig_shape(part)
        try:
            kconfig.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                     persist_config=False)
            contexts, active = kconfig.list_kube_config_contexts(config_file=path)
        except yaml.YAMLError as exc:
            raise SourceError(f"kubeconfig {path} is not valid YAML: {_yaml_problem(exc)}", exit_code=2) from exc
        except (ConfigException, ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
            # The loader reports missing keys and wrong shapes with assorted exceptions.
            raise SourceError(f"kubeconfig {path} is unusable: {_one_line(exc)}", exit_code=2) from exc
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
        cluster_name = str(((chosen or {}).get("context") or {}).get("cluster") or (chosen or {}).get("name") or "")
    # kaudit retries itself (bounded, honouring Retry-After); urllib3's silent
    # retries would multiply per-node timeouts and hide unreachable servers.
    cfg.retries = False
    # Enough pooled connections for the configz workers, or urllib3 discards and reconnects.
    cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, pool_size)
    return Connection(kclient.ApiClient(cfg), cfg.host.rstrip("/"), cluster_name or "unknown")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, never the snippet: a kubeconfig line may hold a token."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else str(problem)


def _check_kubeconfig_shape(path: str) -> None:
    """Reject a file that is not a kubeconfig mapping with a clear message
    (the client's loader fails on it with an unrelated TypeError)."""
    try:
        data = yamlsafe.load(yamlsafe.read_config(path, "kubeconfig"))   # size and aliases bounded
    except yaml.YAMLError as exc:
        raise SourceError(f"kubeconfig {path} is not valid YAML: {_yaml_problem(exc)}", exit_code=2) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"kubeconfig {path} cannot be read: {_one_line(exc)}", exit_code=2) from exc
    if data is not None and not isinstance(data, dict):
        raise SourceError(f"kubeconfig {path} is not a kubeconfig (expected a YAML mapping, "
                          f"got {type(data).__name__})", exit_code=2)


# ---------------------------------------------------------------------------
# HTTP over the client's ApiClient, with bounded retries
# ---------------------------------------------------------------------------

class HttpError(Exception):
    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"HTTP {status} {reason}: {message}".rstrip(": "))
        self.status = status
        self.reason = reason
        self.message = message


class RequestTimeout(Exception):
    pass


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: Mapping[str, str]
    data: bytes


@dataclass
class KubeHttp:
    """Raw JSON requests through `ApiClient.call_api` (no model objects)."""
    conn: Connection
    max_attempts: int = 5
    backoff: float = 0.5
    request_timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    retries_done: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def server(self) -> str:
        return self.conn.server

    def _send(self, method: str, path: str, query: list[tuple[str, Any]] | None,
              body: Any, timeout: Any) -> Response:
        api = self.conn.api_client
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            if hasattr(api, "param_serialize"):   # kubernetes >= 30 (new generator)
                request = api.param_serialize(method=method, resource_path=path, query_params=query or [],
                                              header_params=headers, body=body,
                                              auth_settings=["BearerToken"])
                raw = api.call_api(*request, _request_timeout=timeout)
                data = raw.read()
                return Response(raw.status, str(raw.reason or ""), raw.headers, data or b"")
            raw = api.call_api(path, method, query_params=query or [], header_params=headers, body=body,
                               auth_settings=["BearerToken"], _preload_content=False,
                               _return_http_data_only=True, _request_timeout=timeout)
            return Response(raw.status, str(raw.reason or ""), raw.headers, raw.data or b"")
        except kclient.ApiException as exc:
            if exc.status == 0:      # the client reports TLS failures as status 0
                raise SourceError(f"TLS connection to the API server {self.server} failed: "
                                  f"{_one_line(exc.reason)}", exit_code=3) from exc
            return Response(int(exc.status or 0), str(exc.reason or ""), exc.headers or {},
                            (exc.body or "").encode() if isinstance(exc.body, str) else (exc.body or b""))
        except urllib3.exceptions.SSLError as exc:
            raise SourceError(f"TLS connection to the API server {self.server} failed: {_one_line(exc)}",
                              exit_code=3) from exc
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                urllib3.exceptions.NameResolutionError) as exc:
            raise SourceError(f"cannot reach the API server {self.server}: {_one_line(_root_cause(exc))}",
                              exit_code=3) from exc
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise RequestTimeout(f"no answer within {_timeout_text(timeout)}") from exc
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.MaxRetryError,
                ConnectionError) as exc:
            raise HttpError(0, "connection error", _one_line(_root_cause(exc))) from exc

    def request(self, method: str, path: str, query: list[tuple[str, Any]] | None = None,
                body: Any = None, timeout: Any = None, attempts: int | None = None) -> Response:
        """One request; 429/5xx/dropped connections are retried with backoff
        (honouring Retry-After). 401 aborts the whole scan."""
        timeout = timeout if timeout is not None else (min(10.0, self.request_timeout), self.request_timeout)
        attempts = self.max_attempts if attempts is None else max(1, attempts)
        for attempt in range(attempts):
            try:
                resp = self._send(method, path, query, body, timeout)
            except HttpError:      # connection dropped mid-request
                if attempt + 1 >= attempts:
                    raise
                self._pause(attempt, None)
                continue
            if resp.status == 401:
                raise SourceError(f"the API server {self.server} rejected the credentials "
                                  f"(401 Unauthorized): check the kubeconfig user, token or exec plugin",
                                  exit_code=3)
            if resp.status in RETRYABLE_STATUS and attempt + 1 < attempts:
                self._pause(attempt, resp.headers.get("Retry-After") if resp.headers else None)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        with self._lock:
            self.retries_done += 1
        delay = min(MAX_BACKOFF, self.backoff * (2 ** attempt))
        if retry_after:
            delay = max(delay, _parse_retry_after(retry_after))
        self.sleep(min(delay, MAX_RETRY_AFTER))

    def get_json(self, path: str, query: list[tuple[str, Any]] | None = None, timeout: Any = None,
                 attempts: int | None = None) -> Any:
        resp = self.request("GET", path, query, timeout=timeout, attempts=attempts)
        return _json_or_raise(resp)

    def send_json(self, method: str, path: str, body: Any = None,
                  query: list[tuple[str, Any]] | None = None) -> Any:
        return _json_or_raise(self.request(method, path, query, body=body))


def _json_or_raise(resp: Response) -> Any:
    if not 200 <= resp.status <= 299:
        raise HttpError(resp.status, resp.reason, _status_message(resp.data))
    try:
        return json.loads(resp.data)
    except ValueError as exc:
        raise HttpError(resp.status, "invalid JSON", str(exc)) from exc


def _status_message(data: bytes) -> str:
    """The `message` of a Kubernetes Status body, shortened, one line."""
    try:
        body = json.loads(data)
        msg = body.get("message") if isinstance(body, dict) else None
    except ValueError:
        msg = data[:200].decode("utf-8", "replace")
    return _one_line(msg or "")[:300]


def _parse_retry_after(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else 0.0


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while getattr(seen, "reason", None) is not None and isinstance(seen.reason, BaseException):
        seen = seen.reason
    text = str(seen)
    if "Connection refused" in text or "Errno 111" in text:
        return ConnectionRefusedError("connection refused")
    return seen


def _timeout_text(timeout: Any) -> str:
    if isinstance(timeout, tuple):
        timeout = timeout[-1]
    return f"{float(timeout):g}s"


# ---------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------

class ApiSource(ClusterSource):
    name = "api"

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, *,
                 page_size: int = 500, configz_concurrency: int = 16, configz_timeout: float = 10.0,
                 request_timeout: float = 60.0, max_attempts: int = 5, backoff: float = 0.5,
                 connection: Connection | None = None) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.kubeconfig = kubeconfig
        self.context = context
        self.page_size = page_size
        self.configz_concurrency = max(1, configz_concurrency)
        self.configz_timeout = configz_timeout
        self.request_timeout = request_timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self._connection = connection
        self._discovery_cache: dict[tuple[str, str], Any] = {}
        self._sharer = Sharer()   # equal parts of replicas stored once (kaudit/collect/trim.py)

    # -- public ---------------------------------------------------------------

    def collect(self, progress: Progress = no_progress) -> ClusterFacts:
        conn = self._connection or connect(self.kubeconfig, self.context,
                                           pool_size=max(32, self.configz_concurrency + 4))
        http = KubeHttp(conn, max_attempts=self.max_attempts, backoff=self.backoff,
                        request_timeout=self.request_timeout)
        facts = ClusterFacts(source="api", listed=set())
        self._partial, self._read_done, self._configz_done = facts, set(), False
        self._discovery_cache = {}
        self._sharer = Sharer()
        facts.identity.api_server = conn.server
        facts.identity.name = conn.cluster_name
        progress(f"connecting to {conn.server}")
        facts.identity.version = self._version(http, facts)
        groups = self._discover_groups(http, facts)
        facts.groups = set(groups) if groups is not None else None
        for spec in READS:
            self._collect_read(http, spec, groups, facts, progress)
            self._read_done.add(spec.kind_key)
        self._collect_gatekeeper_constraints(http, groups, facts, progress)
        kube_system = [ns for ns in facts.of_kind(NAMESPACE) if ns.name == "kube-system"]
        if kube_system:
            facts.identity.cluster_id = kube_system[0].uid
        if NODE not in facts.unavailable:
            facts.identity.node_count = len(facts.of_kind(NODE))
            self._collect_configz(http, facts, progress)
        else:
            progress("kubelet configz skipped: nodes could not be listed")
        self._configz_done = True
        detect_identity(facts)
        return facts

    def partial_facts(self, reason: str) -> ClusterFacts | None:
        facts = getattr(self, "_partial", None)
        if facts is None or not facts.objects:
            return None
        why = f"not read: the scan was interrupted ({reason})"
        for spec in READS:
            if spec.kind_key not in self._read_done:
                facts.unavailable.setdefault(spec.kind_key, why)
        if not self._configz_done:
            for node in facts.of_kind(NODE):
                if node.name not in facts.kubelet_configz:
                    facts.configz_errors.setdefault(node.name, why)
        kube_system = [ns for ns in facts.of_kind(NAMESPACE) if ns.name == "kube-system"]
        if kube_system:
            facts.identity.cluster_id = kube_system[0].uid
        if NODE not in facts.unavailable:
            facts.identity.node_count = len(facts.of_kind(NODE))
        detect_identity(facts)
        return facts

    # -- identity and discovery -------------------------------------------

    def _version(self, http: KubeHttp, facts: ClusterFacts) -> str | None:
        try:
            info = http.get_json("/version")
        except HttpError as exc:
            if exc.status == 0:
                raise SourceError(f"cannot reach the API server {http.server}: {exc.message}") from exc
            facts.load_errors.append(f"api: /version: {exc}")
            return None
        except RequestTimeout as exc:
            raise SourceError(f"the API server {http.server} did not answer /version: {exc}") from exc
        version = info.get("gitVersion") if isinstance(info, dict) else None
        return str(version) if isinstance(version, str) else None

    def _discover_groups(self, http: KubeHttp, facts: ClusterFacts) -> dict[str, list[str]] | None:
        """Group name -> versions served, preferred first; None when /apis failed."""
        try:
            data = http.get_json("/apis")
        except (HttpError, RequestTimeout) as exc:
            facts.load_errors.append(f"api: discovery /apis failed: {exc}")
            return None
        groups: dict[str, list[str]] = {"": ["v1"]}
        for g in data.get("groups") or () if isinstance(data, dict) else ():
            if not isinstance(g, dict) or not isinstance(g.get("name"), str):
                continue
            preferred = ((g.get("preferredVersion") or {}).get("version"))
            versions = [v.get("version") for v in g.get("versions") or () if isinstance(v, dict)]
            versions = [v for v in versions if isinstance(v, str)]
            if isinstance(preferred, str) and preferred in versions:
                versions.remove(preferred)
                versions.insert(0, preferred)
            groups[g["name"]] = versions
        return groups

    def _group_version_resources(self, http: KubeHttp, group: str, version: str,
                                 cache: dict[tuple[str, str], Any]) -> dict[str, dict[str, Any]]:
        key = (group, version)
        if key not in cache:
            path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
            try:
                data = http.get_json(path)
                cache[key] = {r["name"]: r for r in data.get("resources") or ()
                              if isinstance(r, dict) and isinstance(r.get("name"), str) and "/" not in r["name"]}
            except (HttpError, RequestTimeout) as exc:
                cache[key] = exc
        result = cache[key]
        if isinstance(result, Exception):
            raise result
        return result

    def _resolve(self, http: KubeHttp, spec: ResourceRead, groups: dict[str, list[str]] | None,
                 facts: ClusterFacts) -> str | None:
        """The version to read `spec` at, or None when the resource is absent or
        discovery failed (then the reason is recorded as unavailable)."""
        if spec.group == "":
            return "v1"
        if groups is None:
            facts.unavailable[spec.kind_key] = "API discovery failed (/apis); not collected"
            return None
        served = groups.get(spec.group)
        if not served:
            return None                          # the group is not installed: absent
        for version in [v for v in served if v in spec.versions]:
            try:
                resources = self._group_version_resources(http, spec.group, version, self._discovery_cache)
            except (HttpError, RequestTimeout) as exc:
                facts.unavailable[spec.kind_key] = f"API discovery of {spec.group}/{version} failed: {exc}"
                return None
            if spec.resource in resources:
                return version
        return None

    # -- lists ----------------------------------------------------------------

    def _collect_read(self, http: KubeHttp, spec: ResourceRead, groups: dict[str, list[str]] | None,
                      facts: ClusterFacts, progress: Progress) -> None:
        version = self._resolve(http, spec, groups, facts)
        if version is None:
            if spec.kind_key not in facts.unavailable:
                facts.listed.add(spec.kind_key)     # discovery proved it is not served: none exist
            return
        prefix = f"/api/{version}" if not spec.group else f"/apis/{spec.group}/{version}"
        if spec.names:
            self._get_by_name(http, spec, prefix, facts, progress)
            return
        ns_part = f"/namespaces/{quote(spec.namespace, safe='')}" if spec.namespace else ""
        path = f"{prefix}{ns_part}/{spec.resource}"
        where = f" in namespace {spec.namespace}" if spec.namespace else (" (all namespaces)" if spec.namespaced else "")
        progress(f"listing {spec.rbac_name}{where}")
        self._list_into(http, path, spec.kind_key, spec.forbidden_reason(), facts, progress,
                        label=spec.rbac_name)

    def _list_into(self, http: KubeHttp, path: str, key: str, forbidden: str, facts: ClusterFacts,
                   progress: Progress, label: str) -> None:
        for restart in (True, False):
            try:
                objects = list(self._paged(http, path, facts))
            except HttpError as exc:
                if exc.status == 410 and restart:
                    # The continue token expired (a very slow list): start over once.
                    progress(f"listing {label}: continue token expired, restarting")
                    continue
                if exc.status == 403:
                    facts.unavailable[key] = forbidden
                elif exc.status == 404:
                    facts.listed.add(key)     # the collection record: read, and none exist
                    return       # discovered, then gone (CRD deleted mid-scan): absent
                else:
                    facts.unavailable[key] = f"could not list {label}: {exc}"
                return
            except RequestTimeout as exc:
                facts.unavailable[key] = f"could not list {label}: {exc}"
                return
            facts.objects.setdefault(key, []).extend(objects)
            facts.listed.add(key)
            progress(f"listed {label}: {len(objects)}")
            return

    def _paged(self, http: KubeHttp, path: str, facts: ClusterFacts) -> Iterator[Any]:
        token: str | None = None
        page_no = 0
        while True:
            query: list[tuple[str, Any]] = [("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            page = http.get_json(path, query)
            if not isinstance(page, dict):
                raise HttpError(200, "invalid list", f"{path} did not return a list object")
            list_kind = page.get("kind")
            item_kind = list_kind[:-4] if isinstance(list_kind, str) and list_kind.endswith("List") else None
            api_version = page.get("apiVersion")
            for index, item in enumerate(page.get("items") or ()):
                if isinstance(item, dict):
                    # List items carry no kind/apiVersion: the list names them.
                    if item_kind and "kind" not in item:
                        item["kind"] = item_kind
                    if api_version and "apiVersion" not in item:
                        item["apiVersion"] = api_version
                try:
                    yield self._sharer.kobject(to_kobject(item, origin="api"))
                except NotAnObject as exc:
                    facts.load_errors.append(f"api: {path} page {page_no} item {index}: {exc}")
            token = (page.get("metadata") or {}).get("continue") or None
            page_no += 1
            if not token:
                return

    def _get_by_name(self, http: KubeHttp, spec: ResourceRead, prefix: str, facts: ClusterFacts,
                     progress: Progress) -> None:
        ns_part = f"/namespaces/{quote(spec.namespace, safe='')}" if spec.namespace else ""
        progress(f"reading {spec.rbac_name} {', '.join(spec.names)}"
                 + (f" in {spec.namespace}" if spec.namespace else ""))
        found = []
        for name in spec.names:
            try:
                raw = http.get_json(f"{prefix}{ns_part}/{spec.resource}/{quote(name, safe='')}")
            except HttpError as exc:
                if exc.status == 404:
                    continue
                facts.unavailable[spec.kind_key] = (spec.forbidden_reason() if exc.status == 403
                                                    else f"could not read {spec.rbac_name}/{name}: {exc}")
                return
            except RequestTimeout as exc:
                facts.unavailable[spec.kind_key] = f"could not read {spec.rbac_name}/{name}: {exc}"
                return
            try:
                found.append(to_kobject(raw, origin="api"))
            except NotAnObject as exc:
                facts.load_errors.append(f"api: {spec.rbac_name}/{name}: {exc}")
        if found:
            facts.objects.setdefault(spec.kind_key, []).extend(found)
        facts.listed.add(spec.kind_key)

    def _collect_gatekeeper_constraints(self, http: KubeHttp, groups: dict[str, list[str]] | None,
                                        facts: ClusterFacts, progress: Progress) -> None:
        """Gatekeeper makes one constraint CRD per template: list every kind
        discovery shows in constraints.gatekeeper.sh."""
        served = (groups or {}).get(GATEKEEPER_CONSTRAINTS_GROUP)
        if not served:
            return
        version = served[0]
        try:
            resources = self._group_version_resources(http, GATEKEEPER_CONSTRAINTS_GROUP, version,
                                                      self._discovery_cache)
        except (HttpError, RequestTimeout) as exc:
            facts.load_errors.append(f"api: discovery of {GATEKEEPER_CONSTRAINTS_GROUP}/{version} failed: {exc}")
            return
        for plural, res in sorted(resources.items()):
            kind = res.get("kind")
            if not isinstance(kind, str) or "list" not in (res.get("verbs") or ()):
                continue
            key = kind_key(f"{GATEKEEPER_CONSTRAINTS_GROUP}/{version}", kind)
            label = f"{plural}.{GATEKEEPER_CONSTRAINTS_GROUP}"
            progress(f"listing {label}")
            path = f"/apis/{GATEKEEPER_CONSTRAINTS_GROUP}/{version}/{quote(plural, safe='')}"
            self._list_into(http, path, key, f"forbidden: needs list on {label}", facts, progress, label)
        facts.enumerated_groups.add(GATEKEEPER_CONSTRAINTS_GROUP)   # every constraint kind discovery shows

    # -- kubelet configz --------------------------------------------------------

    def _collect_configz(self, http: KubeHttp, facts: ClusterFacts, progress: Progress) -> None:
        names = [n.name for n in facts.of_kind(NODE)]
        if not names:
            return
        total = len(names)
        progress(f"reading kubelet configz of {total} nodes ({self.configz_concurrency} at a time)")
        done = 0
        step = max(1, total // 10)
        pool = ThreadPoolExecutor(max_workers=min(self.configz_concurrency, total), thread_name_prefix="configz")
        try:
            for name, config, error in pool.map(lambda n: self._configz_one(http, n), names):
                if config is not None:
                    facts.kubelet_configz[name] = config
                else:
                    facts.configz_errors[name] = error or "unknown error"
                done += 1
                if done % step == 0 or done == total:
                    progress(f"kubelet configz: {done}/{total} nodes "
                             f"({len(facts.configz_errors)} unavailable)")
        finally:
            # On SIGTERM (ScanInterrupted) requests in flight are not waited for: the report comes first.
            pool.shutdown(wait=False, cancel_futures=True)

    def _configz_one(self, http: KubeHttp, node: str) -> tuple[str, dict[str, Any] | None, str | None]:
        path = f"/api/v1/nodes/{quote(node, safe='')}/proxy/configz"
        try:
            # One retry only: a dead kubelet answers 503 through the proxy, and
            # thousands of nodes times full backoff would stall the scan.
            data = http.get_json(path, timeout=self.configz_timeout, attempts=2)
        except RequestTimeout as exc:
            return node, None, f"timed out: {exc}"
        except HttpError as exc:
            if exc.status == 403:
                return node, None, f"forbidden: needs get on {NODE_PROXY_RULE['resources'][0]}"
            return node, None, f"unavailable: {exc}"
        config = data.get("kubeletconfig") if isinstance(data, dict) else None
        if not isinstance(config, dict):
            return node, None, "unavailable: configz answer has no kubeletconfig object"
        return node, config, None
