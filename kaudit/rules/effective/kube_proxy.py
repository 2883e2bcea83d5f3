"""kube-proxy's effective configuration, resolved the way kube-proxy does it.

cmd/kube-proxy/app/options.go (`Options.Complete`): with `--config FILE`
the decoded file *replaces* the configuration built from the command line
(`o.config = c`); only the logging flags and `--hostname-override` are
carried over. Every other flag is ignored, as its `--help` says ("This
parameter is ignored if a config file is specified by --config").
The file is decoded with the v1alpha1 defaulting (pkg/proxy/apis/config/
v1alpha1/defaults.go, SetDefaults_KubeProxyConfiguration): an empty
`metricsBindAddress` becomes 127.0.0.1:10249, or [::1]:10249 when
`bindAddress` (default 0.0.0.0) is not IPv4, and an address without a port
gets :10249 (proxyutil.AppendPortIfNeeded).
Without `--config` the flags apply over the same defaults; the deprecated
`--metrics-port` sets the port of `--metrics-bind-address` (0 disables it).

kubeadm runs kube-proxy as a DaemonSet whose `--config` file comes from the
`kube-proxy` ConfigMap in kube-system (cmd/kubeadm/app/phases/addons/proxy/
manifests.go: volume `kube-proxy` mounted at /var/lib/kube-proxy, key
config.conf). That file is not on the host, so it is read from the
ConfigMap the DaemonSet mounts.
"""
from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass, field
from typing import Any, Mapping

from kaudit import components as comp
from kaudit.model import CONFIG_MAP, CUT_SHORT_ERROR, DAEMON_SET, Facts, KObject, NodeFacts, Target
from kaudit.rules import defaults
from kaudit.rules.effective.kubelet import find_process
from kaudit.rules.effective.values import CONFIG_FILE, DEFAULT, FLAG, UNKNOWN, Setting, as_text, get_path
from kaudit.rules.flags import FlagSet, all_in_one_config_error, parse_flags, pod_argv
from kaudit.rules.nodefiles import node_yaml, parse_yaml_mapping
from kaudit.rules.predicates import Context

V1ALPHA1 = "kubeproxy.config.k8s.io/v1alpha1"
METRICS_PORT = 10249   # pkg/cluster/ports ProxyStatusPort
HEALTHZ_PORT = 10256   # ProxyHealthzPort


@dataclass(slots=True)
class ProxyView:
    """One kube-proxy: a process on an inspected node, or the kube-system
    DaemonSet when no node was inspected."""
    node: str
    target: Target
    flags: FlagSet | None = None
    process_source: str | None = None
    node_facts: NodeFacts | None = None
    pid: int | None = None                    # of the process on node_facts
    config_path: str | None = None            # --config as kube-proxy sees it
    config_source: str | None = None          # where its contents were read
    config: Mapping[str, Any] | None = None
    config_error: str | None = None
    errors: list[str] = field(default_factory=list)
    uninspected: str | None = None            # node access was asked for this node but did not (fully) read it

    component = comp.PROXY


def kube_proxy_views(facts: Facts, ctx: Context | None = None) -> list[ProxyView]:
    """kube-proxy per inspected node that runs it, an undecidable view per
    node that node access could not inspect, and, when no inspected node
    runs it, the kube-system DaemonSet (with kubeadm's ConfigMap)."""
    def build() -> list[ProxyView]:
        views: list[ProxyView] = []
        running = False
        for nf in facts.nodes:
            if nf.unreachable:
                if nf.roles and not {"worker", "control-plane"} & set(nf.roles):
                    continue   # an etcd-only host runs no kube-proxy
                views.append(_uninspected(nf.name, f"node {nf.name} was not inspected: {nf.unreachable}"))
                continue
            proc = find_process(nf, comp.PROXY)
            if proc is None:
                if nf.cut_short:
                    views.append(_uninspected(nf.name, f"node {nf.name} was not fully inspected: {CUT_SHORT_ERROR}"))
                continue
            running = True
            embedded_error = all_in_one_config_error(nf) if proc.embedded else None
            if embedded_error:
                views.append(_uninspected(nf.name, f"kube-proxy's command line is not known: {embedded_error}"))
                continue
            view = ProxyView(nf.name, Target("Node", nf.name, node=nf.name), node_facts=nf, pid=proc.pid)
            _attach(view, proc.argv, proc.source, facts)
            views.append(view)
        if not running:
            views.extend(_daemonset_views(facts))
        return views
    return ctx.cached("kube_proxy_views", build) if ctx else build()


def _uninspected(node: str, why: str) -> ProxyView:
    view = ProxyView(node, Target("Node", node, node=node), uninspected=why)
    view.errors.append(why)
    return view


def _attach(view: ProxyView, argv: tuple[str, ...], source: str, facts: Facts,
            daemonset: KObject | None = None) -> None:
    view.flags = parse_flags(argv)
    view.process_source = source
    path = view.flags.get("config")
    if not path:
        return
    view.config_path = path
    nf = view.node_facts
    if nf is not None:
        on_host = nf.file(path)
        if on_host is not None and on_host.exists and not on_host.error:
            view.config, view.config_error = node_yaml(nf, path, mapping=True)
            if view.config_error and path in nf.content_errors:
                view.config_error = f"config file unreadable: {nf.content_errors[path]} ({path})"
            view.config_source = f"{path} on node {nf.name}"
            return
        if on_host is not None and on_host.error:
            view.config_error = f"config file {path}: {on_host.error}"
            return
        # Not on the host: the file as the process sees it in its container,
        # when the collector could read it through /proc/PID/root.
        in_pod = f"/proc/{view.pid}/root{path}"
        if view.pid is not None and in_pod in nf.contents:
            view.config, view.config_error = parse_yaml_mapping(nf.contents[in_pod], in_pod)
            view.config_source = f"{path} in kube-proxy's container (read as {in_pod} on node {nf.name})"
            return
        if on_host is None and not any(_mounted_configmap(ds, path) for ds in _proxy_daemonsets(facts)):
            view.config_error = f"config file {path} was not collected from node {nf.name}"
            return
    # Not on the host: kube-proxy runs in a pod that mounts it from a ConfigMap.
    view.config_source, view.config, view.config_error = _from_configmap(facts, path, daemonset)


def _proxy_daemonsets(facts: Facts) -> list[KObject]:
    return [d for d in facts.cluster.of_kind(DAEMON_SET)
            if d.namespace == "kube-system" and d.name.startswith("kube-proxy")]


def _daemonset_views(facts: Facts) -> list[ProxyView]:
    views = []
    for ds in _proxy_daemonsets(facts):
        template = ((ds.body.get("spec") or {}).get("template") or {})
        pod = KObject("Pod", "v1", ds.name, ds.namespace, None, {}, {}, (), {"spec": template.get("spec") or {}})
        view = ProxyView(ds.name, Target("DaemonSet", ds.name, namespace="kube-system"))
        _attach(view, pod_argv(pod, comp.PROXY), f"DaemonSet kube-system/{ds.name} (command + args)", facts, ds)
        views.append(view)
    return views


def _from_configmap(facts: Facts, path: str, daemonset: KObject | None
                    ) -> tuple[str, Mapping[str, Any] | None, str | None]:
    """(source, config, error) of a --config file mounted from a ConfigMap:
    the DaemonSet's configMap volume whose mount holds the path, else
    kubeadm's layout (ConfigMap kube-system/kube-proxy, key = file name)."""
    name, key = "kube-proxy", posixpath.basename(path)
    for ds in [daemonset] if daemonset is not None else _proxy_daemonsets(facts):
        found = _mounted_configmap(ds, path)
        if found:
            name, key = found
            break
    source = f"ConfigMap kube-system/{name} key {key} (mounted as {path})"
    missing = facts.cluster.missing(CONFIG_MAP)
    if missing:
        return source, None, f"{path} comes from ConfigMap kube-system/{name}, which could not be read: " \
                             f"{missing[CONFIG_MAP]}"
    for cm in facts.cluster.of_kind(CONFIG_MAP):
        if cm.namespace == "kube-system" and cm.name == name:
            text = (cm.body.get("data") or {}).get(key)
            if text is None:
                return source, None, f"ConfigMap kube-system/{name} has no key {key}"
            data, why = parse_yaml_mapping(str(text), f"{key} of ConfigMap kube-system/{name}")
            return source, data, why
    return source, None, (f"{path} is not on the node and ConfigMap kube-system/{name}, which kubeadm mounts "
                          f"there, was not found")


def _mounted_configmap(ds: KObject, path: str) -> tuple[str, str] | None:
    spec = ((ds.body.get("spec") or {}).get("template") or {}).get("spec") or {}
    volumes = {v.get("name"): v for v in spec.get("volumes") or () if isinstance(v, Mapping)}
    for c in spec.get("containers") or ():
        for m in (c.get("volumeMounts") or ()) if isinstance(c, Mapping) else ():
            vol = volumes.get(m.get("name")) or {}
            cm = vol.get("configMap") if isinstance(vol, Mapping) else None
            mount = str(m.get("mountPath") or "").rstrip("/")
            if not isinstance(cm, Mapping) or not cm.get("name") or not mount:
                continue
            if m.get("subPath") and mount == path.rstrip("/"):
                return str(cm["name"]), str(m["subPath"])
            if path.startswith(mount + "/"):
                return str(cm["name"]), path[len(mount) + 1:]
    return None


# ---------------------------------------------------------------------------
# One setting
# ---------------------------------------------------------------------------

def append_port_if_needed(addr: str, port: int) -> str:
    """proxyutil.AppendPortIfNeeded: host:port stays, a bare IP gets the port."""
    if addr.startswith("[") and "]:" in addr:
        return addr
    if addr.count(":") == 1:
        return addr
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    return f"{addr}:{port}" if ip.version == 4 else f"[{addr}]:{port}"


def _is_ipv4(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).version == 4
    except ValueError:
        return False


def _default_address(config: Mapping[str, Any], path: str, raw: Any) -> tuple[str, str | None]:
    """SetDefaults_KubeProxyConfiguration for the two bind addresses."""
    port = METRICS_PORT if path == "metricsBindAddress" else HEALTHZ_PORT
    value = "" if raw is None else str(raw)
    if value:
        out = append_port_if_needed(value, port)
        return out, (f"{value!r} gets the default port: {out}" if out != value else None)
    _, bind = get_path(config, "bindAddress")
    bind = str(bind) if bind else "0.0.0.0"
    if path == "metricsBindAddress":
        host = "127.0.0.1" if _is_ipv4(bind) else "[::1]"
    else:
        host = "0.0.0.0" if _is_ipv4(bind) else "[::]"
    return f"{host}:{port}", (f"{path} empty or absent: v1alpha1 default for bindAddress {bind}")


_DEFAULTED = ("metricsBindAddress", "healthzBindAddress")


def effective_setting(view: ProxyView, spec: Mapping[str, Any], minor: int | None) -> Setting:
    flag, path = spec.get("flag"), spec.get("config")
    if view.flags is None:
        return Setting(None, UNKNOWN, "no evidence", "; ".join(view.errors) or "kube-proxy not visible")
    src = view.process_source or "process"
    if view.config_path:
        ignored = (f"--{flag}={view.flags.get(flag)} on the command line is ignored: with --config kube-proxy "
                   f"reads only its config file" if flag and view.flags.has(flag) else None)
        where = view.config_source or view.config_path
        if view.config is None:
            return Setting(None, UNKNOWN, where, view.config_error or f"{view.config_path} could not be read")
        if not path:
            return Setting(None, UNKNOWN, where, f"--{flag} is ignored with --config and has no config field")
        api_version = view.config.get("apiVersion")
        if api_version not in (None, V1ALPHA1):
            # a later version (v1alpha2 lists metricsBindAddresses as CIDRs) is not modelled: no guess
            return Setting(None, UNKNOWN, where, f"{where} is {api_version}; kaudit models {V1ALPHA1} "
                                                 f"(kube-proxy 1.30-1.34)")
        found, raw = get_path(view.config, path)
        if path in _DEFAULTED:
            value, why = _default_address(view.config, path, raw if found else None)
            origin = CONFIG_FILE if found and raw else DEFAULT
        else:
            value = as_text(raw) if found and raw is not None else \
                defaults.resolve(defaults.KUBE_PROXY_CONFIG_DEFAULTS.get(path), minor)
            origin, why = (CONFIG_FILE, None) if found and raw is not None else \
                (DEFAULT, f"{path} not in the config file: default applies")
        note = "; ".join(n for n in (why, ignored) if n) or None
        return Setting(value, origin, f"{where} ({path})", note)
    if flag and view.flags.has(flag):
        value = view.flags.get(flag) or ""
        if flag == "metrics-bind-address":
            value = _with_metrics_port(view.flags, value)
        return Setting(value, FLAG, f"--{flag} on {src}")
    if flag:
        known, value = defaults.flag_default(comp.PROXY, flag, minor)
        if flag == "metrics-bind-address" and value is not None:
            value = _with_metrics_port(view.flags, value)
        return Setting(value, DEFAULT, src, "no --config file and flag absent: flag default applies"
                       if known else "flag absent (no default known)")
    return Setting(None, UNKNOWN, src, "setting has no flag and kube-proxy runs without --config")


def _with_metrics_port(flags: FlagSet, addr: str) -> str:
    """addressFromDeprecatedFlags: --metrics-port (default 10249) is the port
    of an address given without one; 0 disables the server (empty address)."""
    try:
        port = int(flags.get("metrics-port") or METRICS_PORT)
    except ValueError:
        port = METRICS_PORT
    if port == 0:
        return ""
    return append_port_if_needed(addr, port) if addr else addr
