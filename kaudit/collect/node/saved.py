"""Saved NodeFacts (the JSON `kaudit node-facts` prints), one per node."""
from __future__ import annotations

import os

from kaudit import yamlsafe
from kaudit.collect import NodeSource, Progress, SourceError, no_progress
from kaudit.model import ClusterFacts, NodeFacts


class SavedNodeFactsSource(NodeSource):
    """Reads files, or every *.json in directories. A malformed file stops
    the scan (exit 2): silently skipping a node would hide its findings."""
    name = "saved"

    def __init__(self, paths: list[str] | tuple[str, ...] | str) -> None:
        self.paths = [paths] if isinstance(paths, str) else list(paths)

    def files(self) -> list[str]:
        out: list[str] = []
        for path in self.paths:
            if os.path.isdir(path):
                out += sorted(os.path.join(path, n) for n in os.listdir(path)
                              if n.endswith(".json") and os.path.isfile(os.path.join(path, n)))
            elif os.path.exists(path):
                out.append(path)
            else:
                raise SourceError(f"{path}: no such file or directory", exit_code=2)
        return out

    def collect(self, cluster: ClusterFacts, progress: Progress = no_progress) -> list[NodeFacts]:
        nodes: list[NodeFacts] = []
        seen: dict[str, str] = {}
        for path in self.files():
            progress(f"reading node facts {path}")
            try:
                with open(path, encoding="utf-8") as fh:
                    data = yamlsafe.load_json(fh.read())      # nesting bounded
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                facts = NodeFacts.from_json(data)
            except OSError as exc:
                raise SourceError(f"{path}: {exc.strerror or exc}", exit_code=2) from None
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # JSONDecodeError and UnicodeDecodeError are ValueErrors; the
                # others come from fields of the wrong shape.
                raise SourceError(f"{path}: {type(exc).__name__}: {exc}", exit_code=2) from None
            if facts.name in seen:
                raise SourceError(f"{path}: node {facts.name!r} already read from {seen[facts.name]}",
                                  exit_code=2)
            seen[facts.name] = path
            nodes.append(facts)
        return nodes
