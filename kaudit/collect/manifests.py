"""Offline source: Kubernetes objects from YAML/JSON files (`--manifests`).

Accepts a file or a directory (recursively: *.yaml, *.yml, *.json),
multi-document YAML, JSON, `kind: List` (what `kubectl get -A -o yaml`
prints) and JSON arrays. Each YAML document is parsed on its own, so a
malformed one is reported with its file and line and skipped while the rest
of the file still loads. Unknown kinds are kept.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

from kaudit.collect import ClusterSource, Progress, SourceError, no_progress
from kaudit.collect.trim import NotAnObject, to_kobject
from kaudit.model import NAMESPACE, NODE, ClusterFacts

try:  # libyaml is an order of magnitude faster on large dumps
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_DOC_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)
SUFFIXES = (".yaml", ".yml", ".json")


class ManifestSource(ClusterSource):
    name = "manifests"

    def __init__(self, paths: list[Path], source_name: str = "manifests") -> None:
        self.paths = [Path(p) for p in paths]
        self.source_name = source_name

    def collect(self, progress: Progress = no_progress) -> ClusterFacts:
        facts = ClusterFacts(source=self.source_name)
        files = list(self._files())
        if not files:
            raise SourceError(f"no YAML or JSON files found in {', '.join(map(str, self.paths))}", exit_code=2)
        loaded = 0
        for path in files:
            progress(f"reading {path}")
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SourceError(f"{path}: cannot read: {exc}", exit_code=2) from None
            for raw, line in _documents(text, path, facts.load_errors):
                for item, item_line in _items(raw, line):
                    try:
                        facts.add(to_kobject(item, origin=f"{path}:{item_line}"))
                        loaded += 1
                    except NotAnObject as exc:
                        facts.load_errors.append(f"{path}:{item_line}: skipped: {exc}")
        if loaded == 0:
            detail = f" ({facts.load_errors[0]})" if facts.load_errors else ""
            raise SourceError(f"no Kubernetes objects found in {', '.join(map(str, self.paths))}{detail}",
                              exit_code=2)
        name = "kaudit demo cluster" if self.source_name == "demo" else ", ".join(str(p) for p in self.paths)
        fill_identity_from_objects(facts, name=name)
        return facts

    def _files(self) -> Iterator[Path]:
        for p in self.paths:
            if p.is_dir():
                yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
            elif p.is_file():
                yield p
            else:
                raise SourceError(f"{p}: no such file or directory", exit_code=2)


def _documents(text: str, path: Path, errors: list[str]) -> Iterator[tuple[Any, int]]:
    """(parsed document, 1-based line where it starts), skipping malformed ones."""
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith(("{", "[")):
        try:
            yield json.loads(text), 1
            return
        except ValueError as exc:
            if path.suffix.lower() == ".json":
                line = getattr(exc, "lineno", 1)
                errors.append(f"{path}:{line}: malformed JSON, skipped: {exc}")
                return
    starts = [0] + [m.end() + 1 for m in _DOC_SEPARATOR.finditer(text)]
    ends = [m.start() for m in _DOC_SEPARATOR.finditer(text)] + [len(text)]
    for start, end in zip(starts, ends):
        chunk = text[start:end]
        if not chunk.strip():
            continue
        first_line = text.count("\n", 0, start) + 1
        try:
            doc = yaml.load(chunk, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            last_line = first_line + max(chunk.rstrip().count("\n"), 0)
            line = min(first_line + (mark.line if mark else 0), last_line)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            errors.append(f"{path}:{line}: malformed YAML document (starting at line {first_line}) "
                          f"skipped: {problem}")
            continue
        if doc is not None:
            yield doc, first_line


def _items(doc: Any, line: int) -> Iterator[tuple[Any, int]]:
    """Unwrap `kind: List` / `*List` and JSON arrays into their items."""
    if isinstance(doc, list):
        for item in doc:
            yield from _items(item, line)
        return
    if isinstance(doc, dict) and isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
        list_kind = str(doc.get("kind"))
        item_kind = list_kind[:-4] if list_kind != "List" else None
        for item in doc["items"]:
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = {**item, "kind": item_kind, "apiVersion": doc.get("apiVersion", "v1")}
            yield item, line
        return
    yield doc, line


def fill_identity_from_objects(facts: ClusterFacts, name: str | None = None) -> None:
    """Identity from the objects themselves: version from the kubelets,
    stable id from the kube-system namespace UID, platform from labels."""
    ident = facts.identity
    ident.name = ident.name or name
    nodes = facts.of_kind(NODE)
    ident.node_count = len(nodes)
    if not ident.version:
        versions = [((n.body.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") for n in nodes]
        versions = [v for v in versions if v]
        if versions:
            ident.version = max(versions, key=_version_key)
    for ns in facts.of_kind(NAMESPACE):
        if ns.name == "kube-system" and ns.uid:
            ident.cluster_id = ident.cluster_id or ns.uid
    try:
        from kaudit.collect.platform import detect_identity
    except ImportError:  # the platform detector is optional for offline scans
        return
    detect_identity(facts)


def _version_key(v: str) -> tuple[int, ...]:
    nums = re.findall(r"\d+", v.split("-")[0].split("+")[0])
    return tuple(int(n) for n in nums[:3])
