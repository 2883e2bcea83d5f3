"""Fixtures for node collection tests: a real sshd on loopback, real etcd with
TLS, and fake nodes that each have their own processes and files.

A fake node is a real PID + mount + UTS namespace (`unshare`): /etc is an
overlay whose upper layer lives on a tmpfs inside the namespace and /var/lib
is a tmpfs, so the node's /etc/kubernetes and /var/lib/kubelet exist only
there and the machine itself is untouched. Its processes are started inside
with the exact argv a real component would have (a tiny pause binary run
under bash's `exec -a`, or the real etcd). SSH reaches a node through a key
whose authorized_keys entry forces `nsenter` into that node's namespaces.

Import the fixtures in a test module with `from nodes import ...` (pytest puts
this directory on sys.path, as conftest.py relies on for `apiserver`).
"""
from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

SSHD = "/usr/sbin/sshd"
ETCD = "/usr/bin/etcd"
TEST_USER = "kaudit-nodetest"

__all__ = ["sshd", "pause_exe", "etcd_pki", "SshdServer", "FakeNode", "start_fake_node",
           "client_key", "free_port", "wait_port", "namespaces_usable"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def client_key(directory: Path, name: str) -> Path:
    """A fresh ed25519 key pair (PEM private key, `name.pub` public key)."""
    path = directory / name
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-m", "PEM", "-f", str(path))
    return path


@dataclass
class SshdServer:
    port: int
    directory: Path
    host_key_pub: str                   # "ssh-ed25519 AAAA..."

    def authorize(self, pubkey_file: Path, *, user: str = "root", command: str | None = None) -> None:
        """Allow a key, optionally forcing a command (how fake nodes are entered)."""
        keys = self.directory / "authorized_keys"
        keys.mkdir(exist_ok=True)
        keys.chmod(0o755)
        opts = f'command="{command}",no-pty ' if command else ""
        with open(keys / user, "a") as fh:
            fh.write(opts + pubkey_file.read_text().strip() + "\n")
        (keys / user).chmod(0o644)

    def known_hosts(self, path: Path, key_line: str | None = None) -> Path:
        path.write_text(f"[127.0.0.1]:{self.port} {key_line or self.host_key_pub}\n")
        return path


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshdServer]:
    if not os.path.exists(SSHD):
        pytest.skip(f"{SSHD} not installed (Debian openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("sshd test server needs root (it logs users in)")
    directory = Path(tempfile.mkdtemp(prefix="kaudit-sshd-"))
    directory.chmod(0o755)     # sshd reads a non-root user's authorized_keys as that user
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "host_key"))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # privilege separation dir
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(textwrap.dedent(f"""\
        Port {port}
        ListenAddress 127.0.0.1
        HostKey {directory}/host_key
        AuthorizedKeysFile {directory}/authorized_keys/%u
        StrictModes no
        UsePAM no
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitRootLogin prohibit-password
        AllowTcpForwarding yes
        MaxStartups 200:30:400
        MaxSessions 100
        PidFile {directory}/sshd.pid
        LogLevel ERROR
        """))
    (directory / "authorized_keys").mkdir()
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=open(directory / "sshd.log", "wb"))
    try:
        wait_port(port)
    except TimeoutError:
        proc.kill()
        pytest.fail("sshd did not start: " + (directory / "sshd.log").read_text())
    pub = (directory / "host_key.pub").read_text().split()
    yield SshdServer(port=port, directory=directory, host_key_pub=f"{pub[0]} {pub[1]}")
    proc.terminate()
    proc.wait(timeout=5)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pause_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary that ignores its arguments and waits: stands in for a
    component so /proc/PID/cmdline shows exactly the argv we give it
    (sleep would reject --flags)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the stand-in component binary")
    d = tmp_path_factory.mktemp("pause")
    (d / "pause.c").write_text("#include <unistd.h>\nint main(void){for(;;)pause();}\n")
    _run(cc, "-O", "-o", str(d / "pause"), str(d / "pause.c"))
    return d / "pause"


def namespaces_usable() -> str | None:
    """None when PID/mount/UTS namespaces and overlayfs work here, else why not."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "unshare/nsenter (util-linux) not installed"
    probe = ("d=$(mktemp -d) && mount -t tmpfs t $d && mkdir $d/u $d/w && "
             "mount -t overlay o -o lowerdir=/etc,upperdir=$d/u,workdir=$d/w /etc")
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount", "--mount-proc", "--uts",
                        "sh", "-c", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"namespaces/overlayfs unavailable: {r.stderr.strip()}"
    return None


@pytest.fixture(scope="session")
def etcd_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and server/peer certificates for 127.0.0.1, made with openssl."""
    if not os.path.exists(ETCD):
        pytest.skip(f"{ETCD} not installed (Debian etcd-server)")
    d = tmp_path_factory.mktemp("etcd-pki")
    ossl = shutil.which("openssl")
    if ossl is None:
        pytest.skip("openssl not installed")
    _run(ossl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"), "-days", "2", "-subj", "/CN=etcd-ca")
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n")
    for name in ("server", "peer"):
        _run(ossl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"), "-subj", f"/CN={name}")
        _run(ossl, "x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / f"{name}.crt"),
             "-days", "2", "-extfile", str(ext))
    return d


@dataclass
class FakeNode:
    name: str
    directory: Path
    pid: int                           # host PID of the namespace's init
    holder: subprocess.Popen
    ports: dict[str, int] = field(default_factory=dict)

    def enter_command(self) -> str:
        """The forced command that runs an ssh session inside this node."""
        script = self.directory / "enter.sh"
        script.write_text("#!/bin/sh\nexec nsenter --target %d --pid --mount --uts -- "
                          "/bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n" % self.pid)
        script.chmod(0o755)
        return str(script)

    def stop(self) -> None:
        # SIGKILL to the namespace's init ends every process in the namespace
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        self.holder.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_fake_node(name: str, setup: str, processes: list[list[str]], pause: Path,
                    *, raw_processes: list[str] = (), wait_ports: list[int] = ()) -> FakeNode:
    """A node in its own namespaces. `setup` is bash run inside (it creates
    the node's files); `processes` are argvs run as stand-in components;
    `raw_processes` are bash command lines run as they are (the real etcd)."""
    why = namespaces_usable()
    if why:
        pytest.skip(why)
    d = Path(tempfile.mkdtemp(prefix=f"kaudit-node-{name}-"))
    lines = ["set -e",
             f"mount -t tmpfs tmpfs {d}/ov", f"mkdir {d}/ov/u {d}/ov/w",
             f"mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/ov/u,workdir={d}/ov/w /etc",
             "mount -t tmpfs tmpfs /var/lib",
             f"hostname {shlex.quote(name)}",
             setup]
    for argv in processes:
        quoted = " ".join(shlex.quote(a) for a in argv[1:])
        lines.append(f"(exec -a {shlex.quote(argv[0])} {pause} {quoted}) </dev/null >/dev/null 2>&1 &")
    for cmd in raw_processes:
        lines.append(f"({cmd}) </dev/null >{d}/proc.log 2>&1 &")
    lines += [f"touch {d}/ready", "wait"]
    (d / "ov").mkdir()
    (d / "init.sh").write_text("\n".join(lines) + "\n")
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--uts",
                               "--propagation", "private", "bash", str(d / "init.sh")],
                              stdout=subprocess.DEVNULL, stderr=open(d / "init.log", "wb"))
    deadline = time.monotonic() + 10
    while not (d / "ready").exists():
        if holder.poll() is not None or time.monotonic() > deadline:
            holder.kill()
            raise RuntimeError(f"fake node {name} did not start: {(d / 'init.log').read_text()}")
        time.sleep(0.01)
    children = Path(f"/proc/{holder.pid}/task/{holder.pid}/children").read_text().split()
    node = FakeNode(name=name, directory=d, pid=int(children[0]), holder=holder)
    for port in wait_ports:
        try:
            wait_port(port)
        except TimeoutError:
            log = (d / "proc.log").read_text() if (d / "proc.log").exists() else ""
            node.stop()
            raise RuntimeError(f"fake node {name}: port {port} never opened: {log[-2000:]}")
    return node
