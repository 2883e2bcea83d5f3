"""The one way kaudit parses YAML (and JSON) it did not write, with bounds.

PyYAML's safe loader (libyaml's C implementation when PyYAML was built with
it, an order of magnitude faster on large dumps; the same documents either
way), bounded against hostile input:

- alias expansion: a few hundred bytes of anchors and aliases ("billion
  laughs") describe 10^9 nodes; the loader shares them, but anything that
  walks the data (the trimmer, the kubernetes client's kubeconfig loader)
  expands them and hangs or takes gigabytes. A document is refused when its
  aliases make it decode to far more nodes than it holds, with the same rule
  Kubernetes itself applies through sigs.k8s.io/yaml (go-yaml's
  `allowedAliasRatio`: up to 99% aliased nodes for small documents, falling
  linearly to 10% at 4,000,000 decoded nodes);
- nesting: libyaml refuses more than 1000 levels; the pure-Python loader's
  RecursionError and the JSON decoder's are turned into ordinary parse errors;
- size: small configuration files (kubeconfig, inventory, waivers) are
  refused past MAX_CONFIG_BYTES before they are read whole.

Errors never quote the document: a kubeconfig line may hold a token.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError

# A kubeconfig with many embedded certificates, a 5,000-host inventory or a
# long waiver list is well under 1 MiB.
MAX_CONFIG_BYTES = 8 * 2**20
# go-yaml v2/v3 decode.go `allowedAliasRatio` (the CVE-2019-11254 fix; Kubernetes vendors
# it as sigs.k8s.io/yaml/goyaml.v2/v3 for every object and kubeconfig): below 400,000 decoded nodes up to
# 99% may come from aliases, above 4,000,000 only 10%, linear in between; only
# documents with more than 100 aliased and 1000 decoded nodes are judged.
_ALIAS_RATIO_RANGE_LOW, _ALIAS_RATIO_RANGE_HIGH = 400_000, 4_000_000


# An anchor (`&name`) and an alias (`*name`) as YAML writes them: after a space,
# a line start or a flow indicator. Text with neither (a URL's `a=1&b=2` is not
# one) is composed without the alias walk, which would cost as much as the
# document on a 700 MB dump.
_ANCHOR = re.compile(r"(?:^|[\s\[{,:])&[^\s\[\]{},]", re.MULTILINE)
_ALIAS = re.compile(r"(?:^|[\s\[{,:])\*[^\s\[\]{},]", re.MULTILINE)


def _may_alias(text: str) -> bool:
    return "&" in text and "*" in text and bool(_ANCHOR.search(text)) and bool(_ALIAS.search(text))


class ExcessiveAliasing(yaml.YAMLError):
    def __init__(self, mark: Any, decoded: int) -> None:
        super().__init__()
        self.problem = (f"document contains excessive aliasing (it expands to "
                        f"{decoded if decoded < 10**12 else 'more than 10^12'} nodes); refused")
        self.problem_mark = mark
        self.context_mark = None

    def __str__(self) -> str:
        return self.problem


class TooDeep(yaml.YAMLError):
    def __init__(self, what: str = "document") -> None:
        super().__init__()
        self.problem = f"{what} is nested too deeply; refused"
        self.problem_mark = None
        self.context_mark = None

    def __str__(self) -> str:
        return self.problem


class InputTooLarge(OSError):
    """A small configuration file that is not small: refused unread."""


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _ALIAS_RATIO_RANGE_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_RANGE_HIGH:
        return 0.10
    span = _ALIAS_RATIO_RANGE_HIGH - _ALIAS_RATIO_RANGE_LOW
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_RANGE_LOW) / span


def check_aliasing(root: yaml.Node | None) -> None:
    """Refuse a composed document whose aliases expand it excessively.

    The composed graph shares aliased nodes; the decoded size is computed per
    distinct node (memoised, iteratively), so the check costs the graph's size,
    not the expansion's."""
    if root is None:
        return
    size: dict[int, int] = {}
    visiting: set[int] = set()
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        children = _children(node)
        if expanded:
            size[key] = 1 + sum(size[id(c)] for c in children)
            visiting.discard(key)
            distinct += 1
            continue
        if key in size:
            continue
        if key in visiting:          # an alias inside its own anchor: it never ends
            raise ExcessiveAliasing(root.start_mark, 10**12)
        visiting.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    decoded = size[id(root)]
    aliased = decoded - distinct
    if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
        raise ExcessiveAliasing(root.start_mark, decoded)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def compose(text: str) -> yaml.Node | None:
    """The node graph of one YAML document (line numbers for error messages),
    refused when its aliases expand excessively (raises YAMLError). For small
    configuration files: the pure-Python composer, whose error messages name
    the construct an error is in."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise TooDeep() from None
        if _may_alias(text):       # no anchor and alias: nothing to expand
            check_aliasing(node)
        return node
    finally:
        loader.dispose()


def load(text: str) -> Any:
    """Parse one YAML document with the safe loader (raises YAMLError)."""
    loader = LOADER(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if _may_alias(text):
                check_aliasing(node)
            return loader.construct_document(node)
        except RecursionError:
            raise TooDeep() from None
    finally:
        loader.dispose()


def load_json(text: str | bytes) -> Any:
    """`json.loads` whose nesting is bounded (the decoder recurses per level):
    too deep a document raises ValueError, never RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON document is nested too deeply; refused") from None


def read_config(path: str | Path, what: str, limit: int = MAX_CONFIG_BYTES) -> str:
    """A small configuration file's text (UTF-8). Larger than `limit`: refused
    with InputTooLarge (an OSError) before it is read whole."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(limit + 1)
    if size > limit or len(data) > limit:
        raise InputTooLarge(f"{what} {path} is {max(size, len(data)) / 2**20:.1f} MiB, over the "
                            f"{limit // 2**20} MiB a {what} may have; refused")
    return data.decode("utf-8")


def error_line(exc: BaseException) -> int | None:
    """The 1-based line a YAML error points at, when it says."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None
