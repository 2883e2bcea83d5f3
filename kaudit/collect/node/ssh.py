"""--nodes ssh: run the node collector over SSH (paramiko).

The collector is sent on stdin to `sh -s` (or `sudo -n sh -s` for a non-root
user), so nothing is copied to or left on the node. Host keys are checked
against known_hosts and an unknown or changed key is refused, unless trust on
first use was asked for explicitly (then the key is written to known_hosts).
A host that cannot be reached or read becomes a NodeFacts with `unreachable`
set; the other hosts are still inspected.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import paramiko

from kaudit.collect import NodeSource, Progress, no_progress
from kaudit.collect.node.inventory import (ADDRESS_PREFERENCE, DEFAULT_PORT, DEFAULT_USER,
                                           InventoryNode, JumpHost, nodes_from_cluster)
from kaudit.collect.node.local import collector_script
from kaudit.collect.node.parse import RecordCutShort, parse_collector_output
from kaudit.model import ClusterFacts, NodeFacts
from kaudit.termsafe import terminal_line

DEFAULT_CONCURRENCY = 16
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 120.0
MAX_OUTPUT = 64 * 1024 * 1024   # a hostile node must not exhaust our memory
MAX_LINE = 400                  # one stderr line per node, whatever the node sent

# paramiko logs each failed handshake from its transport thread, traceback
# included; with no handler configured, Python's last-resort handler would
# print it on stderr. The reason reaches the user as the node's one line
# (and its `unreachable`), so paramiko's own log goes nowhere.
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(logging.NullHandler())
_PARAMIKO_LOG.propagate = False


class NodeUnreachable(Exception):
    """Why one host could not be inspected (becomes NodeFacts.unreachable)."""


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """`text` as one printable line: the reason can quote a hostile node's
    stderr, which must not move the cursor or forge lines in a log."""
    return terminal_line(text, limit=limit)        # the one terminal sanitiser (kaudit/termsafe.py)


def stderr_line(message: str) -> None:
    """The default per-node warning: one line on stderr (after clearing a
    progress line on a terminal)."""
    prefix = "\r\033[K" if sys.stderr.isatty() else ""
    sys.stderr.write(f"{prefix}kaudit: {message}\n")
    sys.stderr.flush()


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _host_entry(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class _KnownHosts(paramiko.MissingHostKeyPolicy):
    """Unknown keys: refused, or (trust on first use) appended to the file."""

    def __init__(self, path: str, trust_on_first_use: bool, lock: threading.Lock) -> None:
        self.path = path
        self.tofu = trust_on_first_use
        self.lock = lock

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if not self.tofu:
            raise NodeUnreachable(
                f"host key of {hostname} is not in {self.path} ({key.get_name()} {fingerprint(key)}); "
                f"refusing to connect (verify the fingerprint and add it, or trust on first use)")
        with self.lock:
            directory = os.path.dirname(self.path) or "."
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="ascii") as fh:
                fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        client.get_host_keys().add(hostname, key.get_name(), key)


@dataclass
class SshOptions:
    known_hosts: str | None = None          # default ~/.ssh/known_hosts
    trust_on_first_use: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT

    def known_hosts_path(self) -> str:
        return self.known_hosts or os.path.expanduser("~/.ssh/known_hosts")


class SshCollector:
    """Runs collect.sh on hosts; thread-safe (one client per host)."""

    def __init__(self, options: SshOptions | None = None, script: bytes | None = None,
                 warn: Callable[[str], None] = stderr_line) -> None:
        self.options = options or SshOptions()
        self.script = script if script is not None else collector_script()
        self.warn = warn          # one line per node that could not be inspected
        self._lock = threading.Lock()
        # Interruption (SIGTERM): in-flight sessions are closed rather than waited
        # for, and only hosts read completely before it count as read.
        self._abandoned = False
        self._live: set[paramiko.SSHClient] = set()
        self.finished: dict[str, NodeFacts] = {}

    # -- connection -------------------------------------------------------
    def _client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        path = self.options.known_hosts_path()
        if os.path.exists(path):
            try:
                client.load_host_keys(path)
            except (OSError, paramiko.SSHException) as exc:
                raise NodeUnreachable(f"cannot read known_hosts {path}: {exc}") from None
        client.set_missing_host_key_policy(_KnownHosts(path, self.options.trust_on_first_use, self._lock))
        return client

    def _connect(self, address: str, port: int, user: str, key: str | None,
                 sock: paramiko.Channel | None = None) -> paramiko.SSHClient:
        client = self._client()
        where = f"{user}@{address}:{port}"
        t = self.options.connect_timeout
        try:
            client.connect(address, port=port, username=user, key_filename=key,
                           allow_agent=True, look_for_keys=key is None, sock=sock,
                           timeout=t, banner_timeout=t, auth_timeout=t, channel_timeout=t)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise NodeUnreachable(
                f"host key of {_host_entry(address, port)} has CHANGED: it offers "
                f"{exc.key.get_name()} {fingerprint(exc.key)}, known_hosts "
                f"{self.options.known_hosts_path()} has {fingerprint(exc.expected_key)}; refusing "
                f"to connect (possible man-in-the-middle)") from None
        except paramiko.AuthenticationException as exc:
            client.close()
            how = f"key {key}" if key else "ssh agent / default keys"
            raise NodeUnreachable(f"authentication failed for {where} ({how}): {exc}") from None
        except NodeUnreachable:
            client.close()
            raise
        except (socket.timeout, TimeoutError):
            client.close()
            raise NodeUnreachable(f"cannot connect to {address}:{port}: timed out after {t:g} s") from None
        except paramiko.SSHException as exc:
            client.close()
            if str(exc) == "No existing session" or str(exc).startswith("Error reading SSH protocol banner"):
                # paramiko gave up waiting for the banner or the key exchange (which of the two
                # reports it depends on timing): either way the server never completed a handshake
                raise NodeUnreachable(f"ssh to {where} failed: the SSH handshake did not complete "
                                      f"within {t:g} s") from None
            raise NodeUnreachable(f"ssh to {where} failed: {exc}") from None
        except EOFError:
            client.close()
            raise NodeUnreachable(f"ssh to {where} failed: the server closed the connection "
                                  f"during the SSH handshake") from None
        except OSError as exc:
            client.close()
            raise NodeUnreachable(f"cannot connect to {address}:{port}: {exc.strerror or exc}") from None
        return client

    def _via_jump(self, node: InventoryNode) -> tuple[paramiko.SSHClient, paramiko.SSHClient | None]:
        if node.jump is None:
            return self._connect(node.address, node.port, node.user, node.key), None
        j: JumpHost = node.jump
        try:
            jump = self._connect(j.address, j.port, j.user, j.key)
        except NodeUnreachable as exc:
            raise NodeUnreachable(f"jump host {j.address}:{j.port}: {exc}") from None
        try:
            transport = jump.get_transport()
            assert transport is not None
            chan = transport.open_channel("direct-tcpip", (node.address, node.port), ("127.0.0.1", 0),
                                          timeout=self.options.connect_timeout)
        except (paramiko.SSHException, OSError) as exc:
            jump.close()
            raise NodeUnreachable(f"jump host {j.address}:{j.port} cannot reach "
                                  f"{node.address}:{node.port}: {exc}") from None
        try:
            return self._connect(node.address, node.port, node.user, node.key, sock=chan), jump
        except NodeUnreachable:
            jump.close()
            raise

    # -- command ----------------------------------------------------------
    def _run(self, client: paramiko.SSHClient, command: str) -> tuple[int, bytes, bytes]:
        transport = client.get_transport()
        if transport is None:
            raise NodeUnreachable("ssh session closed before the collector ran")
        deadline = time.monotonic() + self.options.command_timeout
        chan = transport.open_session(timeout=self.options.connect_timeout)
        try:
            chan.exec_command(command)
            chan.sendall(self.script)
            chan.shutdown_write()
            out = bytearray()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout()
                chan.settimeout(remaining)
                data = chan.recv(65536)
                if not data:
                    break
                out += data
                if len(out) > MAX_OUTPUT:
                    raise NodeUnreachable(f"collector output exceeds {MAX_OUTPUT} bytes; not read")
            if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                raise socket.timeout()
            err = bytearray()
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            return chan.recv_exit_status(), bytes(out), bytes(err)
        except (socket.timeout, TimeoutError):
            raise NodeUnreachable(f"collector did not finish within "
                                  f"{self.options.command_timeout:g} s; stopped") from None
        finally:
            chan.close()

    def abandon(self) -> None:
        """Stop now: close every session in flight (their threads return at once)."""
        with self._lock:
            self._abandoned = True
            live = list(self._live)
        for client in live:
            client.close()

    def collect_node(self, node: InventoryNode) -> NodeFacts:
        try:
            client, jump = self._via_jump(node)
        except NodeUnreachable as exc:
            return NodeFacts(name=node.name, roles=node.roles, transport="ssh", unreachable=str(exc))
        except Exception as exc:   # noqa: BLE001 -- e.g. EOFError mid-handshake: not inspected, no traceback
            return NodeFacts(name=node.name, roles=node.roles, transport="ssh",
                             unreachable=f"ssh to {node.address}:{node.port} failed: {type(exc).__name__}: {exc}")
        with self._lock:
            self._live.add(client)
            abandoned = self._abandoned
        if abandoned:
            client.close()
        try:
            command = "sudo -n sh -s" if node.use_sudo else "sh -s"
            status, out, err = self._run(client, command)
            stderr = err.decode("utf-8", "replace").strip()
            if not out.startswith(b"KAUDIT-NODE "):
                why = f"`{command}` exited {status}"
                raise NodeUnreachable(f"{why}: {stderr[-300:]}" if stderr else f"{why} with no record")
            try:
                facts = parse_collector_output(out, node.name, "ssh", node.roles)
            except RecordCutShort as exc:
                why = f"`{command}` exited {status}" + (f": {stderr[-300:]}" if stderr else "")
                raise NodeUnreachable(f"{exc}; {why}") from None
            except ValueError as exc:
                raise NodeUnreachable(f"collector output unreadable: {exc}") from None
            if status != 0:
                facts.errors.append(f"`{command}` exited {status}: {stderr[-300:]}")
            return facts
        except NodeUnreachable as exc:
            return NodeFacts(name=node.name, roles=node.roles, transport="ssh", unreachable=str(exc))
        except (paramiko.SSHException, OSError, EOFError) as exc:
            return NodeFacts(name=node.name, roles=node.roles, transport="ssh",
                             unreachable=f"ssh session to {node.address}:{node.port} failed: {exc}")
        except Exception as exc:   # noqa: BLE001 -- anything else from paramiko: this node is not inspected
            return NodeFacts(name=node.name, roles=node.roles, transport="ssh",
                             unreachable=f"ssh session to {node.address}:{node.port} failed: "
                                         f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._live.discard(client)
            client.close()
            if jump is not None:
                jump.close()

    def collect(self, nodes: list[InventoryNode], progress: Progress = no_progress) -> list[NodeFacts]:
        """One NodeFacts per node, in inventory order."""
        workers = max(1, min(self.options.concurrency, len(nodes) or 1))
        done = [0]
        lock = threading.Lock()

        def one(node: InventoryNode) -> NodeFacts:
            facts = self.collect_node(node)
            with self._lock:
                if self._abandoned:         # cut short by abandon(): not a reading of the host
                    return facts
                self.finished[node.name] = facts
            if facts.unreachable:
                self.warn(one_line(f"node {node.name} ({node.address}:{node.port}): {facts.unreachable}"))
            with lock:
                done[0] += 1
                progress(f"nodes inspected {done[0]} of {len(nodes)}: {node.name} "
                         + ("unreachable" if facts.unreachable else "collected"))
            return facts

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kaudit-ssh")
        try:
            results = list(pool.map(one, nodes))
        except BaseException:               # SIGTERM / ^C: do not wait for hung hosts
            self.abandon()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return results


class SshNodeSource(NodeSource):
    """Hosts from an inventory, or (nodes=None) from the cluster's Node objects."""
    name = "ssh"

    def __init__(self, nodes: list[InventoryNode] | None = None, options: SshOptions | None = None,
                 *, user: str = DEFAULT_USER, port: int = DEFAULT_PORT, key: str | None = None,
                 jump: JumpHost | None = None, sudo: bool | None = None,
                 prefer: tuple[str, ...] = ADDRESS_PREFERENCE) -> None:
        self.nodes = nodes
        self.collector = SshCollector(options)
        self.api_defaults = dict(user=user, port=port, key=key, jump=jump, sudo=sudo, prefer=prefer)
        self._targets: list[InventoryNode] = []
        self._skipped: dict[str, str] = {}

    def collect(self, cluster: ClusterFacts, progress: Progress = no_progress) -> list[NodeFacts]:
        skipped: dict[str, str] = {}
        nodes = self.nodes
        if nodes is None:
            nodes, skipped = nodes_from_cluster(cluster, **self.api_defaults)  # type: ignore[arg-type]
        self._targets, self._skipped = list(nodes), skipped
        facts = self.collector.collect(nodes, progress)
        for name, why in sorted(skipped.items()):
            self.collector.warn(one_line(f"node {name}: {why}"))
            facts.append(NodeFacts(name=name, transport="ssh", unreachable=why))
        return facts

    def partial_nodes(self, reason: str) -> list[NodeFacts] | None:
        done = dict(self.collector.finished)
        facts = [done.get(n.name) or NodeFacts(name=n.name, roles=n.roles, transport="ssh",
                                               unreachable=f"not inspected: the scan was interrupted ({reason})")
                 for n in self._targets]
        facts += [NodeFacts(name=n, transport="ssh", unreachable=why) for n, why in sorted(self._skipped.items())]
        return facts
