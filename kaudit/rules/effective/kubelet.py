"""The kubelet's effective configuration, resolved the way the kubelet does it.

cmd/kubelet/app/server.go (NewKubeletCommand, 1.28+):
1. Start from the flag defaults (`options.NewKubeletConfiguration`: the
   v1beta1 defaults plus the legacy ones: anonymous auth on, AlwaysAllow,
   read-only port 10255).
2. `--config FILE`: `loadConfigFile` decodes it with the v1beta1 defaulting
   (`SetDefaults_KubeletConfiguration`, pkg/kubelet/apis/config/v1beta1/
   defaults.go), so an absent field and, for the fields defaulted on their
   zero value, a zero (`streamingConnectionIdleTimeout: 0s`) take the
   KubeletConfiguration default (4h0m0s); the legacy flag defaults no
   longer apply.
3. `--config-dir DIR`: `mergeKubeletConfigurations` walks DIR
   (filepath.WalkDir: lexical order, subdirectories included) and
   JSON-merge-patches every `*.conf` over the result, each over the previous.
   A drop-in is decoded into an unstructured object (codec.
   DecodeKubeletConfigurationIntoJSON): no defaulting, so a zero there stays
   zero. Alpha in 1.28-1.29, where the kubelet refuses to start with
   `--config-dir` unless KUBELET_CONFIG_DROPIN_DIR_ALPHA is set; beta and on
   from 1.30. A running kubelet with `--config-dir` therefore always applies it.
4. `kubeletConfigFlagPrecedence` re-parses the command line over that: a flag
   given wins, as given (a zero from a flag stays zero); feature gates merge
   gate by gate.
The node's live config (`/configz`, read through the API) is what the kubelet
really runs with and wins over all of this when present; the evidence shows
what the files say when they disagree.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Mapping

from kaudit import components as comp
from kaudit.model import CUT_SHORT_ERROR, NODE, Facts, NodeFacts, Target
from kaudit.rules import defaults
from kaudit.rules.effective.values import (CONFIG_FILE, CONFIGZ, DEFAULT, DROP_IN, FLAG, UNKNOWN, Setting,
                                           as_text, get_path)
from kaudit.rules.flags import (FlagSet, _all_in_one_argv, all_in_one_config_error, duration_seconds, embedded_source,
                                parse_feature_gates, parse_flags)
from kaudit.rules.nodefiles import node_yaml
from kaudit.rules.predicates import Context

DROPIN_SUFFIX = ".conf"


@dataclass(frozen=True, slots=True)
class ConfigLayer:
    """One file the kubelet merges: its `--config` file or a drop-in."""
    path: str
    kind: str                                # CONFIG_FILE | DROP_IN
    data: Mapping[str, Any] | None = None
    error: str | None = None                 # why it could not be read or parsed


@dataclass(slots=True)
class KubeletView:
    """Everything known about one node's kubelet."""
    node: str
    target: Target
    flags: FlagSet | None = None
    process_source: str | None = None
    node_facts: NodeFacts | None = None
    config_path: str | None = None
    dropin_dir: str | None = None
    layers: list[ConfigLayer] = field(default_factory=list)   # in the order the kubelet merges them
    live: Mapping[str, Any] | None = None     # configz
    live_source: str | None = None
    errors: list[str] = field(default_factory=list)
    uninspected: str | None = None            # node access was asked for this node but did not (fully) read it

    component = comp.KUBELET

    @property
    def config_layer(self) -> ConfigLayer | None:
        return self.layers[0] if self.layers and self.layers[0].kind == CONFIG_FILE else None


def kubelet_views(facts: Facts, ctx: Context | None = None) -> list[KubeletView]:
    """One view per node that runs (or should run) a kubelet: every Node
    object, every inspected node with a kubelet process, and every node that
    node access was asked for but could not inspect."""
    def build() -> list[KubeletView]:
        views: dict[str, KubeletView] = {}

        def view_for(name: str) -> KubeletView:
            return views.setdefault(name, KubeletView(name, Target("Node", name, node=name)))

        for node in facts.cluster.of_kind(NODE):
            view_for(node.name)
        inspected = {nf.name for nf in facts.nodes}
        for nf in facts.nodes:
            if nf.unreachable:
                if nf.name not in views and nf.roles and not {"worker", "control-plane"} & set(nf.roles):
                    continue   # e.g. an external etcd host: no kubelet expected
                _uninspected(view_for(nf.name), f"node {nf.name} was not inspected: {nf.unreachable}")
                continue
            proc = find_process(nf, comp.KUBELET)
            if proc is None:
                if nf.cut_short:
                    _uninspected(view_for(nf.name), f"node {nf.name} was not fully inspected: {CUT_SHORT_ERROR}")
                elif nf.name in views:
                    views[nf.name].errors.append(f"no kubelet process found on node {nf.name}")
                continue
            embedded_error = all_in_one_config_error(nf) if proc.embedded else None
            if embedded_error:
                _uninspected(view_for(nf.name), f"the kubelet's command line is not known: {embedded_error}")
                continue
            attach_kubelet(view_for(nf.name), nf, proc)
        if facts.nodes:
            for name, view in views.items():
                if name not in inspected:
                    _uninspected(view, f"node {name} was not inspected (node access did not reach it)")
        for name, live in facts.cluster.kubelet_configz.items():
            view = view_for(name)
            view.live = live
            view.live_source = f"live kubelet config (nodes/{name}/proxy/configz)"
        for name, err in facts.cluster.configz_errors.items():
            if name in views:
                views[name].errors.append(f"configz: {err}")
        return sorted(views.values(), key=lambda v: v.node)
    return ctx.cached("kubelet_views", build) if ctx else build()


def _uninspected(view: KubeletView, why: str) -> None:
    view.uninspected = why
    view.errors.append(why)


@dataclass(frozen=True, slots=True)
class RunningProcess:
    argv: tuple[str, ...]
    source: str          # "process kubelet (pid 1021) on node w1"
    pid: int
    embedded: bool = False   # runs inside an all-in-one process (k3s)


def find_process(nf: NodeFacts, component: str) -> RunningProcess | None:
    """The argv a component runs with on a node (embedded in k3s included)."""
    for p in nf.processes:
        which = comp.identify_component(p.argv)
        if which == component:
            return RunningProcess(p.argv, f"process {component} (pid {p.pid}) on node {nf.name}", p.pid)
        if which in comp.ALL_IN_ONE and component in comp.EMBEDDED.get(which, ()):
            return RunningProcess(_all_in_one_argv(p.argv, component, nf, p.env),
                                  f"{component} {embedded_source(component, which)} (pid {p.pid}) on node {nf.name}", p.pid,
                                  embedded=True)
    return None


def attach_kubelet(view: KubeletView, nf: NodeFacts, proc: RunningProcess) -> None:
    view.node_facts = nf
    view.flags = parse_flags(proc.argv)
    view.process_source = proc.source
    config_path = view.flags.get("config")
    if config_path:
        view.config_path = config_path
        data, why = node_yaml(nf, config_path, mapping=True)
        view.layers.append(ConfigLayer(config_path, CONFIG_FILE, data, _reason(nf, config_path, why)))
    dropin_dir = view.flags.get("config-dir")
    if dropin_dir:
        view.dropin_dir = dropin_dir.rstrip("/") or "/"
        view.layers.extend(_dropins(nf, view.dropin_dir))


def _reason(nf: NodeFacts, path: str, why: str | None) -> str | None:
    """node_yaml's reason, said the way an auditor reads it."""
    if why is None:
        return None
    if path in nf.content_errors:
        return f"config file unreadable: {nf.content_errors[path]} ({path})"
    return why


def _dropins(nf: NodeFacts, directory: str) -> list[ConfigLayer]:
    """The `*.conf` files below the drop-in directory, in filepath.WalkDir
    order (lexical by name within each directory, depth first)."""
    info = nf.file(directory)
    if info is None:
        return [ConfigLayer(directory, DROP_IN, error=f"drop-in directory {directory} was not collected from "
                                                        f"node {nf.name}")]
    if info.error:
        return [ConfigLayer(directory, DROP_IN, error=f"drop-in directory {directory}: {info.error}")]
    if not info.exists:
        # The kubelet fails to start when --config-dir does not exist; a
        # running one may have been started before it was removed.
        return [ConfigLayer(directory, DROP_IN, error=f"drop-in directory {directory} does not exist on node "
                                                        f"{nf.name}, yet the running kubelet names it")]
    unlisted = nf.listing_error(directory)
    if unlisted:
        return [ConfigLayer(directory, DROP_IN, error=f"drop-in directory {directory}: {unlisted}")]
    members = [f for f in nf.files_under(directory)
               if f.path.endswith(DROPIN_SUFFIX) and f.type != "dir"]
    members.sort(key=lambda f: posixpath.relpath(f.path, directory).split("/"))
    layers = []
    for fi in members:
        if fi.error:
            layers.append(ConfigLayer(fi.path, DROP_IN, error=f"drop-in {fi.path}: {fi.error}"))
            continue
        data, why = node_yaml(nf, fi.path, mapping=True)
        if why and fi.path in nf.content_errors:
            why = f"drop-in unreadable: {nf.content_errors[fi.path]} ({fi.path})"
        layers.append(ConfigLayer(fi.path, DROP_IN, data, why))
    return layers


# ---------------------------------------------------------------------------
# One setting
# ---------------------------------------------------------------------------

def _zero(value: Any) -> bool:
    """Go's zero value of a scalar as YAML gives it: "", 0, 0s, false."""
    if value is None or value is False or value == "" or value == 0:
        return True
    if isinstance(value, str):
        secs = duration_seconds(value)
        return secs == 0
    return False


def effective_setting(view: KubeletView, spec: Mapping[str, Any], minor: int | None) -> Setting:
    """The value the kubelet really runs with. `spec` names a `flag`, a
    config-file field path (`config`) or a `feature_gate`."""
    path, gate = spec.get("config"), spec.get("feature_gate")
    from_node = _from_node(view, spec.get("flag"), path, gate, minor)
    if view.live is not None and (path or gate):
        if gate:
            found, gates = get_path(view.live, "featureGates")
            found = found and isinstance(gates, Mapping) and gate in gates
            value = (as_text(gates[gate]) if found
                     else defaults.resolve(defaults.FEATURE_GATE_DEFAULTS.get(gate), minor))
        else:
            found, raw = get_path(view.live, path)
            value = as_text(raw) if found else defaults.resolve(defaults.KUBELET_CONFIG_DEFAULTS.get(path), minor)
        note = None if found else "not in the live config: default applies"
        if from_node is not None and from_node.origin != UNKNOWN and from_node.value != value:
            extra = f"the files on the node say {from_node.value!r} ({from_node.source}); the live config wins"
            note = f"{note}; {extra}" if note else extra
        return Setting(value, CONFIGZ, view.live_source or "configz", note)
    if from_node is not None:
        return from_node
    if view.live is not None and spec.get("flag"):
        return Setting(None, UNKNOWN, view.live_source or "configz",
                       "; ".join([f"--{spec['flag']} is a command-line flag, which the live config (configz) "
                                  f"does not show: node access is needed"] + view.errors))
    return Setting(None, UNKNOWN, "no evidence",
                   "; ".join(view.errors) or "no live config (configz) and no node access for this node")


def _from_node(view: KubeletView, flag: str | None, path: str | None, gate: str | None,
               minor: int | None) -> Setting | None:
    """Flags over drop-ins over the --config file over the defaults, from
    what node access collected; None without node access."""
    if view.flags is None:
        return None
    src = view.process_source or "process"
    if gate:
        gates = parse_feature_gates(view.flags.get("feature-gates"))
        if gate in gates:
            return Setting(gates[gate], FLAG, f"--feature-gates on {src}")
        if not view.layers:
            return Setting(defaults.resolve(defaults.FEATURE_GATE_DEFAULTS.get(gate), minor), DEFAULT, src,
                           "feature gate not set: Kubernetes default")
        return _from_layers(view, f"featureGates.{gate}", defaults.FEATURE_GATE_DEFAULTS.get(gate), minor,
                            default_note="feature gate not set: Kubernetes default")
    if flag and view.flags.has(flag):
        return Setting(view.flags.get(flag), FLAG, f"--{flag} on {src}")
    if path and view.layers:
        return _from_layers(view, path, defaults.KUBELET_CONFIG_DEFAULTS.get(path), minor)
    if flag:
        known, value = defaults.flag_default(comp.KUBELET, flag, minor)
        if view.layers and not path:
            note = "flag absent (it has no config-file field)"
        elif known:
            note = "no --config file and flag absent: flag default applies"
        else:
            note = "flag absent (no default known)"
        return Setting(value, DEFAULT, src, note)
    return Setting(None, UNKNOWN, src, "setting has no flag and no config file is used")


def _from_layers(view: KubeletView, path: str, config_default: Any, minor: int | None,
                 default_note: str | None = None) -> Setting:
    """The last layer that sets `path` decides; a layer that could not be
    read decides nothing, so it makes the value unknown unless a later layer
    sets the field anyway."""
    for layer in reversed(view.layers):
        if layer.error:
            return Setting(None, UNKNOWN, layer.path, layer.error)
        found, raw = get_path(layer.data, path)
        if not found or raw is None:
            # null: a nil pointer (or zero value) in the --config file; in a
            # drop-in a JSON merge patch deleting a key the merged config
            # never had under that spelling: no change either way.
            continue
        if layer.kind == DROP_IN:
            return Setting(as_text(raw), DROP_IN, f"{layer.path} ({path})",
                           f"drop-in of --config-dir {view.dropin_dir}: not defaulted")
        if path in defaults.KUBELET_CONFIG_ZERO_DEFAULTED and _zero(raw):
            value = defaults.resolve(config_default, minor)
            return Setting(value, DEFAULT, f"{layer.path} ({path}: {as_text(raw)!r})",
                           f"{path}: {as_text(raw)!r} in the config file is a zero value, which the "
                           f"kubelet's defaulting replaces with {value}")
        return Setting(as_text(raw), CONFIG_FILE, f"{layer.path} ({path})")
    base = view.config_layer
    if base is not None:
        return Setting(defaults.resolve(config_default, minor), DEFAULT, f"{base.path} ({path} absent)",
                       default_note or f"{path} not in the config file"
                       + (" or its drop-ins" if view.dropin_dir else "") + ": KubeletConfiguration default applies")
    # --config-dir without --config: the drop-ins merge over the flag defaults.
    flag = _FLAG_OF_FIELD.get(path)
    known, value = defaults.flag_default(comp.KUBELET, flag, minor) if flag else (False, None)
    if not known:
        value = defaults.resolve(config_default, minor)
    return Setting(value, DEFAULT, f"--config-dir {view.dropin_dir} ({path} absent)",
                   default_note or f"{path} in no drop-in and no --config file: flag default applies")


# The flag of each config-file field whose flag default differs from the
# KubeletConfiguration default (cmd/kubelet/app/options/options.go
# applyLegacyDefaults).
_FLAG_OF_FIELD = {
    "authentication.anonymous.enabled": "anonymous-auth",
    "authentication.webhook.enabled": "authentication-token-webhook",
    "authorization.mode": "authorization-mode",
    "readOnlyPort": "read-only-port",
}

