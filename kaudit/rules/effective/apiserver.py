"""kube-apiserver: settings that a structured configuration file takes over
from the command line.

- `--authorization-config` (AuthorizationConfiguration, 1.29+): the authorizer
  chain is in that file and `--authorization-mode` (and its AlwaysAllow
  default) does not apply; the two flags are mutually exclusive.
- `--authentication-config` (AuthenticationConfiguration): when the file has
  an `anonymous:` section (AnonymousAuthConfigurableEndpoints: beta and on by
  default in 1.32, GA in 1.34) that section decides anonymous access, and
  `--anonymous-auth` may not be given as well: the API server refuses to
  start ("--anonynous-auth flag cannot be set when anonymous field is
  configured in authentication configuration file",
  pkg/kubeapiserver/options/authentication.go, ToAuthenticationConfig).
  Without the section, `--anonymous-auth` and its default (true) apply.

Any other flag is resolved by kaudit.rules.flags (flag, then default).
"""
from __future__ import annotations

from typing import Any, Mapping

from kaudit.rules import defaults
from kaudit.rules.flags import ComponentInstance, FlagValue, parse_feature_gates
from kaudit.rules.nodefiles import node_yaml

# Paths anonymous requests may reach that CIS treats as acceptable: health
# checks (the CIS rationale of 1.2.1 accepts anonymous health checks).
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
ANONYMOUS_CONFIG_GATE = "AnonymousAuthConfigurableEndpoints"
ANONYMOUS_CONFIG_SINCE = 32      # beta, on by default


def effective_apiserver_flag(inst: ComponentInstance, flag: str, minor: int | None) -> FlagValue | None:
    """The setting `flag` stands for when a config file decides it, or None
    when the ordinary flag/default resolution applies."""
    if flag == "authorization-mode" and inst.flags.get("authorization-config"):
        return authorizers_from_config(inst, inst.flags.get("authorization-config") or "")
    if flag == "anonymous-auth" and inst.flags.get("authentication-config"):
        return anonymous_from_config(inst, inst.flags.get("authentication-config") or "", minor)
    return None


def _config(inst: ComponentInstance, path: str) -> tuple[Mapping[str, Any] | None, str | None]:
    doc, why = node_yaml(inst.node_facts, path, inst.node, mapping=True)
    return (None, why or "not read") if doc is None else (doc, None)


def authorizers_from_config(inst: ComponentInstance, path: str) -> FlagValue:
    """The chain's authorizer types stand in for the mode list."""
    doc, why = _config(inst, path)
    if doc is None:
        return FlagValue("--authorization-config", None, "unknown",
                         f"the authorizers are in {path}, which could not be read: {why}")
    types = [str(a.get("type")) for a in doc.get("authorizers") or () if isinstance(a, Mapping) and a.get("type")]
    return FlagValue(f"authorizers in {path}", ",".join(types), "config file",
                     "--authorization-config replaces --authorization-mode")


def anonymous_from_config(inst: ComponentInstance, path: str, minor: int | None) -> FlagValue:
    """"false" when the file disables anonymous access or allows it only for
    health-check paths; "true" otherwise. Without an `anonymous:` section the
    flag and its default decide."""
    doc, why = _config(inst, path)
    if doc is None:
        return FlagValue("--authentication-config", None, "unknown",
                         f"anonymous access may be configured in {path}, which could not be read: {why}")
    section = doc.get("anonymous")
    if section is None:   # the flag and its default decide; the evidence says the file was read
        if inst.flags.has("anonymous-auth"):
            return FlagValue("--anonymous-auth", inst.flags.get("anonymous-auth"), "flag",
                             f"set on the command line; {path} has no anonymous section")
        _, default = defaults.flag_default("kube-apiserver", "anonymous-auth", minor)
        return FlagValue("--anonymous-auth", default, "default",
                         f"flag absent and {path} has no anonymous section: Kubernetes default applies")
    where = f"anonymous section of {path}"
    gate = parse_feature_gates(inst.flags.get("feature-gates")).get(ANONYMOUS_CONFIG_GATE)
    if gate == "false" or (gate is None and minor is not None and minor < ANONYMOUS_CONFIG_SINCE):
        return FlagValue(where, None, "unknown",
                         f"{path} has an anonymous section, which the API server rejects unless the "
                         f"{ANONYMOUS_CONFIG_GATE} feature gate is on (default from 1.{ANONYMOUS_CONFIG_SINCE})")
    if inst.flags.has("anonymous-auth"):
        return FlagValue(where, None, "unknown",
                         f"--anonymous-auth is set and {path} has an anonymous section: the API server refuses "
                         "to start with both")
    if not isinstance(section, Mapping) or not isinstance(section.get("enabled", False), bool):
        return FlagValue(where, None, "unknown", f"{path}: anonymous is not a valid AnonymousAuthConfig")
    enabled = f"anonymous.enabled in {path}"
    if not section.get("enabled", False):
        return FlagValue(enabled, "false", "config file", "the authentication config disables anonymous requests")
    paths = [str(c.get("path")) for c in section.get("conditions") or () if isinstance(c, Mapping)]
    if not paths:
        return FlagValue(enabled, "true", "config file",
                         "enabled with no conditions: every endpoint accepts anonymous requests")
    beyond = f"anonymous access beyond health checks ({path})"
    others = [p for p in paths if p not in HEALTH_PATHS]
    if others:
        return FlagValue(beyond, "true", "config file",
                         f"anonymous requests are accepted on {', '.join(others)}")
    return FlagValue(beyond, "false", "config file",
                     f"anonymous requests are accepted only on the health checks {', '.join(paths)}")

