"""The `file` rule kind: mode and ownership of the files a component really uses.

"600 or more restrictive" means no permission bit outside the allowed mask:
0640 satisfies 644, 0611 does not (it grants execute). Ownership compares
names when the node resolved them and falls back to ids for root (uid 0).

Paths are resolved from what the component runs with (its flags, its
kubelet config) before falling back to the CIS default path. A file absent
because its component does not run on a node is not a target; a file the
component should have but that does not exist is SKIP with that reason; a
file that was not collected or could not be stat'ed is ERROR.
"""
from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from kaudit import components as comp
from kaudit.catalog import Check
from kaudit.model import CLUSTER, Evidence, Facts, FileInfo, Finding, NodeFacts, Status, Target
from kaudit.rules.flags import (ComponentInstance, all_in_one_config, component_instances, effective_flag,
                                no_instance_finding)
from kaudit.rules.effective import k3s
from kaudit.rules.effective.kube_proxy import ProxyView, kube_proxy_views
from kaudit.rules.effective.kubelet import KubeletView, effective_setting, kubelet_views
from kaudit.rules.effective.values import UNKNOWN, get_path
from kaudit.rules.predicates import Context

DEFAULT_MANIFEST_DIR = "/etc/kubernetes/manifests"
# systemd reads drop-ins for kubelet.service from kubelet.service.d in each
# unit directory (systemd.unit(5)); kubeadm's packages install 10-kubeadm.conf
# in /usr/lib/systemd/system/kubelet.service.d (pkgs.k8s.io, before them
# /etc/systemd/system/kubelet.service.d). Same list in collect.sh.
KUBELET_UNIT_DIRS = ("/etc/systemd/system/kubelet.service.d", "/run/systemd/system/kubelet.service.d",
                     "/usr/lib/systemd/system/kubelet.service.d", "/lib/systemd/system/kubelet.service.d")


def mode_within(mode: int, allowed: int) -> bool:
    """True when `mode` sets no permission bit that `allowed` does not."""
    return (mode & 0o7777) & ~allowed == 0


def owner_matches(fi: FileInfo, owner: str) -> tuple[bool, str]:
    """(matches, how the owner was seen as text). `owner` is "user:group"."""
    want_user, _, want_group = owner.partition(":")
    seen_user = fi.user if fi.user is not None else (str(fi.uid) if fi.uid is not None else "?")
    seen_group = fi.group if fi.group is not None else (str(fi.gid) if fi.gid is not None else "?")
    shown = f"{seen_user}:{seen_group}" + (f" (uid {fi.uid}, gid {fi.gid})" if fi.uid is not None else "")

    def same(name: str | None, num: int | None, want: str) -> bool:
        if name is not None:
            return name == want
        if want == "root":
            return num == 0
        return want.isdigit() and num == int(want)
    return same(fi.user, fi.uid, want_user) and same(fi.group, fi.gid, want_group), shown


@dataclass(slots=True)
class FileTarget:
    node: str
    target: Target
    nf: NodeFacts | None
    paths: list[tuple[str, str]]     # (path, how it was chosen)
    trees: list[tuple[str, str]]     # (directory, pattern)
    errors: list[str]
    skip_reason: str | None = None   # the component uses no such file
    files_only: bool = False         # trees: judge regular files only (CIS: `find DIR -type f`)


def evaluate_file_rule(check: Check, rule: Mapping[str, Any], facts: Facts, ctx: Context) -> Iterator[Finding]:
    applies_to = rule["applies_to"]
    targets = list(_targets(applies_to, rule["path"], facts, ctx))
    if not targets:
        if applies_to in comp.CONTROL_PLANE:
            yield no_instance_finding(facts, applies_to)
        elif applies_to == comp.PROXY:
            yield Finding(Status.SKIP if facts.nodes else Status.ERROR, CLUSTER,
                          "kube-proxy does not run on any inspected node" if facts.nodes else
                          "file checks need node access (--nodes ssh|daemonset|local or --node-facts)")
        else:
            yield Finding(Status.ERROR, CLUSTER, f"no node running {applies_to} was found")
        return
    if not facts.nodes:
        yield Finding(Status.ERROR, CLUSTER,
                      f"file permissions and owners need node access (--nodes ssh|daemonset|local or "
                      f"--node-facts); {len(targets)} node(s) run {applies_to}")
        return
    for t in targets:
        yield _judge(t, rule, applies_to)


def _judge(t: FileTarget, rule: Mapping[str, Any], applies_to: str) -> Finding:
    if t.nf is None or t.nf.unreachable:
        why = t.nf.unreachable if t.nf is not None else "this node was not inspected"
        return Finding(Status.ERROR, t.target, f"node {t.node}: {why}")
    allowed = int(str(rule["max_mode"]), 8) if "max_mode" in rule else None
    owner = rule.get("owner")
    where = f"node {t.node} ({t.nf.transport})"
    evidence: list[Evidence] = []
    failures: list[str] = []
    errors: list[str] = list(t.errors)
    absent: list[str] = []
    checked = 0
    infos: list[tuple[FileInfo, str]] = []
    for path, how in t.paths:
        fi = t.nf.file(path)
        if fi is None:
            errors.append(f"{path} ({how}) was not collected from the node")
        elif fi.error:
            errors.append(f"{path}: {fi.error}")
        elif not fi.exists:
            absent.append(f"{path} ({how})")
        else:
            infos.append((fi, how))
    for directory, pattern in t.trees:
        dir_info = t.nf.file(directory)
        members = [f for f in t.nf.files_under(directory) if fnmatch.fnmatch(posixpath.basename(f.path), pattern)]
        if t.files_only:   # a member that could not be stat'ed has no type: it stays, as an error
            members = [f for f in members if f.type == "file" or f.error]
        errors.extend(f"listing of {d} incomplete: {why}" for d, why in t.nf.listing_errors_under(directory))
        if rule.get("include_dirs") and dir_info is not None and dir_info.exists:
            members.insert(0, dir_info)
        if dir_info is not None and not dir_info.exists:
            absent.append(f"{directory}/{pattern}")
            continue
        if dir_info is None:
            # never walked: whatever files are known below it are not its listing
            errors.append(f"{directory} was not listed on the node")
            continue
        if dir_info.error:
            errors.append(f"{directory}: {dir_info.error}")
            continue
        if not members:
            absent.append(f"{directory}/{pattern} (no matching file)")
        for fi in members:
            if fi.error:
                errors.append(f"{fi.path}: {fi.error}")
            elif fi.exists:
                infos.append((fi, f"below {directory}"))
    for fi, how in infos:
        checked += 1
        bad = []
        if allowed is not None:
            if fi.mode is None:
                errors.append(f"{fi.path}: mode unknown")
                continue
            if not mode_within(fi.mode, allowed):
                bad.append(f"mode {fi.mode:04o}")
        if owner:
            ok, shown = owner_matches(fi, owner)
            if not ok:
                bad.append(f"owner {shown}")
        if bad:
            failures.append(fi.path)
        if bad or len(infos) <= 12:
            if allowed is not None:
                evidence.append(Evidence(f"mode of {fi.path}", f"{fi.mode:04o}" if fi.mode is not None else None,
                                         where, expected=f"{allowed:04o} or more restrictive", note=how))
            if owner:
                _, shown = owner_matches(fi, owner)
                evidence.append(Evidence(f"owner of {fi.path}", shown, where, expected=owner, note=how))
    if len(infos) > 12:
        evidence.append(Evidence("files checked", str(len(infos)), where,
                                 note="only files that fail are listed individually"))
    unchecked = (f"could not check: {'; '.join(errors[:5])}"
                 + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""))
    if failures:
        # A file that could not be checked never hides one that fails.
        listed = ", ".join(failures[:5]) + (f" and {len(failures) - 5} more" if len(failures) > 5 else "")
        evidence.extend(Evidence("could not check", e, where) for e in errors[:5])
        return Finding(Status.FAIL, t.target, f"{len(failures)} of {checked} file(s) not compliant: {listed}"
                       + (f"; also {unchecked}" if errors else ""), tuple(evidence))
    if errors:
        return Finding(Status.ERROR, t.target, unchecked, tuple(evidence))
    if not checked and t.skip_reason:
        return Finding(Status.SKIP, t.target, f"not applicable: {t.skip_reason}", tuple(evidence))
    if not checked:
        for a in absent:
            evidence.append(Evidence("file", "does not exist", where, note=a))
        return Finding(Status.SKIP, t.target,
                       f"not applicable: {', '.join(absent) or 'no file'} does not exist on this node", tuple(evidence))
    what = []
    if allowed is not None:
        what.append(f"mode {allowed:04o} or more restrictive")
    if owner:
        what.append(f"owned by {owner}")
    return Finding(Status.PASS, t.target, f"{checked} file(s) {' and '.join(what)}", tuple(evidence))


# ---------------------------------------------------------------------------
# Which nodes, which paths
# ---------------------------------------------------------------------------

def _targets(applies_to: str, spec: Mapping[str, Any], facts: Facts, ctx: Context) -> Iterable[FileTarget]:
    minor = facts.cluster.identity.minor()
    if applies_to == comp.KUBELET:
        for view in kubelet_views(facts, ctx):
            nf = view.node_facts or facts.node(view.node)
            t = FileTarget(view.node, view.target, nf, [], [], [])
            if nf is not None and not nf.unreachable and view.flags is None and not view.uninspected:
                continue   # inspected, but no kubelet runs there
            if view.flags is not None:
                _kubelet_paths(t, view, spec, minor)
            elif view.uninspected:
                t.errors.append(view.uninspected)
            yield t
        return
    if applies_to == comp.PROXY:
        for view in kube_proxy_views(facts, ctx):
            if view.target.kind != "Node":
                continue
            t = FileTarget(view.node, view.target, view.node_facts or facts.node(view.node), [], [], [])
            if view.flags is not None:
                _proxy_paths(t, view, spec)
            else:
                t.errors.extend(view.errors)
            yield t
        return
    seen_nodes: set[str] = set()
    for inst in component_instances(facts, applies_to, ctx):
        if inst.node is None or inst.node in seen_nodes:
            continue
        seen_nodes.add(inst.node)
        nf = inst.node_facts or facts.node(inst.node)
        t = FileTarget(inst.node, Target("Node", inst.node, node=inst.node), nf, [], [], [])
        if inst.argv_error and "static_pod" not in spec:   # no pod file either way when embedded
            t.errors.append(f"{inst.component}'s command line is not known: {inst.argv_error}")
        elif nf is not None and not nf.unreachable:
            _component_paths(t, inst, nf, spec, facts, ctx)
        yield t


def _manifest_dir(nf: NodeFacts, facts: Facts, ctx: Context) -> tuple[str, str, str | None]:
    """(directory, how it was chosen, why it is unknown) of the node's static pods."""
    for view in kubelet_views(facts, ctx):
        if view.node == nf.name and view.flags is not None:
            s = effective_setting(view, {"flag": "pod-manifest-path", "config": "staticPodPath"},
                                  facts.cluster.identity.minor())
            if s.origin == UNKNOWN:
                return DEFAULT_MANIFEST_DIR, "default static pod directory", \
                    f"the kubelet's staticPodPath could not be determined: {s.note}"
            if s.value:
                return s.value.rstrip("/"), f"the kubelet's staticPodPath ({s.source})", None
    return DEFAULT_MANIFEST_DIR, "default static pod directory", None


def _component_paths(t: FileTarget, inst: ComponentInstance, nf: NodeFacts, spec: Mapping[str, Any],
                     facts: Facts, ctx: Context) -> None:
    if "static_pod" in spec:
        name = spec["static_pod"]
        if inst.embedded_in:
            # k3s runs it inside its own process: there is no pod specification file.
            t.skip_reason = f"{name} runs inside the {inst.embedded_in} process, not from a static pod file"
            return
        directory, how, unknown = _manifest_dir(nf, facts, ctx)
        if unknown:
            t.errors.append(unknown)
        candidates = [f.path for f in nf.files_under(directory)
                      if posixpath.basename(f.path).startswith(name) and posixpath.dirname(f.path) == directory]
        if candidates:
            t.paths.extend((p, f"{name} manifest in {how}") for p in candidates)
        else:
            t.paths.append((f"{directory}/{name}.yaml", how))
        return
    if "flag" in spec:
        src = inst
        if spec.get("component") and spec["component"] != inst.component:
            others = [i for i in component_instances(facts, spec["component"], ctx) if i.node == inst.node]
            src = others[0] if others else None
        value, how = None, ""
        if src is not None:
            fv = effective_flag(src, spec["flag"], facts.cluster.identity.minor())
            if fv.origin == "unknown":
                t.errors.append(fv.note or f"--{spec['flag']} of {src.source} could not be resolved")
                return
            if fv.origin in ("config file", "config default") and not fv.value:
                t.skip_reason = f"{src.component} names no such file ({fv.name}: {fv.note})"
                return
            if fv.origin in ("flag", "env", "config file"):
                value = fv.value
                how = f"--{spec['flag']} of {src.source}" if fv.origin == "flag" else f"{fv.name} ({src.source})"
        if value and spec.get("dirname"):
            value = posixpath.dirname(value)
        if not value:
            value, how = spec.get("default"), f"default path (--{spec['flag']} not set)"
        if value and spec.get("pattern"):
            t.trees.append((value.rstrip("/"), spec["pattern"]))
        elif value:
            t.paths.append((value, how))
        return
    if "paths" in spec:
        if spec.get("all_in_one") == "admin_kubeconfig":
            # k3s/RKE2 servers keep their admin credentials elsewhere (kaudit.rules.effective.k3s).
            cfg = all_in_one_config(nf)
            if cfg is not None and cfg.dist in ("k3s", "rke2") and _runs_server(nf):
                if cfg.error:
                    t.errors.append(cfg.error)
                    return
                t.paths.extend(k3s.admin_kubeconfigs(cfg))
                return
        t.paths.extend((p, "CIS default path") for p in spec["paths"])
        return
    raise ValueError(f"unknown file path spec {dict(spec)}")


def _runs_server(nf: NodeFacts) -> bool:
    return any(comp.identify_component(p.argv) in (comp.K3S_SERVER, comp.RKE2_SERVER) for p in nf.processes)


def _kubelet_paths(t: FileTarget, view: KubeletView, spec: Mapping[str, Any], minor: int | None) -> None:
    nf = view.node_facts
    assert nf is not None and view.flags is not None
    which = spec.get("kubelet")
    if which == "config":
        if view.config_path:
            t.paths.append((view.config_path, f"--config of {view.process_source}"))
        else:
            t.skip_reason = "the kubelet runs without a --config file"
        return
    if which == "kubeconfig":
        value = view.flags.get("kubeconfig")
        t.paths.append((value, f"--kubeconfig of {view.process_source}") if value
                       else ("/etc/kubernetes/kubelet.conf", "CIS default path (--kubeconfig not set)"))
        return
    if which == "client_ca":
        s = effective_setting(view, {"flag": "client-ca-file", "config": "authentication.x509.clientCAFile"}, minor)
        if s.origin == UNKNOWN:
            t.errors.append(f"the kubelet's client CA file could not be determined: {s.note}")
        elif s.value:
            t.paths.append((s.value, f"client CA of the kubelet ({s.source})"))
        else:
            t.skip_reason = "the kubelet has no client CA file configured (4.2.3 reports that)"
        return
    if which == "unit":
        # CIS 4.1.1/4.1.2 audit the kubelet service drop-ins (10-kubeadm.conf
        # and the others), which carry the kubelet's flags; the packaged
        # kubelet.service unit is not what they judge.
        if all(nf.file(d) is None for d in KUBELET_UNIT_DIRS):
            t.errors.append(f"none of {', '.join(KUBELET_UNIT_DIRS)} was collected from the node")
            return
        for directory in KUBELET_UNIT_DIRS:
            listing = nf.file(directory)
            if listing is None:
                continue   # collectors before 0.x recorded only the directories that exist
            if listing.error:
                t.errors.append(f"{directory}: {listing.error}")
                continue
            unlisted = nf.listing_error(directory)
            if unlisted:
                t.errors.append(unlisted)
                continue
            for fi in nf.files_under(directory):
                if fi.path.endswith(".conf") and posixpath.dirname(fi.path) == directory:
                    t.paths.append((fi.path, "kubelet systemd drop-in"))
        if not t.paths and not t.errors:
            t.skip_reason = "no kubelet.service drop-in (kubelet.service.d/*.conf) on this node"
        return
    if which == "cni":
        # CIS audits the files (`find ... -type f`); host-local IPAM keeps one
        # directory per network (0755 by design) below /var/lib/cni/networks.
        directory = view.flags.get("cni-conf-dir") or "/etc/cni/net.d"
        t.trees.append((directory.rstrip("/"), "*"))
        t.trees.append(("/var/lib/cni/networks", "*"))
        t.files_only = True
        return
    raise ValueError(f"unknown kubelet path spec {which!r}")


def _proxy_paths(t: FileTarget, view: ProxyView, spec: Mapping[str, Any]) -> None:
    assert view.flags is not None
    if view.config_path:
        # With --config, kube-proxy ignores --kubeconfig: the file's
        # clientConnection.kubeconfig is the one it uses.
        if view.config is None:
            t.errors.append(f"kube-proxy's kubeconfig is named in its --config file: {view.config_error}")
            return
        found, raw = get_path(view.config, "clientConnection.kubeconfig")
        if found and raw:
            t.paths.append((str(raw), f"clientConnection.kubeconfig of {view.config_source or view.config_path}"))
            return
    else:
        value = view.flags.get("kubeconfig")
        if value:
            t.paths.append((value, f"--kubeconfig of {view.process_source}"))
            return
    t.paths.append((spec.get("default", "/etc/kubernetes/proxy.conf"), "CIS default path"))
