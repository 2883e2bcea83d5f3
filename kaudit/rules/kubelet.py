"""Effective kubelet and kube-proxy settings, and the `setting` rule kind.

Precedence, as the kubelet applies it: a command-line flag overrides the
file named by `--config`, which overrides the default. Which default depends
on whether a config file is used at all: without `--config` the flag
defaults apply (anonymous auth on, AlwaysAllow, read-only port 10255); with
one, the KubeletConfiguration defaults (anonymous off, Webhook, port 0).
When the API gave the node's live config (`/configz`), that is the effective
value, and a disagreement with the files is shown in the evidence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from kaudit import components as comp
from kaudit.catalog import Check
from kaudit.model import CONFIG_MAP, DAEMON_SET, NODE, Evidence, Facts, Finding, NodeFacts, Status, Target
from kaudit.rules import defaults
from kaudit.rules.flags import (FlagSet, combine_group, compare, describe, expectation, parse_feature_gates,
                                parse_flags)
from kaudit.rules.nodefiles import node_yaml, parse_yaml_mapping
from kaudit.rules.predicates import Context


@dataclass(frozen=True, slots=True)
class Setting:
    value: str | None
    origin: str          # "configz" | "flag" | "config file" | "default" | "unknown"
    source: str          # where it was read
    note: str | None = None


@dataclass(slots=True)
class KubeletView:
    """Everything known about one node's kubelet (or kube-proxy)."""
    node: str
    component: str
    target: Target
    flags: FlagSet | None = None
    process_source: str | None = None
    config_path: str | None = None
    config: Mapping[str, Any] | None = None
    config_error: str | None = None
    live: Mapping[str, Any] | None = None     # configz
    live_source: str | None = None
    errors: list[str] = field(default_factory=list)
    node_facts: NodeFacts | None = None

    @property
    def has_evidence(self) -> bool:
        return self.flags is not None or self.live is not None or self.config is not None


def get_path(obj: Mapping[str, Any] | None, dotted: str) -> tuple[bool, Any]:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ",".join(f"{k}={as_text(v)}" for k, v in value.items())
    return str(value)


def kubelet_views(facts: Facts, ctx: Context | None = None) -> list[KubeletView]:
    def build() -> list[KubeletView]:
        views: dict[str, KubeletView] = {}
        for node in facts.cluster.of_kind(NODE):
            views[node.name] = KubeletView(node.name, comp.KUBELET, Target("Node", node.name, node=node.name))
        for nf in facts.nodes:
            view = views.get(nf.name)
            if nf.unreachable:
                if view is None and "worker" not in nf.roles and "control-plane" not in nf.roles:
                    continue   # e.g. an external etcd host: no kubelet expected
                view = view or KubeletView(nf.name, comp.KUBELET, Target("Node", nf.name, node=nf.name))
                view.errors.append(f"node {nf.name} could not be reached: {nf.unreachable}")
                views[nf.name] = view
                continue
            proc = _find_process(nf, comp.KUBELET)
            if proc is None:
                if view is not None:
                    view.errors.append(f"no kubelet process found on node {nf.name}")
                continue
            view = view or KubeletView(nf.name, comp.KUBELET, Target("Node", nf.name, node=nf.name))
            views[nf.name] = view
            _attach_process(view, nf, proc)
        for name, live in facts.cluster.kubelet_configz.items():
            view = views.setdefault(name, KubeletView(name, comp.KUBELET, Target("Node", name, node=name)))
            view.live = live
            view.live_source = f"live kubelet config (nodes/{name}/proxy/configz)"
        for name, err in facts.cluster.configz_errors.items():
            if name in views:
                views[name].errors.append(f"configz: {err}")
        return sorted(views.values(), key=lambda v: v.node)
    return ctx.cached("kubelet_views", build) if ctx else build()


def _find_process(nf: NodeFacts, component: str) -> tuple[tuple[str, ...], str] | None:
    for p in nf.processes:
        which = comp.identify_component(p.argv)
        if which == component:
            return p.argv, f"process {component} (pid {p.pid}) on node {nf.name}"
        if which in comp.ALL_IN_ONE and component in comp.EMBEDDED.get(which, ()):
            from kaudit.rules.flags import _all_in_one_argv
            return _all_in_one_argv(p.argv, component, nf), f"{component} embedded in {which} (pid {p.pid}) on node {nf.name}"
    return None


def _attach_process(view: KubeletView, nf: NodeFacts, proc: tuple[tuple[str, ...], str]) -> None:
    argv, source = proc
    view.node_facts = nf
    view.flags = parse_flags(argv)
    view.process_source = source
    config_path = view.flags.get("config")
    if config_path:
        view.config_path = config_path
        view.config, view.config_error = node_yaml(nf, config_path, mapping=True)


def kube_proxy_views(facts: Facts, ctx: Context | None = None) -> list[KubeletView]:
    """kube-proxy per node from node access; else once for the cluster from
    its DaemonSet and the kube-system `kube-proxy` ConfigMap (kubeadm)."""
    def build() -> list[KubeletView]:
        views: list[KubeletView] = []
        for nf in facts.nodes:
            if nf.unreachable:
                continue
            proc = _find_process(nf, comp.PROXY)
            if proc is None:
                continue
            view = KubeletView(nf.name, comp.PROXY, Target("Node", nf.name, node=nf.name))
            _attach_process(view, nf, proc)
            if view.config_path and view.config is None:
                # kubeadm mounts the config from a ConfigMap: not on the host.
                cm = _kube_proxy_configmap(facts)
                if cm is not None:
                    view.config, view.config_error = cm
                    view.config_path = f"{view.config_path} (from ConfigMap kube-system/kube-proxy)"
            views.append(view)
        if views:
            return views
        for ds in facts.cluster.of_kind(DAEMON_SET):
            if ds.namespace != "kube-system" or not ds.name.startswith("kube-proxy"):
                continue
            from kaudit.rules.flags import pod_argv
            from kaudit.model import KObject
            template = ((ds.body.get("spec") or {}).get("template") or {})
            fake = KObject("Pod", "v1", ds.name, ds.namespace, None, {}, {}, (), {"spec": template.get("spec") or {}})
            argv = pod_argv(fake, comp.PROXY)
            view = KubeletView(ds.name, comp.PROXY, Target("DaemonSet", ds.name, namespace="kube-system"))
            view.flags = parse_flags(argv)
            view.process_source = f"DaemonSet kube-system/{ds.name} (command + args)"
            if view.flags.get("config"):
                view.config_path = view.flags.get("config")
                cm = _kube_proxy_configmap(facts)
                if cm is not None:
                    view.config, view.config_error = cm
                    view.config_path = f"{view.config_path} (from ConfigMap kube-system/kube-proxy)"
                else:
                    view.config_error = "the kube-proxy ConfigMap holding its --config file was not found"
            views.append(view)
        return views
    return ctx.cached("kube_proxy_views", build) if ctx else build()


def _kube_proxy_configmap(facts: Facts) -> tuple[Mapping[str, Any] | None, str | None] | None:
    for cm in facts.cluster.of_kind(CONFIG_MAP):
        if cm.namespace == "kube-system" and cm.name == "kube-proxy":
            data = cm.body.get("data") or {}
            text = data.get("config.conf")
            if text is None:
                return None, "ConfigMap kube-system/kube-proxy has no config.conf"
            return parse_yaml_mapping(text, "config.conf of ConfigMap kube-system/kube-proxy")
    return None


def effective_setting(view: KubeletView, spec: Mapping[str, Any], minor: int | None) -> Setting:
    """The value the component really runs with, per the precedence above."""
    flag = spec.get("flag")
    path = spec.get("config")
    gate = spec.get("feature_gate")
    config_defaults = (defaults.KUBELET_CONFIG_DEFAULTS if view.component == comp.KUBELET
                       else defaults.KUBE_PROXY_CONFIG_DEFAULTS)

    from_files = _from_files(view, flag, path, gate, config_defaults, minor)
    if view.live is not None and (path or gate):
        if gate:
            found, gates = get_path(view.live, "featureGates")
            found = found and isinstance(gates, Mapping) and gate in gates
            value = as_text(gates[gate]) if found else defaults.resolve(defaults.FEATURE_GATE_DEFAULTS.get(gate), minor)
        else:
            found, raw = get_path(view.live, path)
            value = as_text(raw) if found else defaults.resolve(config_defaults.get(path), minor)
        note = None if found else "not in the live config: default applies"
        if from_files is not None and from_files.value != value and from_files.origin != "unknown":
            extra = f"the files on the node say {from_files.value!r} ({from_files.source}); the live config wins"
            note = f"{note}; {extra}" if note else extra
        return Setting(value, "configz", view.live_source or "configz", note)
    if from_files is not None:
        return from_files
    return Setting(None, "unknown", "no evidence",
                   "; ".join(view.errors) or "no live config and no node access for this node")


def _from_files(view: KubeletView, flag: str | None, path: str | None, gate: str | None,
                config_defaults: Mapping[str, Any], minor: int | None) -> Setting | None:
    if view.flags is None:
        return None
    src = view.process_source or "process"
    if gate:
        gates = parse_feature_gates(view.flags.get("feature-gates"))
        if gate in gates:
            return Setting(gates[gate], "flag", f"--feature-gates on {src}")
        if view.config is not None:
            found, fg = get_path(view.config, "featureGates")
            if found and isinstance(fg, Mapping) and gate in fg:
                return Setting(as_text(fg[gate]), "config file", f"{view.config_path} featureGates.{gate}")
        return Setting(defaults.resolve(defaults.FEATURE_GATE_DEFAULTS.get(gate), minor), "default",
                       src, "feature gate not set: Kubernetes default")
    if flag and view.flags.has(flag):
        return Setting(view.flags.get(flag), "flag", f"--{flag} on {src}")
    if view.config_path:
        if view.config is None:
            return Setting(None, "unknown", view.config_path,
                           f"the --config file could not be read: {view.config_error}")
        if path:
            found, raw = get_path(view.config, path)
            if found:
                return Setting(as_text(raw), "config file", f"{view.config_path} ({path})")
            return Setting(defaults.resolve(config_defaults.get(path), minor), "default",
                           f"{view.config_path} ({path} absent)",
                           f"{path} not in the config file: KubeletConfiguration default applies"
                           if view.component == comp.KUBELET else f"{path} not in the config file: default applies")
    if flag:
        known, value = defaults.flag_default(view.component, flag, minor)
        if view.config_path and not path:
            note = "flag absent (it has no config-file field)"
        elif known:
            note = "no --config file and flag absent: flag default applies"
        else:
            note = "flag absent (no default known)"
        return Setting(value, "default", src, note)
    return Setting(None, "unknown", src, "setting has no flag and no config file is used")


def _test_view(test: Mapping[str, Any], view: KubeletView, minor: int | None) -> tuple[bool | None, list[Evidence]]:
    if "all" in test or "any" in test:
        group = test.get("all") or test.get("any")
        return combine_group(test, [_test_view(t, view, minor) for t in group])
    op = test.get("op", "eq")
    expected = test.get("value")
    setting = effective_setting(view, test, minor)
    label = (f"feature gate {test['feature_gate']}" if test.get("feature_gate")
             else " / ".join(x for x in (f"--{test['flag']}" if test.get("flag") else None, test.get("config")) if x))
    ev = Evidence(label, setting.value, setting.source, expected=expectation(op, expected),
                  note=f"{setting.origin}" + (f": {setting.note}" if setting.note else ""))
    if setting.origin == "unknown":
        return None, [ev]
    return compare(op, setting.value, expected), [ev]


def evaluate_setting_rule(check: Check, rule: Mapping[str, Any], facts: Facts, ctx: Context) -> Iterator[Finding]:
    component = rule.get("component", comp.KUBELET)
    views = kubelet_views(facts, ctx) if component == comp.KUBELET else kube_proxy_views(facts, ctx)
    minor = facts.cluster.identity.minor()
    review = bool(rule.get("review"))
    if not views:
        if component == comp.PROXY:
            yield Finding(Status.SKIP if facts.nodes else Status.ERROR, Target("Cluster", "cluster"),
                          "kube-proxy not found: no inspected node runs it and there is no kube-proxy "
                          "DaemonSet in kube-system (a CNI may replace it)" if facts.nodes else
                          "kube-proxy not visible: no node access and no kube-proxy DaemonSet in kube-system")
        else:
            yield Finding(Status.ERROR, Target("Cluster", "cluster"),
                          "no kubelet evidence: no Node objects, no live configz and no node access")
        return
    for view in views:
        ok, evidence = _test_view(rule["test"], view, minor)
        if ok is None:
            reasons = "; ".join(view.errors) or "no live config (configz) and no node access for this node"
            yield Finding(Status.ERROR, view.target, f"{component} setting could not be determined: {reasons}",
                          tuple(evidence))
            continue
        summary = describe(evidence)
        if ok and review:
            yield Finding(Status.WARN, view.target,
                          f"{summary}; {rule.get('review_message') or 'a person must judge whether this is appropriate'}",
                          tuple(evidence))
        else:
            yield Finding(Status.PASS if ok else Status.FAIL, view.target, summary, tuple(evidence))
