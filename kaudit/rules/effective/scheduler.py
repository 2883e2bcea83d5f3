"""kube-scheduler (and why kube-controller-manager needs no resolver).

kube-scheduler with `--config` (a KubeSchedulerConfiguration) takes its
component settings from that file only: the deprecated flags `--profiling`,
`--contention-profiling`, `--kubeconfig`, `--kube-api-content-type`,
`--kube-api-qps` and `--kube-api-burst` are applied to the configuration only
when no `--config` is given (cmd/kube-scheduler/app/options/options.go:
ApplyTo calls ApplyDeprecated only when ConfigFile is empty; with a file only
the leader-election flags still override it). Serving flags such as
`--bind-address` are not part of the file and always apply.

File defaults (pkg/scheduler/apis/config/v1/defaults.go,
SetDefaults_KubeSchedulerConfiguration): `enableProfiling` absent means
true, `enableContentionProfiling` follows it; `clientConnection.kubeconfig`
has no default: empty means the in-cluster configuration (no kubeconfig
file; client-go's BuildConfigFromFlags("", "")).

kube-controller-manager has no `--config` flag (its
KubeControllerManagerConfiguration is internal: every setting is a flag,
cmd/kube-controller-manager/app/options), so its flags and their defaults are
all there is and the ordinary flag resolution applies.
"""
from __future__ import annotations

from typing import Any, Mapping

from kaudit.rules.flags import ComponentInstance, FlagValue
from kaudit.rules.effective.values import get_path
from kaudit.rules.nodefiles import node_yaml

# deprecated flag -> (field path in the file, the file's default when absent)
CONFIG_FIELDS: Mapping[str, tuple[str, str | None]] = {
    "profiling": ("enableProfiling", "true"),
    "contention-profiling": ("enableContentionProfiling", None),   # follows enableProfiling
    "kubeconfig": ("clientConnection.kubeconfig", ""),
    "kube-api-qps": ("clientConnection.qps", "50"),
    "kube-api-burst": ("clientConnection.burst", "100"),
    "kube-api-content-type": ("clientConnection.contentType", "application/vnd.kubernetes.protobuf"),
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def effective_scheduler_flag(inst: ComponentInstance, flag: str, minor: int | None) -> FlagValue | None:
    """The value of a setting the config file takes over, or None when the
    flag resolution applies (no --config, or a flag the file does not hold)."""
    path = inst.flags.get("config")
    if not path or flag not in CONFIG_FIELDS:
        return None
    field, default = CONFIG_FIELDS[flag]
    ignored = (f"; --{flag}={inst.flags.get(flag)} is ignored because --config is given"
               if inst.flags.has(flag) else "")
    doc, why = node_yaml(inst.node_facts, path, inst.node, mapping=True)
    if doc is None:
        return FlagValue(f"{field} in {path}", None, "unknown",
                         f"the scheduler reads {field} from its --config {path}, which could not be read: {why}")
    kind = doc.get("kind")
    if kind is not None and kind != "KubeSchedulerConfiguration":
        return FlagValue(f"{field} in {path}", None, "unknown",
                         f"{path} is a {kind}, not a KubeSchedulerConfiguration")
    found, value = get_path(doc, field)
    if found and value is not None:
        return FlagValue(f"{field} in {path}", _text(value), "config file", f"from the --config file{ignored}")
    if flag == "contention-profiling":
        _, profiling = get_path(doc, "enableProfiling")
        default = "false" if profiling is False else "true"
    note = f"not in the --config file: the KubeSchedulerConfiguration default applies{ignored}"
    if flag == "kubeconfig":
        note = f"not in the --config file: the scheduler uses its in-cluster configuration{ignored}"
    return FlagValue(f"{field} in {path}", default, "config default", note)
