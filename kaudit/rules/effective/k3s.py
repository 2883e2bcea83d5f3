"""k3s and RKE2: their own configuration, and the command lines of the
components a `k3s server`/`k3s agent` process embeds, built as k3s builds them.

Configuration (k3s-io/k3s pkg/configfilearg/parser.go readConfigFile): the
config file (`--config`, `K3S_CONFIG_FILE`, default /etc/rancher/<dist>/config.yaml),
then every `*.yaml`/`*.yml` file of `<config>.d` in name order; a key in a
later file replaces the earlier value, a key written `key+` appends to it. The
result becomes flags placed before the command line's, so for a single-valued
option the command line wins and a repeatable one (`kube-apiserver-arg`)
collects the files' values, then the command line's. A `K3S_*` variable is
the option's default (urfave/cli EnvVar): files and command line override it.

Embedded components: k3s runs the API server, controller manager, scheduler,
kubelet and kube-proxy in-process; /proc shows only `k3s server`. Each
component's arguments are k3s's own defaults (pkg/daemons/control/server.go
apiServer, controllerManager, scheduler; pkg/cli/server/server.go the API
server's cipher suites; pkg/daemons/agent kubeletArgs, kubeProxyArgs) with
the operator's `kube-*-arg` values applied by pkg/util/args.go GetArgs:
`key=value` replaces k3s's value for that key, `key+=value` appends to it
and `key-=value` prepends (each value its own `--key=value` flag); a key
given more than once keeps every value in order.

Only the arguments sections 1-4 judge are listed; paths are those of the
default data dir /var/lib/rancher/k3s (k3s `--data-dir`).
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from kaudit import components as comp
from kaudit.model import NodeFacts
from kaudit.rules.nodefiles import parse_yaml_mapping

DATA_DIR = "/var/lib/rancher/k3s"
_TLS = f"{DATA_DIR}/server/tls"
_CRED = f"{DATA_DIR}/server/cred"
_AGENT = f"{DATA_DIR}/agent"

BUILTIN_ARGS: Mapping[str, Mapping[str, str]] = {
    comp.APISERVER: {
        "allow-privileged": "true",
        "anonymous-auth": "false",
        "authorization-mode": "Node,RBAC",
        "enable-admission-plugins": "NodeRestriction",
        "profiling": "false",
        "client-ca-file": f"{_TLS}/client-ca.crt",
        "tls-cert-file": f"{_TLS}/serving-kube-apiserver.crt",
        "tls-private-key-file": f"{_TLS}/serving-kube-apiserver.key",
        "kubelet-certificate-authority": f"{_TLS}/server-ca.crt",
        "kubelet-client-certificate": f"{_TLS}/client-kube-apiserver.crt",
        "kubelet-client-key": f"{_TLS}/client-kube-apiserver.key",
        "service-account-key-file": f"{_TLS}/service.key",
        "service-account-signing-key-file": f"{_TLS}/service.key",
        "requestheader-client-ca-file": f"{_TLS}/request-header-ca.crt",
        "proxy-client-cert-file": f"{_TLS}/client-auth-proxy.crt",
        "proxy-client-key-file": f"{_TLS}/client-auth-proxy.key",
        "storage-backend": "etcd3",
        # pkg/cli/server/server.go: added when no kube-apiserver-arg names the suites
        "tls-cipher-suites": ",".join((
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305")),
    },
    comp.CONTROLLER_MANAGER: {
        "kubeconfig": f"{_CRED}/controller.kubeconfig",
        "authentication-kubeconfig": f"{_CRED}/controller.kubeconfig",
        "authorization-kubeconfig": f"{_CRED}/controller.kubeconfig",
        "service-account-private-key-file": f"{_TLS}/service.key",
        "root-ca-file": f"{_TLS}/server-ca.crt",
        "profiling": "false",
        "bind-address": "127.0.0.1",
        "use-service-account-credentials": "true",
    },
    comp.SCHEDULER: {
        "kubeconfig": f"{_CRED}/scheduler.kubeconfig",
        "authentication-kubeconfig": f"{_CRED}/scheduler.kubeconfig",
        "authorization-kubeconfig": f"{_CRED}/scheduler.kubeconfig",
        "bind-address": "127.0.0.1",
        "profiling": "false",
    },
    comp.KUBELET: {
        "healthz-bind-address": "127.0.0.1",
        "read-only-port": "0",
        "kubeconfig": f"{_AGENT}/kubelet.kubeconfig",
        "authentication-token-webhook": "true",
        "anonymous-auth": "false",
        "authorization-mode": "Webhook",
        "client-ca-file": f"{_AGENT}/client-ca.crt",
        "tls-cert-file": f"{_AGENT}/serving-kubelet.crt",
        "tls-private-key-file": f"{_AGENT}/serving-kubelet.key",
        "pod-manifest-path": f"{_AGENT}/pod-manifests",
        "cni-conf-dir": f"{_AGENT}/etc/cni/net.d",
    },
    comp.PROXY: {
        "proxy-mode": "iptables",
        "healthz-bind-address": "127.0.0.1",
        "kubeconfig": f"{_AGENT}/kubeproxy.kubeconfig",
    },
}

# k3s's own options that add component arguments (server.go, agent_linux.go).
_SWITCHES: Mapping[str, tuple[str, str, str]] = {
    "secrets-encryption": (comp.APISERVER, "encryption-provider-config", f"{_CRED}/encryption-config.json"),
    "protect-kernel-defaults": (comp.KUBELET, "protect-kernel-defaults", "true"),
}
# kubeletArgs / kubeProxyArgs: hostname-override is the node name (--node-name,
# else the host name), always set.
_NODE_NAME_ARG = (comp.KUBELET, comp.PROXY)


def truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def get_args(initial: Mapping[str, str], extra: Sequence[str]) -> list[tuple[str, str]]:
    """pkg/util/args.go GetArgs: (key, value) flags, keys sorted, the values of
    a key in order. `key=v` drops k3s's value, `key+=v` appends to it,
    `key-=v` prepends; a bare `key` is `key=true`."""
    initial = dict(initial)
    multi: dict[str, list[str]] = {}
    for raw in extra:
        arg, sep, value = raw.removeprefix("--").partition("=")
        if not sep:
            value = "true"
        key = arg.rstrip("-+")
        before = [initial[key]] if key in initial else []
        existing = multi.get(key, [])
        if arg.endswith("+"):
            values = before + existing + [value]
        elif arg.endswith("-"):
            values = [value] + before + existing
        else:
            values = existing + [value]
        initial.pop(key, None)
        multi[key] = values
    for key, value in initial.items():
        multi[key] = [value]
    return [(key, v) for key in sorted(multi) for v in multi[key]]


# The API server's storage flags per datastore (control/server.go
# setupStorageBackend): managed etcd as the k3s CIS self-assessment guide's
# "Running kube-apiserver" line shows it; kine (SQLite, or an SQL database)
# serves the API server on its unix socket (k3s-io/kine pkg/endpoint
# KineSocket "unix://kine.sock"), without TLS.
STORAGE_FLAGS = ("etcd-servers", "etcd-cafile", "etcd-certfile", "etcd-keyfile")
_MANAGED_ETCD = {"etcd-servers": "https://127.0.0.1:2379", "etcd-cafile": f"{_TLS}/etcd/server-ca.crt",
                 "etcd-certfile": f"{_TLS}/etcd/client.crt", "etcd-keyfile": f"{_TLS}/etcd/client.key"}
_KINE = {"etcd-servers": "unix://kine.sock"}


def storage_args(kind: str | None, options: Mapping[str, object]) -> dict[str, str] | None:
    """The API server's storage flags for datastore `kind` (datastore()), or
    None when they cannot be known."""
    if kind == "etcd":
        return dict(_MANAGED_ETCD)
    if kind == "sqlite":
        return dict(_KINE)
    if kind == "external":
        endpoint = str(options.get("datastore-endpoint") or "")
        scheme = endpoint.split("://", 1)[0] if "://" in endpoint else ""
        if endpoint.startswith("<redacted") or not scheme:
            return None
        if scheme in ("http", "https"):     # an external etcd: k3s passes it and its TLS files through
            out = {"etcd-servers": endpoint}
            for flag, option in (("etcd-cafile", "datastore-cafile"), ("etcd-certfile", "datastore-certfile"),
                                 ("etcd-keyfile", "datastore-keyfile")):
                if options.get(option):
                    out[flag] = str(options[option])
            return out
        return dict(_KINE)
    return None


def embedded_args(component: str, user_args: Sequence[str], options: Mapping[str, object],
                  node_name: str | None = None, storage: Mapping[str, str] | None = None
                  ) -> tuple[tuple[str, ...], frozenset[str]]:
    """argv as k3s hands it to `component`, and the flags in it that are k3s's
    own (no operator value touched them). `user_args` are the operator's
    `name=value` values (config files, then command line); `options` are
    k3s's own settings, resolved (load_config); `storage` the API server's
    storage flags (storage_args)."""
    builtin = dict(BUILTIN_ARGS.get(component, {}))
    if component == comp.APISERVER and storage:
        builtin.update(storage)
    for option, (target, flag, value) in _SWITCHES.items():
        if target == component and truthy(options.get(option)):
            builtin[flag] = value
    name = options.get("node-name") or node_name
    if component in _NODE_NAME_ARG and name:
        builtin["hostname-override"] = str(name)
    touched = {a.removeprefix("--").split("=", 1)[0].rstrip("-+") for a in user_args}
    argv = [component] + [f"--{k}={v}" for k, v in get_args(builtin, user_args)]
    return tuple(argv), frozenset(k for k in builtin if k not in touched)


# ---------------------------------------------------------------------------
# k3s / RKE2 configuration
# ---------------------------------------------------------------------------

DIST_OF = {comp.K3S_SERVER: "k3s", comp.K3S_AGENT: "k3s", comp.RKE2_SERVER: "rke2", comp.RKE2_AGENT: "rke2"}
# The options' variables (pkg/cli/cmds server.go/agent.go EnvVar), as the
# collector keeps them: the datastore endpoint only as "set" (it may carry a
# password); the token never.
ENV_OPTIONS = {"CLUSTER_INIT": "cluster-init", "DATASTORE_ENDPOINT": "datastore-endpoint", "URL": "server",
               "DATA_DIR": "data-dir", "KUBECONFIG_OUTPUT": "write-kubeconfig",
               "KUBECONFIG_MODE": "write-kubeconfig-mode", "NODE_NAME": "node-name", "CONFIG_FILE": "config"}


def env_names(dist: str) -> tuple[str, ...]:
    return tuple(f"{dist.upper()}_{n}" for n in ENV_OPTIONS)


@dataclass(frozen=True)
class DistConfig:
    """A k3s/RKE2 process's own settings, resolved as configfilearg does."""
    dist: str
    options: Mapping[str, Any]                        # single-valued options: the effective value
    lists: Mapping[str, tuple[str, ...]]              # repeatable options (kube-*-arg ...): every value, in order
    origin: Mapping[str, str] = field(default_factory=dict)   # option -> where its value came from
    files: tuple[str, ...] = ()                       # the config files read, in order
    env: Mapping[str, str] | None = None              # the process's K3S_*/RKE2_* variables; None: not collected
    error: str | None = None                          # why the configuration is not known

    @property
    def data_dir(self) -> str:
        return str(self.options.get("data-dir") or f"/var/lib/rancher/{self.dist}")


def _to_list(value: Any) -> list[Any]:
    """configfilearg toSlice."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [value]
    text = "" if value is None else str(value).strip()
    return [text] if text else []


def _scalar(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _config_files(nf: NodeFacts, path: str) -> tuple[list[str], str | None]:
    """(the files k3s reads for config file `path`, in order; why not known)."""
    dropin_dir = f"{path}.d"
    listing = nf.file(dropin_dir)
    if listing is None:
        return [], f"{dropin_dir} (config drop-ins) was not collected from node {nf.name}"
    if listing.error:
        return [], f"{dropin_dir}: {listing.error}"
    unlisted = nf.listing_error(dropin_dir)
    if unlisted:
        return [], unlisted
    dropins = sorted(f.path for f in nf.files_under(dropin_dir)
                     if posixpath.dirname(f.path) == dropin_dir and f.exists and f.type != "dir"
                     and f.path.lower().endswith((".yaml", ".yml")))
    base = nf.file(path)
    files = ([path] if path in nf.contents or path in nf.content_errors or base is None or base.exists
             else []) + dropins
    return files, None


def load_config(nf: NodeFacts, which: str, cli: Mapping[str, Sequence[str]],
                env: Mapping[str, str] | None) -> DistConfig:
    """The settings of the `which` process (k3s-server, rke2-agent ...) on `nf`:
    its variables, then its config file and drop-ins, then `cli` (the process's
    own flags, name -> values)."""
    dist = DIST_OF[which]
    prefix = f"{dist.upper()}_"
    options: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, option in ENV_OPTIONS.items():
        if env and env.get(prefix + name):
            options[option] = env[prefix + name]
            origin[option] = f"${prefix}{name}"
    cli_config = (cli.get("config") or cli.get("c") or ())
    path = cli_config[-1] if cli_config else str(options.get("config") or f"/etc/rancher/{dist}/config.yaml")
    files, error = _config_files(nf, path)
    values: dict[str, Any] = {}
    read: list[str] = []
    for f in files:
        if f in nf.content_errors:
            error = error or f"{f}: {nf.content_errors[f]}"
            break
        text = nf.contents.get(f)
        if text is None:
            fi = nf.file(f)
            if fi is not None and fi.exists is False and f == path:
                continue          # no config.yaml: the drop-ins alone are read
            error = error or f"{f} was not collected from node {nf.name}"
            break
        data, why = parse_yaml_mapping(text, f)
        if why:
            error = error or why
            break
        read.append(f)
        for raw_key, value in (data or {}).items():
            key = str(raw_key)
            append = key.endswith("+")
            key = key.removesuffix("+")
            if append and key in values:
                values[key] = _to_list(values[key]) + _to_list(value)
            else:
                values[key] = value
            origin[key] = f
    lists: dict[str, list[str]] = {}
    for key, value in values.items():
        if isinstance(value, list):
            lists[key] = [_scalar(v) for v in value]
        else:
            options[key] = value
            lists[key] = [_scalar(value)]
    for name, vals in cli.items():
        if not vals:
            continue
        lists.setdefault(name, []).extend(vals)
        options[name] = vals[-1]
        origin[name] = "command line"
    return DistConfig(dist, options, {k: tuple(v) for k, v in lists.items()}, origin, tuple(read), env,
                      None if error is None else f"{which} configuration unknown: {error}")


def admin_kubeconfigs(cfg: DistConfig) -> list[tuple[str, str]]:
    """(path, how it was chosen) of a server's admin credentials: the
    admin.kubeconfig below server/cred (k3s's and RKE2's CIS self-assessment
    guides audit it for 1.1.13/1.1.14) and the copy written for the operator
    (`--write-kubeconfig`, default /etc/rancher/<dist>/<dist>.yaml, mode
    `--write-kubeconfig-mode`, default 0600)."""
    out = [(f"{cfg.data_dir}/server/cred/admin.kubeconfig", f"{cfg.dist}'s admin kubeconfig")]
    mode = cfg.options.get("write-kubeconfig-mode")
    mode_note = (f"; --write-kubeconfig-mode {mode} ({cfg.origin.get('write-kubeconfig-mode', '?')})"
                 if mode not in (None, "") else "")
    written = cfg.options.get("write-kubeconfig")
    if written:
        out.append((str(written), f"--write-kubeconfig of {cfg.dist} ({cfg.origin.get('write-kubeconfig', '?')})"
                    + mode_note))
    else:
        out.append((f"/etc/rancher/{cfg.dist}/{cfg.dist}.yaml",
                    f"the admin kubeconfig {cfg.dist} writes (no --write-kubeconfig)" + mode_note))
    return out


def datastore(nf: NodeFacts, cfg: DistConfig) -> tuple[str | None, str]:
    """(the k3s server's datastore: "etcd" (managed), "sqlite", "external", or
    None; why it is not known), as pkg/cluster/managed.go assignManagedDriver
    chooses it."""
    if cfg.dist != "k3s":
        return None, f"{cfg.dist} is not k3s"
    if cfg.error:
        return None, cfg.error
    etcd_dir = nf.file(f"{cfg.data_dir}/server/db/etcd")
    if etcd_dir is not None and etcd_dir.exists and not etcd_dir.error:
        return "etcd", ""          # an etcd data dir on disk wins over every option
    if cfg.options.get("datastore-endpoint"):
        return "external", ""
    if truthy(cfg.options.get("cluster-init")) or cfg.options.get("server"):
        return "etcd", ""
    sqlite, why_not = sqlite_datastore(nf, cfg)
    return ("sqlite", "") if sqlite else (None, why_not)


def sqlite_datastore(nf: NodeFacts, cfg: DistConfig) -> tuple[str | None, str]:
    """(what establishes that this k3s server keeps the cluster in SQLite
    through kine, or None; why it is not established). pkg/cluster/managed.go
    assignManagedDriver starts etcd when its data dir is initialized, or for
    --cluster-init, or to join --server; a --datastore-endpoint is an external
    datastore; otherwise kine serves the API server from
    <data-dir>/server/db/state.db. Every one of those is checked, none assumed."""
    if cfg.dist != "k3s":
        return None, f"{cfg.dist} always runs etcd or an external datastore"
    if cfg.error:
        return None, cfg.error
    if cfg.env is None:
        return None, (f"the k3s process's environment (K3S_DATASTORE_ENDPOINT, K3S_CLUSTER_INIT, K3S_URL) "
                      f"was not collected on node {nf.name}")
    for option in ("datastore-endpoint", "server"):
        if cfg.options.get(option):
            return None, f"k3s {option} is set ({cfg.origin.get(option, '?')})"
    if truthy(cfg.options.get("cluster-init")):
        return None, f"k3s cluster-init is set ({cfg.origin.get('cluster-init', '?')})"
    etcd_dir = f"{cfg.data_dir}/server/db/etcd"
    state = f"{cfg.data_dir}/server/db/state.db"
    for path, want in ((etcd_dir, False), (state, True)):
        fi = nf.file(path)
        if fi is None:
            return None, f"{path} was not collected from node {nf.name}"
        if fi.error:
            return None, f"{path}: {fi.error}"
        if fi.exists is not want:
            return None, f"{path} {'does not exist' if want else 'exists'} on node {nf.name}"
    read = ", ".join(cfg.files) or "no config file"
    return (f"k3s on node {nf.name} keeps the cluster state in SQLite through kine ({state}), not etcd: "
            f"no cluster-init, datastore-endpoint or server to join ({read}, command line, K3S_* variables) "
            f"and no etcd data dir ({etcd_dir})"), ""
