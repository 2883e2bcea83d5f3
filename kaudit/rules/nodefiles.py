"""Config files a component names, as node access collected them.

Every rule that parses a file from a node (kubelet and kube-proxy configs,
the encryption and admission configurations, the audit policy, k3s/RKE2
config.yaml) reads it through `node_yaml`, so "not collected", "unreadable",
"absent" and "invalid" are told apart the same way everywhere.
"""
from __future__ import annotations

from typing import Any, Mapping

from kaudit import yamlsafe
from kaudit.model import NodeFacts


# A component config file is a few KiB; the node collector sends at most 256
# KiB. Saved facts are not bounded by the collector, so the parse is.
MAX_YAML_CHARS = 1 << 20


def parse_yaml(text: str, path: str) -> tuple[Any, str | None]:
    """(document, None) or (None, why it is not valid YAML)."""
    if len(text) > MAX_YAML_CHARS:
        return None, f"{path} is too large to be a configuration file ({len(text)} characters)"
    try:
        return yamlsafe.load(text), None
    except yamlsafe.YAMLError as exc:
        line = yamlsafe.error_line(exc)
        return None, f"{path} is not valid YAML" + (f" (line {line})" if line else "")


def parse_yaml_mapping(text: str, path: str) -> tuple[Mapping[str, Any] | None, str | None]:
    """Like parse_yaml, for files that must be a mapping (an empty file is {})."""
    data, why = parse_yaml(text, path)
    if why:
        return None, why
    if data is None:
        return {}, None
    if not isinstance(data, Mapping):
        return None, f"{path} is not a YAML mapping"
    return data, None


def node_yaml(nf: NodeFacts | None, path: str, node: str | None = None,
              mapping: bool = False) -> tuple[Any, str | None]:
    """The parsed contents of `path` on a node, or (None, why not)."""
    if nf is None:
        return None, f"{path} is on node {node or '?'}, which was not inspected (node access needed)"
    if nf.unreachable:
        return None, f"node {nf.name} could not be reached: {nf.unreachable}"
    if path in nf.content_errors:
        return None, f"{path}: {nf.content_errors[path]}"
    text = nf.contents.get(path)
    if text is None:
        fi = nf.file(path)
        if fi is not None and fi.error:
            return None, f"{path}: {fi.error}"
        if fi is not None and not fi.exists:
            return None, f"{path} does not exist on node {nf.name}"
        return None, f"{path} was not collected from node {nf.name}"
    return parse_yaml_mapping(text, path) if mapping else parse_yaml(text, path)
