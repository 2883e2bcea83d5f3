"""Parse the node collector's record ("KAUDIT-NODE 1") into NodeFacts.

One parser for every transport (ssh, daemonset, local): they only move the
bytes of `collect.sh`'s output. The format is documented in
docs/node-collection.md. Everything in the record comes from the node and is
treated as hostile: malformed input raises ValueError (and nothing else),
and only ETCD_* variables are ever kept from a process environment. A record
that does not end with `END <count>` matching the records read was cut short
(killed collector, dropped connection, lost log lines): it raises
RecordCutShort, and none of it is used.
"""
from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from kaudit import components
from kaudit.model import FileInfo, NodeFacts, ProcessInfo
from kaudit.rules.effective import k3s

RECORD_MAGIC = "KAUDIT-NODE"
RECORD_VERSION = "1"
FILE_TYPES = frozenset({"file", "dir", "other", "symlink"})
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/+:@,~=-")

CONTROL_PLANE_ROLE = "control-plane"
WORKER_ROLE = "worker"
ETCD_ROLE = "etcd"
_ROLE_ORDER = (CONTROL_PLANE_ROLE, ETCD_ROLE, WORKER_ROLE)

# Static pod manifests whose presence makes a host a control-plane node even
# when the process is not running at the moment.
_MANIFEST_DIRS = ("/etc/kubernetes/manifests/", "/var/lib/rancher/rke2/agent/pod-manifests/",
                  "/var/lib/rancher/k3s/agent/pod-manifests/")


class RecordCutShort(ValueError):
    """The collector's output stops before its END record, or holds fewer
    records than END counts. Whatever was read may be missing anything (a
    cut line can even read as a different, valid value): the node was not
    inspected."""


def decode_token(tok: str) -> bytes:
    """A record field: raw safe characters, or "%" + hex of arbitrary bytes."""
    if tok.startswith("%"):
        hexpart = tok[1:]
        if len(hexpart) % 2:
            raise ValueError(f"odd-length hex field {tok[:40]!r}")
        try:
            return binascii.unhexlify(hexpart)
        except binascii.Error as exc:
            raise ValueError(f"bad hex field {tok[:40]!r}: {exc}") from None
    if not tok or any(ch not in _SAFE for ch in tok):
        raise ValueError(f"bad raw field {tok[:40]!r}")
    return tok.encode("ascii")


def encode_token(value: bytes | str) -> str:
    """Inverse of decode_token (what collect.sh's `tok` prints)."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    text = data.decode("ascii", errors="replace")
    if data and all(ch in _SAFE for ch in text):
        return text
    return "%" + data.hex()


def _text(data: bytes) -> str:
    # Paths and argv are shown in reports: undecodable bytes stay visible as \xNN.
    return data.decode("utf-8", errors="backslashreplace")


def _int(tok: str, what: str) -> int:
    if not tok.isascii() or not tok.isdigit():
        raise ValueError(f"{what} is not a number: {tok[:40]!r}")
    return int(tok)


def split_argv(data: bytes) -> tuple[str, ...]:
    """/proc/PID/cmdline bytes -> argv (NUL-terminated arguments)."""
    if not data:
        return ()
    if data.endswith(b"\0"):
        data = data[:-1]
    return tuple(_text(a) for a in data.split(b"\0"))


# The k3s/RKE2 variables kept (kaudit.rules.effective.k3s ENV_OPTIONS); the
# datastore endpoint only as set.
_DIST_ENV = frozenset(f"{d}_{n}" for d in ("K3S", "RKE2") for n in k3s.ENV_OPTIONS)
_REDACTED_ENV = frozenset(("K3S_DATASTORE_ENDPOINT", "RKE2_DATASTORE_ENDPOINT"))


def split_env(data: bytes) -> dict[str, str]:
    """ENV record payload -> ETCD_* variables, and the K3S_*/RKE2_* ones that
    decide k3s's datastore and config. Entries are newline-separated, a
    newline inside a value travels as \\x01. Anything else is dropped, and the
    datastore endpoint's value replaced, even if a (modified) collector sent it."""
    env: dict[str, str] = {}
    for entry in data.split(b"\n"):
        if not entry:
            continue
        text = _text(entry.replace(b"\x01", b"\n"))
        name, sep, value = text.partition("=")
        if sep and name.startswith("ETCD_"):
            env[name] = value
        elif sep and name in _DIST_ENV:
            env[name] = "<redacted by kaudit>" if name in _REDACTED_ENV and value else value
    return env


def content_text(data: bytes) -> tuple[str | None, str | None]:
    """(text, None) for a text config file, (None, reason) for binary."""
    if b"\0" in data:
        return None, f"binary content ({len(data)} bytes)"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, f"binary content ({len(data)} bytes, not UTF-8)"


@dataclass
class _Builder:
    meta: dict[str, str] = field(default_factory=dict)
    procs: dict[int, tuple[str, ...]] = field(default_factory=dict)
    envs: dict[int, dict[str, str]] = field(default_factory=dict)
    env_errors: dict[int, str] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    contents: dict[str, str] = field(default_factory=dict)
    content_errors: dict[str, str] = field(default_factory=dict)
    list_errors: dict[str, str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    ended: bool = False
    end_count: int | None = None


def _need(fields: list[str], n: int, kind: str) -> None:
    if len(fields) < n:
        raise ValueError(f"{kind} record has {len(fields)} fields, needs {n}")


def _line(b: _Builder, fields: list[str]) -> None:
    kind = fields[0]
    if kind == "META":
        _need(fields, 3, kind)
        b.meta[fields[1]] = _text(decode_token(fields[2]))
    elif kind == "PROC":
        _need(fields, 4, kind)
        pid = _int(fields[1], "pid")
        b.procs[pid] = split_argv(decode_token(fields[3]))
    elif kind == "ENV":
        _need(fields, 3, kind)
        b.envs[_int(fields[1], "pid")] = split_env(decode_token(fields[2]))
    elif kind == "ENVERR":
        _need(fields, 3, kind)
        b.env_errors[_int(fields[1], "pid")] = _text(decode_token(fields[2]))
    elif kind == "FILE":
        _need(fields, 6, kind)
        path = _text(decode_token(fields[1]))
        ftype = fields[2]
        if ftype not in FILE_TYPES:
            raise ValueError(f"unknown file type {ftype[:20]!r}")
        mode = fields[3]
        if not mode or len(mode) > 6 or any(ch not in "01234567" for ch in mode):
            raise ValueError(f"bad mode {mode[:20]!r}")
        b.files[path] = {"exists": True, "type": ftype, "mode": int(mode, 8) & 0o7777,
                         "uid": _int(fields[4], "uid"), "gid": _int(fields[5], "gid")}
    elif kind == "MISSING":
        _need(fields, 2, kind)
        b.files[_text(decode_token(fields[1]))] = {"exists": False}
    elif kind == "FILEERR":
        _need(fields, 3, kind)
        path = _text(decode_token(fields[1]))
        reason = _text(decode_token(fields[2]))
        # Existence is unknown; exists=True so no rule mistakes it for "absent,
        # not applicable". `error` tells the rule it could not look.
        b.files[path] = {"exists": True, "error": reason,
                         "type": "symlink" if reason == "dangling symlink" else None}
    elif kind == "CONTENT":
        _need(fields, 3, kind)
        path = _text(decode_token(fields[1]))
        text, why = content_text(decode_token(fields[2]))
        if text is None:
            b.content_errors[path] = why or "binary content"
            b.contents.pop(path, None)
        else:
            b.contents[path] = text
            b.content_errors.pop(path, None)
    elif kind == "CONTENTERR":
        _need(fields, 3, kind)
        path = _text(decode_token(fields[1]))
        b.content_errors[path] = _text(decode_token(fields[2]))
        b.contents.pop(path, None)
    elif kind == "LISTERR":
        _need(fields, 3, kind)
        b.list_errors[_text(decode_token(fields[1]))] = _text(decode_token(fields[2]))
    elif kind == "USER":
        _need(fields, 3, kind)
        b.users[_int(fields[1], "uid")] = _text(decode_token(fields[2]))
    elif kind == "GROUP":
        _need(fields, 3, kind)
        b.groups[_int(fields[1], "gid")] = _text(decode_token(fields[2]))
    elif kind == "ERROR":
        _need(fields, 2, kind)
        b.errors.append(_text(decode_token(fields[1])))
    elif kind == "END":
        _need(fields, 2, kind)
        b.end_count = _int(fields[1], "END record count")
        b.ended = True
    # RUNNING and record kinds from later minor revisions are ignored.


def roles_of(processes: Iterable[ProcessInfo], files: Mapping[str, FileInfo],
             declared: Iterable[str] = ()) -> tuple[str, ...]:
    """control-plane when a control-plane component runs or its static pod
    manifest exists; worker when a kubelet runs; etcd when etcd runs; plus
    any role the inventory declared."""
    roles = set(r for r in declared if r)
    for p in processes:
        comp = components.identify_component(p.argv)
        if comp in components.CONTROL_PLANE or comp in (components.K3S_SERVER,
                                                        components.RKE2_SERVER):
            roles.add(CONTROL_PLANE_ROLE)
        if comp == components.ETCD:
            roles.add(ETCD_ROLE)
        if comp == components.KUBELET or components.KUBELET in components.EMBEDDED.get(comp or "", ()) \
                or comp in (components.K3S_AGENT, components.RKE2_AGENT):
            roles.add(WORKER_ROLE)
    for path, info in files.items():
        if not info.exists or info.error:
            continue
        for d in _MANIFEST_DIRS:
            if path.startswith(d):
                base = path[len(d):]
                if any(base.startswith(c) for c in components.CONTROL_PLANE):
                    roles.add(CONTROL_PLANE_ROLE)
    ordered = [r for r in _ROLE_ORDER if r in roles]
    return tuple(ordered + sorted(roles - set(_ROLE_ORDER)))


def parse_collector_output(output: str | bytes, node_name: str, transport: str,
                           declared_roles: Iterable[str] = ()) -> NodeFacts:
    """The collector's record -> NodeFacts. Raises ValueError (only) when the
    record is not one this parser understands, and its subclass
    RecordCutShort when the record is incomplete (no `END <count>` last, or
    fewer records than the count): a transport reports that node as not
    inspected, with the message as the reason."""
    if isinstance(output, bytes):
        try:
            text = output.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("collector output is not ASCII (not a KAUDIT-NODE record)") from None
    elif isinstance(output, str):
        text = output
    else:
        raise ValueError(f"collector output must be str or bytes, not {type(output).__name__}")
    lines = text.split("\n")
    header = lines[0].rstrip("\r").split(" ") if lines else []
    if len(header) < 2 or header[0] != RECORD_MAGIC:
        raise ValueError(f"not a kaudit node record (first line {lines[0][:60]!r})")
    if header[1] != RECORD_VERSION:
        raise ValueError(f"unsupported node record version {header[1][:20]!r} "
                         f"(this kaudit reads version {RECORD_VERSION})")
    _check_complete(lines)
    b = _Builder()
    records = 0
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line:
            continue
        if b.ended:
            raise ValueError(f"line {number}: data after END")
        try:
            _line(b, line.split(" "))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        records += 0 if b.ended else 1
    if b.end_count is not None and records != b.end_count:
        if records < b.end_count:
            raise RecordCutShort(f"collector output cut short after {records} of {b.end_count} records")
        raise ValueError(f"collector output holds {records} records, its END record counts {b.end_count}")

    files = {}
    for path, f in b.files.items():
        uid, gid = f.get("uid"), f.get("gid")
        files[path] = FileInfo(path=path, exists=f["exists"], type=f.get("type"),
                               mode=f.get("mode"), uid=uid, gid=gid,
                               user=b.users.get(uid) if uid is not None else None,
                               group=b.groups.get(gid) if gid is not None else None,
                               error=f.get("error"))
    processes = tuple(
        ProcessInfo(pid=pid, argv=argv, env=b.envs.get(pid),
                    env_error=b.env_errors.get(pid))
        for pid, argv in sorted(b.procs.items()))
    return NodeFacts(
        name=node_name,
        roles=roles_of(processes, files, declared_roles),
        hostname=b.meta.get("hostname") or None,
        transport=transport,
        collected_at=b.meta.get("time") or None,
        collector_version=b.meta.get("collector") or None,
        processes=processes,
        files=files,
        contents=b.contents,
        content_errors=b.content_errors,
        list_errors=b.list_errors,
        errors=b.errors,
    )


def _check_complete(lines: list[str]) -> None:
    """Raise RecordCutShort unless the last line is an END record (checked
    before any record is parsed, so a line cut in the middle is reported as
    the cut it is, not as a malformed field)."""
    complete = [ln for ln in lines[1:-1] if ln.rstrip("\r")]   # the last piece has no newline
    last = complete[-1].rstrip("\r") if complete else ""
    if last != "END" and not last.startswith("END "):
        raise RecordCutShort(f"collector output cut short after {len(complete)} records (no END record)")
    if lines[-1].rstrip("\r"):
        raise ValueError("data after END")


def render_record(facts: NodeFacts) -> str:
    """A KAUDIT-NODE 1 record holding `facts` (the inverse of the parser, for
    tests, fixtures and documentation; the collector itself is collect.sh)."""
    out = [f"{RECORD_MAGIC} {RECORD_VERSION}"]
    if facts.collector_version:
        out.append(f"META collector {encode_token(facts.collector_version)}")
    if facts.hostname:
        out.append(f"META hostname {encode_token(facts.hostname)}")
    if facts.collected_at:
        out.append(f"META time {encode_token(facts.collected_at)}")
    users: dict[int, str] = {}
    groups: dict[int, str] = {}
    for p in facts.processes:
        cmdline = b"".join(a.encode("utf-8") + b"\0" for a in p.argv)
        comp = components.identify_component(p.argv) or "unknown"
        out.append(f"PROC {p.pid} {comp} %{cmdline.hex()}")
        if p.env is not None:
            env = b"".join((f"{k}={v}".replace("\n", "\x01")).encode("utf-8") + b"\n"
                           for k, v in p.env.items())
            out.append(f"ENV {p.pid} %{env.hex()}")
        if p.env_error is not None:
            out.append(f"ENVERR {p.pid} {encode_token(p.env_error)}")
    for path, f in facts.files.items():
        if f.error is not None:
            out.append(f"FILEERR {encode_token(path)} {encode_token(f.error)}")
        elif not f.exists:
            out.append(f"MISSING {encode_token(path)}")
        else:
            out.append(f"FILE {encode_token(path)} {f.type or 'other'} {f.mode or 0:o} "
                       f"{f.uid or 0} {f.gid or 0} 0")
            if f.user is not None and f.uid is not None:
                users[f.uid] = f.user
            if f.group is not None and f.gid is not None:
                groups[f.gid] = f.group
    for path, text in facts.contents.items():
        out.append(f"CONTENT {encode_token(path)} %{text.encode('utf-8').hex()}")
    for path, why in facts.content_errors.items():
        out.append(f"CONTENTERR {encode_token(path)} {encode_token(why)}")
    for path, why in facts.list_errors.items():
        out.append(f"LISTERR {encode_token(path)} {encode_token(why)}")
    out += [f"USER {u} {encode_token(n)}" for u, n in users.items()]
    out += [f"GROUP {g} {encode_token(n)}" for g, n in groups.items()]
    out += [f"ERROR {encode_token(e)}" for e in facts.errors]
    out.append(f"END {len(out) - 1}")
    return "\n".join(out) + "\n"
