"""The ssh inventory: which hosts to inspect and how to reach them.

A YAML file (docs/node-collection.md) validated here, every error naming the
file, line and field (exit 2); or the cluster's own Node objects, addressed by
their status.addresses with a type preference.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import yaml

from kaudit import yamlsafe
from kaudit.collect import SourceError
from kaudit.model import NODE, ClusterFacts

DEFAULT_PORT = 22
DEFAULT_USER = "root"
ADDRESS_PREFERENCE = ("InternalIP", "ExternalIP", "Hostname")
ROLES = ("control-plane", "worker", "etcd")

_HOST_KEYS = {"address", "port", "user", "key"}
_NODE_KEYS = _HOST_KEYS | {"name", "role", "roles", "jump", "sudo", "scan"}
_DEFAULT_KEYS = {"port", "user", "key", "jump", "sudo"}
_TOP_KEYS = {"defaults", "nodes"}


@dataclass(frozen=True, slots=True)
class JumpHost:
    address: str
    port: int = DEFAULT_PORT
    user: str = DEFAULT_USER
    key: str | None = None


@dataclass(frozen=True, slots=True)
class InventoryNode:
    name: str
    address: str
    port: int = DEFAULT_PORT
    user: str = DEFAULT_USER
    key: str | None = None          # private key file; None: ssh agent / default keys
    roles: tuple[str, ...] = ()
    jump: JumpHost | None = None
    sudo: bool | None = None        # None: sudo -n when user is not root

    @property
    def use_sudo(self) -> bool:
        return self.sudo if self.sudo is not None else self.user != "root"


class InventoryError(SourceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


class _Where:
    """Formats 'FILE:LINE: field X: problem'."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, field: str, problem: str) -> InventoryError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return InventoryError(f"{self.path}{line}: {field}: {problem}")


def _mapping(w: _Where, node: yaml.Node, field: str, allowed: set[str]) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise w.fail(node, field, "must be a mapping")
    out: dict[str, yaml.Node] = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            raise w.fail(k, field, "keys must be plain names")
        if k.value not in allowed:
            raise w.fail(k, f"{field}.{k.value}",
                         f"unknown field (expected one of: {', '.join(sorted(allowed))})")
        if k.value in out:
            raise w.fail(k, f"{field}.{k.value}", "given twice")
        out[k.value] = v
    return out


def _scalar(w: _Where, node: yaml.Node, field: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise w.fail(node, field, "must be a single value")
    return yaml.safe_load(yaml.serialize(node))


def _str(w: _Where, node: yaml.Node, field: str) -> str:
    value = _scalar(w, node, field)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise w.fail(node, field, "must be a non-empty string")
    text = str(value)
    if any(ch in text for ch in "\0\n\r"):
        raise w.fail(node, field, "must not contain control characters")
    return text


def _port(w: _Where, node: yaml.Node, field: str) -> int:
    value = _scalar(w, node, field)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise w.fail(node, field, "must be a port number (1-65535)")
    return value


def _bool(w: _Where, node: yaml.Node, field: str) -> bool | None:
    value = _scalar(w, node, field)
    if value == "auto":
        return None
    if not isinstance(value, bool):
        raise w.fail(node, field, "must be true, false or auto")
    return value


def _key(w: _Where, node: yaml.Node, field: str, base: str) -> str:
    path = os.path.expanduser(_str(w, node, field))
    # relative key paths are relative to the inventory file, not the cwd
    return path if os.path.isabs(path) else os.path.join(base, path)


def _jump_mapping(w: _Where, node: yaml.Node, field: str, base: str) -> JumpHost:
    m = _mapping(w, node, field, _HOST_KEYS)
    if "address" not in m:
        raise w.fail(node, f"{field}.address", "required")
    return JumpHost(address=_str(w, m["address"], f"{field}.address"),
                    port=_port(w, m["port"], f"{field}.port") if "port" in m else DEFAULT_PORT,
                    user=_str(w, m["user"], f"{field}.user") if "user" in m else DEFAULT_USER,
                    key=_key(w, m["key"], f"{field}.key", base) if "key" in m else None)


def load_inventory(path: str) -> list[InventoryNode]:
    """The nodes to scan (entries with `scan: false` serve only as jump hosts)."""
    try:
        text = yamlsafe.read_config(path, "inventory")
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read inventory: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InventoryError(f"{path}: inventory is not UTF-8 text") from None
    return parse_inventory(text, path)


def parse_inventory(text: str, path: str = "<inventory>") -> list[InventoryNode]:
    w = _Where(path)
    base = os.path.dirname(os.path.abspath(path))
    try:
        root = yamlsafe.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InventoryError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        raise InventoryError(f"{path}: inventory is empty (expected a 'nodes' list)")
    top = _mapping(w, root, "inventory", _TOP_KEYS)
    if "nodes" not in top:
        raise w.fail(root, "nodes", "required (a list of hosts)")

    defaults: dict[str, Any] = {}
    default_jump: yaml.Node | None = None
    if "defaults" in top:
        d = _mapping(w, top["defaults"], "defaults", _DEFAULT_KEYS)
        if "port" in d:
            defaults["port"] = _port(w, d["port"], "defaults.port")
        if "user" in d:
            defaults["user"] = _str(w, d["user"], "defaults.user")
        if "key" in d:
            defaults["key"] = _key(w, d["key"], "defaults.key", base)
        if "sudo" in d:
            defaults["sudo"] = _bool(w, d["sudo"], "defaults.sudo")
        default_jump = d.get("jump")

    seq = top["nodes"]
    if not isinstance(seq, yaml.SequenceNode) or not seq.value:
        raise w.fail(seq, "nodes", "must be a non-empty list")
    entries: list[tuple[InventoryNode, yaml.Node | None, bool, yaml.Node]] = []
    names: dict[str, int] = {}
    for i, item in enumerate(seq.value):
        field = f"nodes[{i}]"
        m = _mapping(w, item, field, _NODE_KEYS)
        for required in ("name", "address"):
            if required not in m:
                raise w.fail(item, f"{field}.{required}", "required")
        name = _str(w, m["name"], f"{field}.name")
        if name in names:
            raise w.fail(m["name"], f"{field}.name", f"duplicate node name {name!r} "
                         f"(first at nodes[{names[name]}])")
        names[name] = i
        address = _str(w, m["address"], f"{field}.address")
        roles: list[str] = []
        for rk in ("role", "roles"):
            if rk not in m:
                continue
            rnode = m[rk]
            items = rnode.value if isinstance(rnode, yaml.SequenceNode) else [rnode]
            for r in items:
                role = _str(w, r, f"{field}.{rk}")
                if role not in ROLES:
                    raise w.fail(r, f"{field}.{rk}", f"unknown role {role!r} "
                                 f"(expected one of: {', '.join(ROLES)})")
                roles.append(role)
        node = InventoryNode(
            name=name, address=address,
            port=_port(w, m["port"], f"{field}.port") if "port" in m else defaults.get("port", DEFAULT_PORT),
            user=_str(w, m["user"], f"{field}.user") if "user" in m else defaults.get("user", DEFAULT_USER),
            key=_key(w, m["key"], f"{field}.key", base) if "key" in m else defaults.get("key"),
            roles=tuple(dict.fromkeys(roles)),
            sudo=_bool(w, m["sudo"], f"{field}.sudo") if "sudo" in m else defaults.get("sudo"),
        )
        scan = _scalar(w, m["scan"], f"{field}.scan") if "scan" in m else True
        if not isinstance(scan, bool):
            raise w.fail(m["scan"], f"{field}.scan", "must be true or false")
        entries.append((node, m.get("jump", default_jump), scan, item))

    by_name = {n.name: n for n, _, _, _ in entries}
    out: list[InventoryNode] = []
    for i, (node, jump_node, scan, _item) in enumerate(entries):
        field = f"nodes[{i}].jump" if jump_node is not None else "jump"
        jump: JumpHost | None = None
        if jump_node is not None:
            if isinstance(jump_node, yaml.ScalarNode):
                ref = _str(w, jump_node, field)
                if ref == node.name:
                    raise w.fail(jump_node, field, "a node cannot be its own jump host")
                if ref not in by_name:
                    raise w.fail(jump_node, field, f"no inventory entry named {ref!r}")
                target = by_name[ref]
                jump = JumpHost(target.address, target.port, target.user, target.key)
            else:
                jump = _jump_mapping(w, jump_node, field, base)
        if scan:
            out.append(replace(node, jump=jump))
    if not out:
        raise w.fail(seq, "nodes", "every entry has scan: false; nothing to inspect")
    return out


def _address_kind_ok(kind: str, address: str) -> bool:
    if kind == "Hostname":
        return all(ch.isalnum() or ch in ".-_" for ch in address)
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        return False


def nodes_from_cluster(cluster: ClusterFacts, *, port: int = DEFAULT_PORT,
                       user: str = DEFAULT_USER, key: str | None = None,
                       jump: JumpHost | None = None, sudo: bool | None = None,
                       prefer: Sequence[str] = ADDRESS_PREFERENCE,
                       ) -> tuple[list[InventoryNode], dict[str, str]]:
    """Hosts from the API's Node objects: (reachable entries, {node: why not}).
    Addresses come from the cluster, so they are checked to be an IP or a
    plain host name before anything connects to them."""
    nodes: list[InventoryNode] = []
    skipped: dict[str, str] = {}
    for obj in cluster.of_kind(NODE):
        addresses = ((obj.body.get("status") or {}).get("addresses")) or []
        chosen: str | None = None
        for kind in prefer:
            for a in addresses:
                if isinstance(a, dict) and a.get("type") == kind and isinstance(a.get("address"), str) \
                        and _address_kind_ok(kind, a["address"]):
                    chosen = a["address"]
                    break
            if chosen:
                break
        if chosen is None:
            skipped[obj.name] = f"no usable address of type {'/'.join(prefer)} in status.addresses"
            continue
        nodes.append(InventoryNode(name=obj.name, address=chosen, port=port, user=user,
                                   key=key, jump=jump, sudo=sudo))
    return nodes, skipped


def names(nodes: Iterable[InventoryNode]) -> list[str]:
    return [n.name for n in nodes]
