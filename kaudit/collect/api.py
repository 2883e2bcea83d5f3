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
import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import quote, urlsplit

import urllib3
import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.config import incluster_config
from kubernetes.config.config_exception import ConfigException

from kaudit import yamlsafe
from kaudit.collect import ClusterSource, Progress, SourceError, no_progress
from kaudit.collect.limits import (DEFAULT_API_DEADLINE, DEFAULT_CONFIGZ_TIMEOUT, DEFAULT_EXEC_TIMEOUT,
                                   DEFAULT_MAX_LIST_PAGES, DEFAULT_REQUEST_TIMEOUT)
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
    cluster_name: str     # the kubeconfig context's name, or the API host in a pod (never a path)
    user: str | None = None   # the kubeconfig context's user (the operator when SelfSubjectReview is refused)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def connect(kubeconfig: str | None = None, context: str | None = None, *, pool_size: int = 32,
            exec_timeout: float = DEFAULT_EXEC_TIMEOUT) -> Connection:
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
        cluster_name = urlsplit(cfg.host).hostname or "in-cluster"
        user = None
    else:
        path = path or os.path.expanduser("~/.kube/config")
        if not any(Path(p).is_file() for p in path.split(os.pathsep) if p):
            raise SourceError(f"no kubeconfig found at {path} (pass --kubeconfig, set KUBECONFIG, "
                              f"or run inside a pod)", exit_code=2)
        for part in (p for p in path.split(os.pathsep) if p and Path(p).is_file()):
            _check_kubeconfig_shape(part)
        try:
            contexts, active = kconfig.list_kube_config_contexts(config_file=path)
            known = [str(c.get("name")) for c in contexts or () if isinstance(c, dict)]
            if context is not None and context not in known:
                from kaudit.report.common import visible
                raise SourceError(visible(f"context {context!r} not found in {path}; contexts: "
                                          f"{', '.join(known) or 'none'}")[:1000], exit_code=2)
            chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
            _within(exec_timeout, lambda: kconfig.load_kube_config(
                config_file=path, context=context, client_configuration=cfg, persist_config=False),
                lambda: _exec_hung_message(path, chosen, exec_timeout))
        except yaml.YAMLError as exc:
            raise SourceError(f"kubeconfig {path} is not valid YAML: {_yaml_problem(exc)}", exit_code=2) from exc
        except (ConfigException, ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
            # The loader reports missing keys and wrong shapes with assorted exceptions.
            raise SourceError(f"kubeconfig {path} is unusable: {_one_line(exc)}", exit_code=2) from exc
        cluster_name = str((chosen or {}).get("name") or ((chosen or {}).get("context") or {}).get("cluster") or "")
        user = ((chosen or {}).get("context") or {}).get("user")
        user = f"{user} (kubeconfig user)" if user else None
    # kaudit retries itself (bounded, honouring Retry-After); urllib3's silent
    # retries would multiply per-node timeouts and hide unreachable servers.
    cfg.retries = False
    # Enough pooled connections for the configz workers, or urllib3 discards and reconnects.
    cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, pool_size)
    return Connection(kclient.ApiClient(cfg), cfg.host.rstrip("/"), cluster_name or "unknown", user)


def _within(seconds: float, load: Callable[[], None], hung_message: Callable[[], str]) -> None:
    """Run the kubeconfig loader with a time limit. The loader runs the
    user's exec credential plugin (`users[].user.exec`) and waits for it
    without one; a plugin that hangs (waiting for a browser login, a dead
    metadata server) would hold the scan for ever. On expiry the plugin
    processes are killed and the scan stops with one line."""
    before = _child_pids()
    box: dict[str, BaseException] = {}
    done = threading.Event()

    def work() -> None:
        try:
            load()
        except BaseException as exc:     # handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="kaudit-kubeconfig", daemon=True)
    worker.start()
    if not done.wait(seconds):
        for pid in _child_pids() - before:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # The loader logs the killed plugin ("exec: process returned -9") on the
        # root logger; the one line below says it better.
        logging.disable(logging.CRITICAL)
        try:
            worker.join(2.0)
        finally:
            logging.disable(logging.NOTSET)
        raise SourceError(hung_message(), exit_code=3)
    if "error" in box:
        raise box["error"]


def _child_pids() -> set[int]:
    """This process's descendants (Linux /proc): the exec plugin and whatever
    it started (`aws` runs python, `kubelogin` a browser helper)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
            parents[int(entry.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        found |= frontier
    return found


def _exec_hung_message(path: str, context: Mapping[str, Any] | None, seconds: float) -> str:
    user = str(((context or {}).get("context") or {}).get("user") or "")
    command = ""
    for part in (p for p in path.split(os.pathsep) if p and Path(p).is_file()):
        try:
            data = yamlsafe.load(Path(part).read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue
        for entry in data.get("users") or () if isinstance(data, dict) else ():
            if isinstance(entry, dict) and entry.get("name") == user:
                exec_cfg = (entry.get("user") or {}).get("exec") if isinstance(entry.get("user"), dict) else None
                if isinstance(exec_cfg, dict) and isinstance(exec_cfg.get("command"), str):
                    command = exec_cfg["command"]
                    break
        if command:
            break
    what = f'the exec credential plugin "{_one_line(command)[:120]}"' if command else "the exec credential plugin"
    return (f"kubeconfig {path}: {what} of user \"{_one_line(user)[:120]}\" did not finish within "
            f"{seconds:g}s (--exec-timeout); it was stopped")


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
    def __init__(self, status: int, reason: str, message: str = "", status_body: Any = None) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}".rstrip(": "))
        self.status = status
        self.reason = reason
        self.message = message
        self.status_body = status_body if isinstance(status_body, dict) else {}   # a Kubernetes Status


class RequestTimeout(Exception):
    pass


class DeadlineExceeded(RequestTimeout):
    """The scan's overall API time limit ran out: nothing more is requested."""


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: Mapping[str, str]
    data: bytes


@dataclass
class KubeHttp:
    """Raw JSON requests through `ApiClient.call_api` (no model objects).

    Every request has a total time limit (connect, headers and the whole
    body): the client's own timeouts apply per socket read, so a server that
    trickles a byte every few seconds would otherwise hold a request for
    ever. `deadline` (a `time.monotonic()` value) bounds everything, retries
    and Retry-After pauses included: past it, requests fail at once.
    """
    conn: Connection
    max_attempts: int = 5
    backoff: float = 0.5
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    deadline: float | None = None
    deadline_text: str = ""          # how the overall limit is named in errors
    sleep: Callable[[float], None] = time.sleep
    retries_done: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def server(self) -> str:
        return self.conn.server

    def _budget(self, timeout: float) -> tuple[float, str]:
        """Seconds this request may take (its own limit, cut by the deadline),
        and how to say that it ran out."""
        own = f"no complete answer within {timeout:g}s"
        if self.deadline is None:
            return timeout, own
        left = self.deadline - time.monotonic()
        overall = self.deadline_text or "the API time limit"
        if left <= 0:
            raise DeadlineExceeded(f"{overall} ran out before this request")
        if left < timeout:
            return left, f"no complete answer before {overall} ran out"
        return timeout, own

    def _send(self, method: str, path: str, query: list[tuple[str, Any]] | None,
              body: Any, total: float, expired: str = "") -> Response:
        """`_send_blocking` in a worker thread, waited for at most `total`
        seconds; on expiry the response being read is shut down, so the
        worker ends too (a worker still connecting ends at its socket
        timeout, which is `total` as well)."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["response"] = self._send_blocking(method, path, query, body, total, box)
            except BaseException as exc:      # handed to the waiting thread
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=work, name="kaudit-http", daemon=True)
        worker.start()
        if not done.wait(total):
            box["abandoned"] = True
            _shut(box.get("live"))
            raise RequestTimeout(expired or f"no complete answer within {total:g}s")
        error = box.get("error")
        if isinstance(error, RequestTimeout):
            # The socket's own time-out (also `total`) fired first: the same limit.
            raise RequestTimeout(expired or f"no complete answer within {total:g}s") from error
        if error is not None:
            raise error
        return box["response"]

    def _send_blocking(self, method: str, path: str, query: list[tuple[str, Any]] | None,
                       body: Any, total: float, box: dict[str, Any]) -> Response:
        api = self.conn.api_client
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        timeout = (min(10.0, total), total)      # per socket operation; `_send` bounds the sum
        try:
            if hasattr(api, "param_serialize"):   # kubernetes >= 30 (new generator)
                # param_serialize runs the credential refresh hook (an exec plugin
                # on token expiry), so it is inside the time limit too.
                request = api.param_serialize(method=method, resource_path=path, query_params=query or [],
                                              header_params=headers, body=body,
                                              auth_settings=["BearerToken"])
                raw = api.call_api(*request, _request_timeout=timeout)
                live = raw.response
            else:
                raw = api.call_api(path, method, query_params=query or [], header_params=headers, body=body,
                                   auth_settings=["BearerToken"], _preload_content=False,
                                   _return_http_data_only=True, _request_timeout=timeout)
                live = raw
            box["live"] = live
            if box.get("abandoned"):
                _shut(live)
            data = live.data
            return Response(raw.status, str(raw.reason or ""), raw.headers, data or b"")
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
            raise RequestTimeout(f"no answer within {total:g}s") from exc
        except (urllib3.exceptions.HTTPError, ConnectionError, OSError) as exc:
            # Reset, cut short mid-body (ProtocolError, IncompleteRead), or the
            # socket shut by `_send` after the time limit.
            if box.get("abandoned"):
                raise RequestTimeout(f"no complete answer within {total:g}s") from exc
            raise HttpError(0, "connection error", _one_line(_root_cause(exc))) from exc

    def request(self, method: str, path: str, query: list[tuple[str, Any]] | None = None,
                body: Any = None, timeout: float | None = None, attempts: int | None = None) -> Response:
        """One request; 429/5xx/dropped connections are retried with backoff
        (honouring Retry-After) while the deadline allows. 401 aborts the
        whole scan. A request that runs out of time is not retried: the
        same server would most likely keep a second attempt as long."""
        limit = timeout if timeout is not None else self.request_timeout
        attempts = self.max_attempts if attempts is None else max(1, attempts)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                resp = self._send(method, path, query, body, *self._budget(limit))
            except HttpError:      # connection dropped mid-request
                if last or not self._pause(attempt, None):
                    raise
                continue
            if resp.status == 401:
                raise SourceError(f"the API server {self.server} rejected the credentials "
                                  f"(401 Unauthorized): check the kubeconfig user, token or exec plugin",
                                  exit_code=3)
            if resp.status in RETRYABLE_STATUS and not last:
                if self._pause(attempt, resp.headers.get("Retry-After") if resp.headers else None):
                    continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: str | None) -> bool:
        """Sleep before the next attempt; False (no sleep) when the pause
        would end past the deadline, so the last answer stands."""
        delay = min(MAX_BACKOFF, self.backoff * (2 ** attempt))
        if retry_after:
            delay = max(delay, _parse_retry_after(retry_after))
        delay = min(delay, MAX_RETRY_AFTER)
        if self.deadline is not None and time.monotonic() + delay >= self.deadline:
            return False
        with self._lock:
            self.retries_done += 1
        self.sleep(delay)
        return True

    def get_json(self, path: str, query: list[tuple[str, Any]] | None = None, timeout: float | None = None,
                 attempts: int | None = None) -> Any:
        resp = self.request("GET", path, query, timeout=timeout, attempts=attempts)
        return _json_or_raise(resp)

    def send_json(self, method: str, path: str, body: Any = None,
                  query: list[tuple[str, Any]] | None = None) -> Any:
        return _json_or_raise(self.request(method, path, query, body=body))


def _shut(live: Any) -> None:
    """Unblock a thread reading `live` (a urllib3 response) from another thread."""
    if live is None:
        return
    try:
        live.shutdown()          # urllib3 >= 2.3: shuts the socket down for reading
    except Exception:            # older urllib3, or already closed: nothing to unblock
        pass


def _json_or_raise(resp: Response) -> Any:
    if not 200 <= resp.status <= 299:
        status_body = _status_body(resp.data)
        raise HttpError(resp.status, resp.reason, _status_message(resp.data), status_body)
    try:
        return json.loads(resp.data)
    except ValueError as exc:
        raise HttpError(resp.status, "invalid JSON", str(exc)) from exc


def _status_body(data: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return body if isinstance(body, dict) and body.get("kind") == "Status" else None


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


def _object_not_found(exc: HttpError, name: str) -> bool:
    """A 404 about the object itself (its Status names it), as opposed to a
    404 for the whole resource path (not served, a proxy in the way)."""
    details = exc.status_body.get("details")
    return (exc.status_body.get("reason") == "NotFound" and isinstance(details, dict)
            and details.get("name") == name)


# ---------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------

class BrokenList(Exception):
    """A paginated list that cannot be a complete list (endless or repeating)."""


class ApiSource(ClusterSource):
    name = "api"

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, *,
                 page_size: int = 500, configz_concurrency: int = 16,
                 configz_timeout: float = DEFAULT_CONFIGZ_TIMEOUT,
                 request_timeout: float = DEFAULT_REQUEST_TIMEOUT, deadline: float = DEFAULT_API_DEADLINE,
                 max_list_pages: int = DEFAULT_MAX_LIST_PAGES, exec_timeout: float = DEFAULT_EXEC_TIMEOUT,
                 max_attempts: int = 5, backoff: float = 0.5,
                 connection: Connection | None = None) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if min(configz_timeout, request_timeout, deadline, exec_timeout) <= 0 or max_list_pages < 1:
            raise ValueError("time limits must be positive and max_list_pages at least 1")
        self.kubeconfig = kubeconfig
        self.context = context
        self.page_size = page_size
        self.configz_concurrency = max(1, configz_concurrency)
        self.configz_timeout = configz_timeout
        self.request_timeout = request_timeout
        self.deadline = deadline
        self.max_list_pages = max_list_pages
        self.exec_timeout = exec_timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self._connection = connection
        self._discovery_cache: dict[tuple[str, str], Any] = {}
        self._sharer = Sharer()   # equal parts of replicas stored once (kaudit/collect/trim.py)

    # -- public ---------------------------------------------------------------

    def collect(self, progress: Progress = no_progress) -> ClusterFacts:
        conn = self._connection or connect(self.kubeconfig, self.context,
                                           pool_size=max(32, self.configz_concurrency + 4),
                                           exec_timeout=self.exec_timeout)
        http = KubeHttp(conn, max_attempts=self.max_attempts, backoff=self.backoff,
                        request_timeout=self.request_timeout, deadline=time.monotonic() + self.deadline,
                        deadline_text=f"the scan's API time limit ({self.deadline:g}s, --api-deadline)")
        facts = ClusterFacts(source="api", listed=set())
        self._partial, self._read_done, self._configz_done = facts, set(), False
        self._discovery_cache = {}
        self._sharer = Sharer()
        facts.identity.api_server = conn.server
        facts.identity.name = conn.cluster_name
        progress(f"connecting to {conn.server}")
        facts.identity.version = self._version(http, facts)
        facts.operator = self._operator(http, facts) or conn.user
        facts.image = self._own_image(http, facts)
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
        """gitVersion from /version. A failure is recorded (the report is then
        incomplete: version-dependent defaults and the platform are guesses)
        and the scan goes on; only an unreachable server ends it."""
        try:
            info = http.get_json("/version")
        except (HttpError, RequestTimeout) as exc:
            facts.load_errors.append(f"api: /version could not be read: {exc}")
            return None
        version = info.get("gitVersion") if isinstance(info, dict) else None
        if not isinstance(version, str) or not version.strip():
            facts.load_errors.append("api: /version could not be read: the answer has no gitVersion")
            return None
        return version

    def _operator(self, http: KubeHttp, facts: ClusterFacts) -> str | None:
        """Who the API server says we are (SelfSubjectReview, authentication.k8s.io/v1,
        GA in 1.28; every authenticated user may create one). None when refused or absent."""
        try:
            review = http.send_json("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        except (HttpError, RequestTimeout) as exc:
            facts.load_errors.append(f"api: operator identity (SelfSubjectReview) not available: {exc}")
            return None
        from kaudit.attribution import operator_from_review
        return operator_from_review(review)

    def _own_image(self, http: KubeHttp, facts: ClusterFacts) -> str | None:
        """Inside a pod: the image digest from the pod's own status (POD_NAME and
        POD_NAMESPACE set by the downward API, see job/job.yaml)."""
        name, namespace = os.environ.get("POD_NAME"), os.environ.get("POD_NAMESPACE")
        if not name or not namespace:
            return None
        from kaudit.attribution import image_of_pod
        # A list with a field selector, not a get: the ClusterRole grants list on pods only.
        try:
            found = http.get_json(f"/api/v1/namespaces/{quote(namespace, safe='')}/pods",
                                  [("fieldSelector", f"metadata.name={name}")])
        except (HttpError, RequestTimeout) as exc:
            facts.load_errors.append(f"api: own pod {namespace}/{name} (image digest): {exc}")
            return None
        items = found.get("items") if isinstance(found, dict) else None
        pod = next((p for p in items or () if isinstance(p, dict)
                    and (p.get("metadata") or {}).get("name") == name), None)
        return image_of_pod(pod, os.environ.get("KAUDIT_CONTAINER_NAME")) if pod else None

    def _discover_groups(self, http: KubeHttp, facts: ClusterFacts) -> dict[str, list[str]] | None:
        """Group name -> versions served, preferred first; None when /apis failed."""
        try:
            data = http.get_json("/apis")
            if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
                raise HttpError(200, "invalid discovery", "/apis did not return an APIGroupList")
        except (HttpError, RequestTimeout) as exc:
            facts.load_errors.append(f"api: discovery /apis failed: {exc}")
            return None
        groups: dict[str, list[str]] = {"": ["v1"]}
        for g in data["groups"]:
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
                if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
                    raise HttpError(200, "invalid discovery", f"{path} did not return an APIResourceList")
                cache[key] = {r["name"]: r for r in data["resources"]
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
        discovery failed (then the reason is recorded as unavailable).

        Only an add-on kind (`optional`) that discovery does not show is "not
        installed"; a built-in kind (RBAC, apps, batch, networking, webhooks)
        is served by every conformant API server, so its absence from
        discovery is a collection error, not an empty cluster."""
        if spec.group == "":
            return "v1"
        if groups is None:
            facts.unavailable[spec.kind_key] = "API discovery failed (/apis); not collected"
            return None
        for version in [v for v in groups.get(spec.group) or () if v in spec.versions]:
            try:
                resources = self._group_version_resources(http, spec.group, version, self._discovery_cache)
            except (HttpError, RequestTimeout) as exc:
                facts.unavailable[spec.kind_key] = f"API discovery of {spec.group}/{version} failed: {exc}"
                return None
            if spec.resource in resources:
                return version
        if not spec.optional:
            facts.unavailable[spec.kind_key] = (f"the API server's discovery does not list {spec.rbac_name} "
                                                f"({'/'.join(spec.versions)}), which every API server serves")
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
        """All pages or nothing: a list that fails on any page keeps none of
        the earlier pages, and the kind is unavailable with the reason. The
        kind was discovered (or is core), so a 404 is an error too, not
        "no objects"."""
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
                    facts.unavailable[key] = (f"could not list {label}: {exc} (the API server's discovery "
                                              f"says it is served)")
                else:
                    facts.unavailable[key] = f"could not list {label}: {exc}"
                return
            except (RequestTimeout, BrokenList) as exc:
                facts.unavailable[key] = f"could not list {label}: {exc}"
                return
            facts.objects.setdefault(key, []).extend(objects)
            facts.listed.add(key)
            progress(f"listed {label}: {len(objects)}")
            return

    def _paged(self, http: KubeHttp, path: str, facts: ClusterFacts) -> Iterator[Any]:
        token: str | None = None
        page_no = 0
        seen_tokens: set[str] = set()
        seen_objects: set[tuple[str, str]] = set()
        while True:
            query: list[tuple[str, Any]] = [("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            page = http.get_json(path, query)
            items = page.get("items") if isinstance(page, dict) else None
            list_kind = page.get("kind") if isinstance(page, dict) else None
            # A list answer is a `<Kind>List` with an `items` array (empty
            # lists included); anything else (a Status, {}, a bare array) is
            # not "no objects".
            if not isinstance(items, list) or not (isinstance(list_kind, str) and list_kind.endswith("List")):
                raise HttpError(200, "invalid list", f"page {page_no + 1} of {path} is not a list object")
            item_kind = list_kind[:-4]
            api_version = page.get("apiVersion")
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    # List items carry no kind/apiVersion: the list names them.
                    if item_kind and "kind" not in item:
                        item["kind"] = item_kind
                    if api_version and "apiVersion" not in item:
                        item["apiVersion"] = api_version
                try:
                    obj = self._sharer.kobject(to_kobject(item, origin="api"))
                except NotAnObject as exc:
                    # An item that is not an object is an object not seen: the list is not whole.
                    raise BrokenList(f"page {page_no + 1} item {index} is not an object: {exc}") from exc
                # One list is one consistent snapshot: an object twice means
                # the pages do not add up (a server looping on its pages).
                ident = (obj.namespace or "", obj.name)
                if ident in seen_objects:
                    raise BrokenList(f"the server returned {'/'.join(filter(None, ident))} twice "
                                     f"(page {page_no + 1}): the pages are not one list")
                seen_objects.add(ident)
                yield obj
            meta = page.get("metadata")
            token = (meta.get("continue") if isinstance(meta, dict) else None) or None
            page_no += 1
            if not token:
                return
            if not isinstance(token, str) or token in seen_tokens:
                raise BrokenList(f"the server repeated a continue token after page {page_no}: "
                                 f"the list would never end")
            if page_no >= self.max_list_pages:
                raise BrokenList(f"still not finished after {page_no} pages of {self.page_size} "
                                 f"(--api-max-pages): the continue tokens never end")
            seen_tokens.add(token)

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
                if exc.status == 404 and _object_not_found(exc, name):
                    continue       # the object does not exist (no kube-proxy ConfigMap)
                facts.unavailable[spec.kind_key] = (spec.forbidden_reason() if exc.status == 403
                                                    else f"could not read {spec.rbac_name}/{name}: {exc}")
                return
            except RequestTimeout as exc:
                facts.unavailable[spec.kind_key] = f"could not read {spec.rbac_name}/{name}: {exc}"
                return
            try:
                if not isinstance(raw, dict) or raw.get("kind") not in (None, spec.kind):
                    raise NotAnObject(f"the answer is not a {spec.kind}")
                found.append(to_kobject({"kind": spec.kind, "apiVersion": prefix.split("/", 2)[-1], **raw},
                                        origin="api"))
            except NotAnObject as exc:
                facts.unavailable[spec.kind_key] = f"could not read {spec.rbac_name}/{name}: {exc}"
                return
        if found:
            facts.objects.setdefault(spec.kind_key, []).extend(found)
        facts.listed.add(spec.kind_key)

    def _collect_gatekeeper_constraints(self, http: KubeHttp, groups: dict[str, list[str]] | None,
                                        facts: ClusterFacts, progress: Progress) -> None:
        """Gatekeeper makes one constraint CRD per template: list every kind
        discovery shows in constraints.gatekeeper.sh."""
        if groups is None:      # unknown whether Gatekeeper is installed: its constraints are unseen
            facts.unavailable[f"*.{GATEKEEPER_CONSTRAINTS_GROUP}"] = "API discovery failed (/apis); not collected"
            return
        served = groups.get(GATEKEEPER_CONSTRAINTS_GROUP)
        if not served:
            return
        version = served[0]
        try:
            resources = self._group_version_resources(http, GATEKEEPER_CONSTRAINTS_GROUP, version,
                                                      self._discovery_cache)
        except (HttpError, RequestTimeout) as exc:
            # The constraint kinds are unknown, so none can be named: one entry
            # stands for all of them (policy checks treat it as hidden policy).
            facts.unavailable[f"*.{GATEKEEPER_CONSTRAINTS_GROUP}"] = (
                f"API discovery of {GATEKEEPER_CONSTRAINTS_GROUP}/{version} failed: {exc}")
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
