"""Offline source: Kubernetes objects from YAML/JSON files (`--manifests`).

Accepts a file or a directory (recursively: *.yaml, *.yml, *.json),
multi-document YAML, JSON, `kind: List` (what `kubectl get -A -o yaml`
prints) and JSON arrays. Each YAML document is parsed on its own, so a
malformed one is reported with its file and line and skipped while the rest
of the file still loads. Unknown kinds are kept.
"""
from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any, Iterator

from kaudit import yamlsafe
from kaudit.collect import ClusterSource, Progress, SourceError, no_progress
from kaudit.collect.jsonstream import iter_list
from kaudit.collect.trim import NotAnObject, Sharer, to_kobject
from kaudit.model import K8S_GROUPS, NAMESPACE, NODE, ClusterFacts, kind_group, kind_key

_DOC_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)
SUFFIXES = (".yaml", ".yml", ".json")


class ManifestSource(ClusterSource):
    name = "manifests"

    def __init__(self, paths: list[Path], source_name: str = "manifests") -> None:
        self.paths = [Path(p) for p in paths]
        self.source_name = source_name

    def collect(self, progress: Progress = no_progress) -> ClusterFacts:
        from kaudit.collect.evidence import is_bundle, load_bundle
        bundles = [p for p in self.paths if is_bundle(p)]
        if bundles:
            if len(self.paths) > 1:
                raise SourceError(f"{bundles[0]} is a kaudit evidence bundle: scan it on its own "
                                  "(its collection record describes only its own objects)", exit_code=2)
            return load_bundle(bundles[0], progress)
        facts = ClusterFacts(source=self.source_name)
        files = list(self._files())
        if not files:
            raise SourceError(f"no YAML or JSON files found in {', '.join(map(str, self.paths))}", exit_code=2)
        loaded = 0
        sharer = Sharer()
        for index, path in enumerate(files, 1):
            progress(f"reading file {index} of {len(files)} ({sum(map(len, facts.objects.values())):,} "
                     f"objects so far): {path}")
            streamed = _load_json_list_streaming(path, facts, sharer)
            if streamed is not None:
                loaded += streamed
                continue
            try:
                text = read_text(path)
            except (OSError, UnicodeDecodeError) as exc:
                raise SourceError(f"{path}: cannot read: {exc}", exit_code=2) from None
            for raw, line in _documents(text, path, facts.load_errors):
                for item, item_line in _items(raw, line):
                    try:
                        facts.add(sharer.kobject(to_kobject(item, origin=f"{path}:{item_line}")))
                        loaded += 1
                    except NotAnObject as exc:
                        facts.load_errors.append(f"{path}:{item_line}: skipped: {exc}")
        if loaded == 0:
            detail = f" ({facts.load_errors[0]})" if facts.load_errors else ""
            raise SourceError(f"no Kubernetes objects found in {', '.join(map(str, self.paths))}{detail}",
                              exit_code=2)
        default_namespaces(facts)
        if self.source_name != "demo":
            # The demo is a whole cluster by construction; a dump holds only what it holds.
            record_dump_contents(facts)
        # Never a file path: a dump does not name its cluster (--cluster-name does).
        name = "kaudit demo cluster" if self.source_name == "demo" else None
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


def read_text(path: Path) -> str:
    """A file's text: UTF-8, or UTF-16/UTF-32 or UTF-8 with a byte order mark
    (what Windows PowerShell's `>` and Out-File write)."""
    data = path.read_bytes()
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    return data.decode("utf-8")


# Kubernetes' own API groups besides model.K8S_GROUPS (whose kinds are keyed
# by the bare Kind): a dump that holds none of their objects still comes from
# a cluster that serves them.
BUILTIN_GROUPS = K8S_GROUPS | {
    "events.k8s.io", "autoscaling", "flowcontrol.apiserver.k8s.io", "resource.k8s.io",
    "apiextensions.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "storagemigration.k8s.io", "internal.apiserver.k8s.io",
}

# Kubernetes' own cluster-scoped kinds (`kubectl api-resources --namespaced=false`,
# v1.33), as kind keys. Every other kind of BUILTIN_GROUPS is namespaced.
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "ComponentStatus", "ClusterRole", "ClusterRoleBinding",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "APIService", "CertificateSigningRequest", "ClusterTrustBundle", "IngressClass", "IPAddress",
    "ServiceCIDR", "RuntimeClass", "PriorityClass", "PodSecurityPolicy", "StorageClass", "CSIDriver",
    "CSINode", "VolumeAttachment", "VolumeAttributesClass",
    "CustomResourceDefinition.apiextensions.k8s.io", "FlowSchema.flowcontrol.apiserver.k8s.io",
    "PriorityLevelConfiguration.flowcontrol.apiserver.k8s.io", "DeviceClass.resource.k8s.io",
    "ResourceSlice.resource.k8s.io", "DeviceTaintRule.resource.k8s.io", "StorageVersionMigration.storagemigration.k8s.io",
    "StorageVersion.internal.apiserver.k8s.io", "TokenReview.authentication.k8s.io",
    "SelfSubjectReview.authentication.k8s.io", "SubjectAccessReview.authorization.k8s.io",
    "SelfSubjectAccessReview.authorization.k8s.io", "SelfSubjectRulesReview.authorization.k8s.io",
})
CRD_KIND = "CustomResourceDefinition.apiextensions.k8s.io"


def kind_scopes(facts: ClusterFacts) -> dict[str, bool]:
    """Kind key -> namespaced, for the kinds whose scope is known: the
    extension kinds kaudit reads (permissions.READS) and every
    CustomResourceDefinition in the input (its spec.scope)."""
    from kaudit.collect.permissions import READS
    scopes = {r.kind_key: r.namespaced for r in READS}
    for crd in facts.of_kind(CRD_KIND):
        spec = crd.body.get("spec") if isinstance(crd.body.get("spec"), dict) else {}
        group, scope = spec.get("group"), spec.get("scope")
        kind = (spec.get("names") or {}).get("kind") if isinstance(spec.get("names"), dict) else None
        if isinstance(group, str) and isinstance(kind, str) and scope in ("Namespaced", "Cluster"):
            scopes[kind_key(f"{group}/v1", kind)] = scope == "Namespaced"
    return scopes


def default_namespaces(facts: ClusterFacts) -> None:
    """A namespaced object without metadata.namespace is in `default`, where
    `kubectl apply` creates it (kubectl's default namespace, from the
    kubeconfig context, is `default` unless set). Cluster-scoped kinds keep
    none; a kind whose scope is unknown (an extension without its CRD in the
    input) is left as it is rather than guessed."""
    scopes = kind_scopes(facts)
    for key, objs in facts.objects.items():
        group = kind_group(key)
        if key in CLUSTER_SCOPED_KINDS:
            continue
        namespaced = True if group is None or group in BUILTIN_GROUPS else scopes.get(key)
        if not namespaced:
            continue
        for obj in objs:
            if obj.namespace is None:
                obj.namespace = "default"


def record_dump_contents(facts: ClusterFacts) -> None:
    """A dump's collection record: a kind was collected when the input holds
    an object of it. Extension groups count as installed when the input holds
    an object or a CustomResourceDefinition of theirs; any other group is taken
    as not installed (an assumption the report names when a check relied on it)."""
    facts.listed = {k for k, objs in facts.objects.items() if objs}
    groups = set(BUILTIN_GROUPS)
    groups.update(g for g in map(kind_group, facts.listed) if g)
    for crd in facts.of_kind(CRD_KIND):
        group = (crd.body.get("spec") or {}).get("group") if isinstance(crd.body.get("spec"), dict) else None
        if isinstance(group, str):
            groups.add(group)
    facts.groups = groups
    facts.groups_assumed = True


# JSON files at least this large are read item by item (kaudit/collect/jsonstream.py).
STREAM_MIN_BYTES = 8 * 2**20


def _load_json_list_streaming(path: Path, facts: ClusterFacts, sharer: Sharer) -> int | None:
    """A large `.json` List (kubectl's `get -A -o json`), one item at a time.

    Returns the number of objects added, or None when the file is not a
    large JSON List, is malformed, or cannot be read: the caller then loads
    it whole, which reports any error exactly as for a small file. Nothing
    is added to `facts` unless the whole file streamed, and the result is
    the same as loading it whole (items, order, origins, skipped items).
    """
    try:
        if path.suffix.lower() != ".json" or path.stat().st_size < STREAM_MIN_BYTES:
            return None
    except OSError:
        return None
    origin = f"{path}:1"          # a JSON document's items all report its first line
    entries: list[Any] = []       # KObject | load error (str) | (item,) waiting for the List's kind
    members: dict[str, Any] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for event, key, value in iter_list(fh):
                if event == "member":
                    members[key] = value
                elif type(value) is dict and "kind" in value:
                    entries.append(_kobject_or_error(value, origin, path, sharer))
                else:
                    # Only the List's kind (which kubectl prints after the items) can complete it.
                    entries.append((value,))
    except (OSError, ValueError):     # NotStreamable, malformed JSON, UnicodeDecodeError
        return None
    list_kind = str(members.get("kind", ""))
    if not list_kind.endswith("List"):
        return None                   # an object that merely has "items": not a List
    item_kind = list_kind[:-4] if list_kind != "List" else None
    loaded = 0
    for entry in entries:
        if type(entry) is tuple:
            item = entry[0]
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = {**item, "kind": item_kind, "apiVersion": members.get("apiVersion", "v1")}
            entry = _kobject_or_error(item, origin, path, sharer)
        if type(entry) is str:
            facts.load_errors.append(entry)
        else:
            facts.add(entry)
            loaded += 1
    return loaded


def _kobject_or_error(item: Any, origin: str, path: Path, sharer: Sharer) -> Any:
    try:
        return sharer.kobject(to_kobject(item, origin=origin))
    except NotAnObject as exc:
        return f"{path}:1: skipped: {exc}"


def _documents(text: str, path: Path, errors: list[str]) -> Iterator[tuple[Any, int]]:
    """(parsed document, 1-based line where it starts), skipping malformed ones."""
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith(("{", "[")):
        try:
            yield yamlsafe.load_json(text), 1
            return
        except ValueError as exc:
            if path.suffix.lower() == ".json":
                line = getattr(exc, "lineno", 1)
                errors.append(f"{path}:{line}: malformed JSON, skipped: {exc}")
                return
    starts = [0] + [m.end() + 1 for m in _DOC_SEPARATOR.finditer(text)]
    ends = [m.start() for m in _DOC_SEPARATOR.finditer(text)] + [len(text)]
    counted_to, newlines = 0, 0       # counting from the previous start keeps this linear
    for start, end in zip(starts, ends):
        chunk = text[start:end]
        if not chunk.strip():
            continue
        newlines += text.count("\n", counted_to, start)
        counted_to = start
        first_line = newlines + 1
        try:
            doc = yamlsafe.load(chunk)
        except yamlsafe.YAMLError as exc:
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
