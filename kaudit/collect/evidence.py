"""The evidence bundle: what one scan saw, kept so its verdicts can be
re-checked offline (`kaudit scan --save-evidence DIR`, then
`kaudit scan --manifests DIR`). Layout (docs/facts.md):

    DIR/kaudit-evidence.json     the record: kaudit version, catalog hash, cluster
                                 identity, the collection record (kinds listed,
                                 denied, failed), load errors
    DIR/objects/<kind key>.json  one `kind: List` per kind read, empty ones included,
                                 objects as trimmed by kaudit.collect.trim
    DIR/configz.json             node -> live kubelet configuration, and the errors
    DIR/nodes/<node>.json        NodeFacts, as `kaudit node-facts` prints them

Objects are what the scan kept (kaudit.collect.trim): Secret data is never
read, so never written. Reading a bundle goes through the same object parser
as any manifest (`to_kobject`), and restores the collection record, so a
re-scan gives the same results and the same completeness.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from kaudit import __version__
from kaudit.collect import Progress, SourceError, no_progress
from kaudit.collect.jsonstream import iter_list
from kaudit.collect.trim import NotAnObject, Sharer, to_kobject
from kaudit.model import ClusterFacts, ClusterIdentity, Facts, KObject
from kaudit.yamlsafe import load_json

RECORD = "kaudit-evidence.json"
SCHEMA = "kaudit.evidence/v1"
ORIGIN_FIELD = "kauditOrigin"     # where the object was read (evidence names it); not a Kubernetes field


def is_bundle(path: Path) -> bool:
    return path.is_dir() and (path / RECORD).is_file()


def catalog_sha256(benchmark_dir: Path) -> str:
    """SHA-256 over the catalog's files (name and bytes, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(benchmark_dir.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name)


def object_json(obj: KObject) -> dict[str, Any]:
    """A KObject as a Kubernetes-shaped object (to_kobject reads it back unchanged)."""
    meta: dict[str, Any] = {"name": obj.name}
    if obj.namespace is not None:
        meta["namespace"] = obj.namespace
    if obj.uid is not None:
        meta["uid"] = obj.uid
    if obj.labels:
        meta["labels"] = obj.labels
    if obj.annotations:
        meta["annotations"] = obj.annotations
    if obj.owners:
        meta["ownerReferences"] = [{"kind": o.kind, "name": o.name, "uid": o.uid, "controller": o.controller}
                                   for o in obj.owners]
    return {"apiVersion": obj.api_version, "kind": obj.kind.split(".", 1)[0], "metadata": meta,
            **obj.body, ORIGIN_FIELD: obj.origin}


def check_destination(directory: Path) -> None:
    """Refuse to overwrite: the destination must not exist or be an empty directory."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ValueError(f"--save-evidence {directory}: already exists and is not an empty directory")


def write_bundle(facts: Facts, directory: Path, benchmark: str, benchmark_dir: Path) -> None:
    """Write the bundle atomically: built beside `directory`, then renamed into place."""
    from kaudit.report import write_atomic
    from kaudit.scan import utc_now
    check_destination(directory)
    directory = directory.absolute()
    stage = directory.parent / f".{directory.name}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "objects").mkdir(parents=True)
    (stage / "nodes").mkdir()
    try:
        cluster = facts.cluster
        kinds = list(cluster.objects)
        kinds += sorted(k for k in (cluster.listed or ()) if k not in cluster.objects)
        files: dict[str, str] = {}
        for kind in kinds:
            name = _safe_name(kind) + ".json"
            files[kind] = name
            body = {"apiVersion": "v1", "kind": "List",
                    "items": [object_json(o) for o in cluster.objects.get(kind, ())]}
            write_atomic(stage / "objects" / name, json.dumps(body, separators=(",", ":")).encode())
        for nf in facts.nodes:
            write_atomic(stage / "nodes" / (_safe_name(nf.name) + ".json"), json.dumps(nf.to_json(), indent=1).encode())
        write_atomic(stage / "configz.json", json.dumps(
            {"kubelet_configz": cluster.kubelet_configz, "configz_errors": cluster.configz_errors}, indent=1).encode())
        record = {
            "schema": SCHEMA,
            "tool": {"name": "kaudit", "version": __version__},
            "written": utc_now(),
            "benchmark": benchmark,
            "catalog_sha256": catalog_sha256(benchmark_dir),
            "source": cluster.source,
            "node_access": facts.node_access,
            "identity": cluster.identity.to_json(),
            "collection": {
                "listed": sorted(cluster.listed) if cluster.listed is not None else None,
                "denied": dict(sorted(cluster.denied().items())),
                "failed": dict(sorted(cluster.failed().items())),
                "groups": sorted(cluster.groups) if cluster.groups is not None else None,
                "groups_assumed": cluster.groups_assumed,
                "enumerated_groups": sorted(cluster.enumerated_groups),
                "load_errors": list(cluster.load_errors),
            },
            "objects": files,     # kind key -> file under objects/, in the order the scan read them
        }
        write_atomic(stage / RECORD, json.dumps(record, indent=1).encode())
        if directory.exists():
            directory.rmdir()                          # empty, checked above
        os.replace(stage, directory)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def read_record(directory: Path) -> dict[str, Any]:
    try:
        record = load_json((directory / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{directory / RECORD}: cannot read the evidence record: {exc}", exit_code=2) from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise SourceError(f"{directory / RECORD}: not a kaudit evidence record (expected schema {SCHEMA})",
                          exit_code=2)
    return record


def load_bundle(directory: Path, progress: Progress = no_progress) -> ClusterFacts:
    """The ClusterFacts a bundle holds, with its collection record restored."""
    record = read_record(directory)
    coll = record.get("collection") or {}
    facts = ClusterFacts(source=str(record.get("source") or "manifests"))
    sharer = Sharer()
    for kind, name in (record.get("objects") or {}).items():
        path = directory / "objects" / name
        progress(f"reading {path}")
        facts.objects.setdefault(kind, [])
        index = 0
        try:
            with open(path, encoding="utf-8") as fh:
                # One item at a time (kaudit/collect/jsonstream.py): a bundle's Pod list can be large.
                for event, _key, item in iter_list(fh):
                    if event == "member":
                        continue
                    origin = item.get(ORIGIN_FIELD) if isinstance(item, dict) else None
                    try:
                        facts.add(sharer.kobject(to_kobject(item, origin=origin if isinstance(origin, str)
                                                            else f"{path}:{index}")))
                    except NotAnObject as exc:
                        facts.load_errors.append(f"{path}: item {index} skipped: {exc}")
                    index += 1
        except (OSError, ValueError) as exc:     # NotStreamable and malformed JSON are ValueErrors
            raise SourceError(f"{path}: cannot read this bundle file: {exc}", exit_code=2) from None
    facts.load_errors[:0] = [str(e) for e in coll.get("load_errors") or ()]
    facts.unavailable = {**(coll.get("failed") or {}), **(coll.get("denied") or {})}
    listed = coll.get("listed")
    facts.listed = set(listed) if listed is not None else None
    groups = coll.get("groups")
    facts.groups = set(groups) if groups is not None else None
    facts.groups_assumed = bool(coll.get("groups_assumed"))
    facts.enumerated_groups = set(coll.get("enumerated_groups") or ())
    ident = record.get("identity") or {}
    facts.identity = ClusterIdentity(**{k: ident.get(k) for k in (
        "name", "api_server", "version", "platform", "cluster_id", "node_count")},
        managed_control_plane=bool(ident.get("managed_control_plane")))
    try:
        configz = load_json((directory / "configz.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        configz = {}
    except (OSError, ValueError) as exc:
        raise SourceError(f"{directory / 'configz.json'}: cannot read: {exc}", exit_code=2) from None
    facts.kubelet_configz = dict(configz.get("kubelet_configz") or {})
    facts.configz_errors = dict(configz.get("configz_errors") or {})
    facts.evidence_bundle = (f"evidence bundle {directory} (written {record.get('written')} by kaudit "
                             f"{(record.get('tool') or {}).get('version')}, catalog sha256 "
                             f"{str(record.get('catalog_sha256'))[:12]})")
    return facts


def bundle_nodes(directory: Path) -> Path | None:
    """The bundle's node facts directory, when it holds any."""
    nodes = directory / "nodes"
    return nodes if nodes.is_dir() and any(nodes.glob("*.json")) else None
