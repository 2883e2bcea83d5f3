"""Saved NodeFacts (the JSON `kaudit node-facts` prints), one per node.

`read_node_facts` is the one reader of that document: `--node-facts` files
and the collector DaemonSet's pod logs both go through it.
"""
from __future__ import annotations

import json
import os
import stat
from typing import Any

from kaudit.collect import NodeSource, Progress, SourceError, no_progress
from kaudit.model import NODEFACTS_SCHEMA, ClusterFacts, NodeFacts

_FILE_TYPES = (None, "file", "dir", "symlink", "other")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _check_shape(data: dict[str, Any]) -> None:
    """Fields of the wrong type are a malformed document, not a quietly
    different fact (a string of roles read letter by letter, a mode that is
    not octal)."""
    for name in ("hostname", "transport", "collected_at", "collector_version", "unreachable"):
        _check(data.get(name) is None or isinstance(data[name], str), f"{name}: not a string")
    roles, errors = data.get("roles") or [], data.get("errors") or []
    _check(isinstance(roles, list) and all(isinstance(r, str) for r in roles), "roles: not a list of strings")
    _check(isinstance(errors, list) and all(isinstance(e, str) for e in errors), "errors: not a list of strings")
    for name in ("contents", "content_errors"):
        _check(_str_map(data.get(name) or {}), f"{name}: not a mapping of path to text")
    processes = data.get("processes") or []
    _check(isinstance(processes, list), "processes: not a list")
    for i, p in enumerate(processes):
        _check(isinstance(p, dict) and _is_int(p.get("pid")), f"processes[{i}]: no integer pid")
        argv = p.get("argv")
        _check(isinstance(argv, list) and all(isinstance(a, str) for a in argv),
               f"processes[{i}].argv: not a list of strings")
        _check(p.get("env") is None or _str_map(p["env"]), f"processes[{i}].env: not a mapping of strings")
    files = data.get("files") or {}
    _check(isinstance(files, dict), "files: not a mapping")
    for path, f in files.items():
        _check(isinstance(f, dict) and isinstance(f.get("exists"), bool), f"files[{path!r}]: no boolean exists")
        _check(f.get("type") in _FILE_TYPES, f"files[{path!r}].type: unknown type")
        mode = f.get("mode")
        _check(mode is None or (isinstance(mode, str) and 0 < len(mode) <= 6 and set(mode) <= set("01234567"))
               or (_is_int(mode) and 0 <= mode <= 0o7777), f"files[{path!r}].mode: not an octal mode")
        for name in ("uid", "gid"):
            _check(f.get(name) is None or _is_int(f[name]), f"files[{path!r}].{name}: not an integer")
        for name in ("user", "group", "error"):
            _check(f.get(name) is None or isinstance(f[name], str), f"files[{path!r}].{name}: not a string")


def read_node_facts(text: str | bytes) -> NodeFacts:
    """A NodeFacts JSON document -> NodeFacts. Raises ValueError (only) for
    anything that is not a complete, well-formed document of this schema."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:     # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"not valid JSON: {exc}") from None
    return node_facts_from_document(data)


def node_facts_from_document(data: Any) -> NodeFacts:
    """A decoded NodeFacts document -> NodeFacts (ValueError when malformed)."""
    _check(isinstance(data, dict), "not a JSON object")
    _check(data.get("schema") == NODEFACTS_SCHEMA,
           f"unsupported NodeFacts schema {str(data.get('schema'))[:40]!r} (expected {NODEFACTS_SCHEMA})")
    _check_shape(data)
    return NodeFacts.from_json(data)           # also checks the name


def node_name_of(path: str) -> str:
    """The node a facts file is about, by its name (`save_facts` writes <node>.json)."""
    base = os.path.basename(path)
    return base[:-len(".json")] if base.endswith(".json") else base


class SavedNodeFactsSource(NodeSource):
    """Reads files, or every *.json in directories. A file named on the
    command line that cannot be read stops the scan (exit 2); one unreadable
    or malformed file in a directory is that node unreachable (named from the
    file), and the other nodes are scanned."""
    name = "saved"

    def __init__(self, paths: list[str] | tuple[str, ...] | str) -> None:
        self.paths = [paths] if isinstance(paths, str) else list(paths)

    def files(self) -> list[tuple[str, bool]]:
        """(path, named on the command line) for every file to read."""
        out: list[tuple[str, bool]] = []
        for path in self.paths:
            path = str(path)
            if os.path.isdir(path):
                try:
                    names = sorted(os.listdir(path))
                except OSError as exc:
                    raise SourceError(f"{path}: {exc.strerror or exc}", exit_code=2) from None
                out += [(os.path.join(path, n), False) for n in names
                        if n.endswith(".json") and not os.path.isdir(os.path.join(path, n))]
            elif os.path.exists(path):
                out.append((path, True))
            else:
                raise SourceError(f"{path}: no such file or directory", exit_code=2)
        return out

    def collect(self, cluster: ClusterFacts, progress: Progress = no_progress) -> list[NodeFacts]:
        nodes: list[NodeFacts] = []
        seen: dict[str, str] = {}
        for path, named in self.files():
            progress(f"reading node facts {path}")
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    raise ValueError("not a regular file")     # a FIFO would block the scan on open
                with open(path, "rb") as fh:
                    facts = read_node_facts(fh.read())
            except OSError as exc:
                why = f"{path}: cannot read saved node facts: {exc.strerror or exc}"
                if named:
                    raise SourceError(why, exit_code=2) from None
                facts = NodeFacts(name=node_name_of(path), transport="saved", unreachable=why)
            except ValueError as exc:
                why = f"{path}: not valid saved node facts: {exc}"
                if named:
                    raise SourceError(why, exit_code=2) from None
                facts = NodeFacts(name=node_name_of(path), transport="saved", unreachable=why)
            if facts.name in seen:
                raise SourceError(f"{path}: node {facts.name!r} already read from {seen[facts.name]}",
                                  exit_code=2)
            seen[facts.name] = path
            nodes.append(facts)
        return nodes
