"""etcd: flags, ETCD_* environment variables, or a configuration file.

etcd (server/etcdmain/config.go, config.parse) reads `--config-file`, or
when that flag is absent the ETCD_CONFIG_FILE variable. With a file, every
other flag and every ETCD_* variable is ignored ("if a configuration file is
provided, other command line flags and environment variables will be
ignored"): the settings come from the file over embed.NewConfig()'s
defaults. Without one, a flag wins over its ETCD_* variable
(flags.SetFlagsFromEnv only sets flags not given), then etcd's default.

In the file (server/embed/config.go, configYAML and securityConfig) the TLS
settings live under `client-transport-security` and
`peer-transport-security` (`cert-file`, `key-file`, `client-cert-auth`,
`trusted-ca-file`, `auto-tls`), the data directory is `data-dir`. The file
is decoded by sigs.k8s.io/yaml into Go structs, so key matching is
case-insensitive as encoding/json's is.
"""
from __future__ import annotations

from typing import Any, Mapping

from kaudit.rules import defaults
from kaudit.rules.flags import ComponentInstance, FlagValue
from kaudit.rules.nodefiles import node_yaml

CONFIG_FILE_ENV = "ETCD_CONFIG_FILE"

# flag -> key path in the configuration file
FILE_KEYS: Mapping[str, tuple[str, ...]] = {
    "data-dir": ("data-dir",),
    "wal-dir": ("wal-dir",),
    "name": ("name",),
    "cert-file": ("client-transport-security", "cert-file"),
    "key-file": ("client-transport-security", "key-file"),
    "client-cert-auth": ("client-transport-security", "client-cert-auth"),
    "trusted-ca-file": ("client-transport-security", "trusted-ca-file"),
    "auto-tls": ("client-transport-security", "auto-tls"),
    "peer-cert-file": ("peer-transport-security", "cert-file"),
    "peer-key-file": ("peer-transport-security", "key-file"),
    "peer-client-cert-auth": ("peer-transport-security", "client-cert-auth"),
    "peer-trusted-ca-file": ("peer-transport-security", "trusted-ca-file"),
    "peer-auto-tls": ("peer-transport-security", "auto-tls"),
}
BOOLEAN_KEYS = frozenset({"client-cert-auth", "auto-tls", "peer-client-cert-auth", "peer-auto-tls"})


def env_name(flag: str) -> str:
    """etcd's variable for a flag (flags.FlagToEnv): ETCD_ + upper, - as _."""
    return "ETCD_" + flag.upper().replace("-", "_")


def config_file(inst: ComponentInstance) -> tuple[str | None, str | None]:
    """(path, where it was named) of etcd's configuration file, if any."""
    if inst.flags.get("config-file"):
        return inst.flags.get("config-file"), "--config-file"
    if inst.env and inst.env.get(CONFIG_FILE_ENV):
        return inst.env[CONFIG_FILE_ENV], CONFIG_FILE_ENV
    return None, None


def _lookup(doc: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = doc
    for key in keys:
        if not isinstance(node, Mapping):
            return False, None
        match = [k for k in node if isinstance(k, str) and k.lower() == key]
        if not match:
            return False, None
        node = node[match[-1]]
    return True, node


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def effective_etcd_flag(inst: ComponentInstance, flag: str, minor: int | None) -> FlagValue:
    """The value etcd really uses for `flag`, naming where it came from."""
    path, named_by = config_file(inst)
    if path is None:
        return _from_flags_or_env(inst, flag, minor)
    dotted = ".".join(FILE_KEYS.get(flag, (flag,)))
    what = f"{dotted} in {path}"
    doc, why = node_yaml(inst.node_facts, path, inst.node, mapping=True)
    if doc is None:
        return FlagValue(what, None, "unknown",
                         f"etcd reads its settings from {path} ({named_by}), which could not be read: {why}")
    ignored = []
    if inst.flags.has(flag):
        ignored.append(f"--{flag}")
    if inst.env and env_name(flag) in inst.env:
        ignored.append(env_name(flag))
    note = f"from the etcd configuration file ({named_by})"
    if ignored:
        note += f"; {' and '.join(ignored)} ignored because a configuration file is given"
    found, value = _lookup(doc, FILE_KEYS.get(flag, (flag,)))
    if found and flag in BOOLEAN_KEYS and value is not None and not isinstance(value, bool):
        # a string where Go expects a bool: etcd refuses the file and does not start
        return FlagValue(what, None, "unknown", f"{dotted} in {path} is {value!r}, not a boolean")
    if found and value is not None and value != "":
        return FlagValue(what, _text(value), "config file", note)
    if flag in BOOLEAN_KEYS:
        return FlagValue(what, "false", "config default",
                         f"not in the configuration file: etcd's default false; {note}")
    known, default = defaults.flag_default("etcd", flag, minor)
    if known and default is not None:
        return FlagValue(what, default, "config default", f"not in the configuration file: etcd's default; {note}")
    return FlagValue(what, None, "unset", f"not in the configuration file; {note}")


def _from_flags_or_env(inst: ComponentInstance, flag: str, minor: int | None) -> FlagValue:
    if inst.flags.has(flag):
        return FlagValue(f"--{flag}", inst.flags.get(flag), "flag")
    env = env_name(flag)
    if inst.env and env in inst.env:
        return FlagValue(env, inst.env[env], "env")
    known, value = defaults.flag_default("etcd", flag, minor)
    if known and value is not None:
        return FlagValue(f"--{flag}", value, "default")
    return FlagValue(f"--{flag}", None, "unset")
