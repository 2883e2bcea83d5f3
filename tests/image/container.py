"""Run a process in the built image the way the kubelet would, without a
container runtime: the image's root filesystem (exported from buildah's
storage) bind-mounted read-only, the pod's volumes bound onto their mount
paths, a private mount and PID namespace with its own /proc and a minimal
/dev, then chroot and the pod's user, capabilities and no_new_privs, with
the image's ENTRYPOINT/CMD/Env/WorkingDir combined with the container's
command/args/env as Kubernetes combines them.

Mount points are resolved inside the container's root (`readlink -f` run in
the chroot), never on the host: /var/run is a symlink to /run in Debian, and
an absolute symlink followed on the host would bind over the host's /run.
The network namespace is the host's, so the process reaches the test API
server on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an OCI image config a runtime uses to start a process."""
    name: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: dict[str, str]
    workdir: str
    user: str

    @classmethod
    def inspect(cls, name: str) -> "ImageConfig":
        out = subprocess.run(["buildah", "inspect", "--type", "image", name], check=True,
                             capture_output=True, text=True).stdout
        config = json.loads(out)["OCIv1"]["config"]
        env = dict(e.split("=", 1) for e in config.get("Env") or ())
        return cls(name=name, entrypoint=tuple(config.get("Entrypoint") or ()), cmd=tuple(config.get("Cmd") or ()),
                   env=env, workdir=config.get("WorkingDir") or "/", user=config.get("User") or "0")


def export_rootfs(image: str, dest: Path) -> Path:
    """Copy the image's flattened root filesystem to `dest` (a plain directory
    on the host's filesystem, so a fake node's mount namespace sees it too)."""
    ctr = subprocess.run(["buildah", "from", "--pull-never", image], check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        merged = subprocess.run(["buildah", "mount", ctr], check=True, capture_output=True, text=True).stdout.strip()
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", f"{merged}/.", str(dest)], check=True)
    finally:
        subprocess.run(["buildah", "umount", ctr], capture_output=True)
        subprocess.run(["buildah", "rm", ctr], capture_output=True)
    return dest


def pod_argv(container: dict[str, Any], image: ImageConfig) -> list[str]:
    """Kubernetes' rule: `command` replaces ENTRYPOINT (and drops CMD),
    `args` replaces CMD."""
    command = container.get("command")
    args = container.get("args")
    if command is not None:
        return [*command, *(args or [])]
    return [*image.entrypoint, *(image.cmd if args is None else args)]


@dataclass(frozen=True)
class Mount:
    source: Path            # on the host (or in the node's mount namespace)
    target: str             # in the container
    read_only: bool = False
    is_file: bool = False
    only_if_present: bool = False     # a hostPath that may not exist on this node: skipped then


@dataclass
class Container:
    rootfs: Path
    argv: list[str]
    uid: int
    gid: int
    env: dict[str, str]
    workdir: str = "/"
    mounts: list[Mount] = field(default_factory=list)
    read_only_root: bool = True
    capabilities: Sequence[str] = ()        # added after dropping ALL, e.g. ("DAC_READ_SEARCH",)
    supplementary_groups: Sequence[int] = ()
    enter_pid_namespace_of: int | None = None   # hostPID: this PID's namespaces (a fake node)

    def script(self, scratch: Path) -> str:
        q = shlex.quote
        root = scratch / "root"
        lines = ["set -eu", f"R={q(str(root))}", f'mkdir -p "$R"', f'mount --bind {q(str(self.rootfs))} "$R"']
        for m in self.mounts:
            make = "touch" if m.is_file else "mkdir -p"
            steps = [f'chroot "$R" {make} {q(m.target)}',
                     f'real=$(chroot "$R" readlink -f {q(m.target)})',
                     f'mount --bind {q(str(m.source))} "$R$real"']
            if m.read_only:
                steps.append(f'mount -o remount,bind,ro "$R$real"')
            if m.only_if_present:
                steps = [f"if [ -e {q(str(m.source))} ]; then", *steps, "fi"]
            lines += steps
        # /proc of the PID namespace the process runs in; a /dev like a runtime's.
        lines += ['mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
                  'mount -t tmpfs -o nosuid,mode=755 tmpfs "$R/dev"']
        for dev in ("null", "zero", "full", "random", "urandom", "tty"):
            lines += [f'touch "$R/dev/{dev}"', f'mount --bind /dev/{dev} "$R/dev/{dev}"']
        lines += ['mkdir "$R/dev/shm"', 'mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$R/dev/shm"']
        if self.read_only_root:
            lines.append('mount -o remount,bind,ro "$R"')
        caps = ",".join(["-all"] + [f"+{c.lower()}" for c in self.capabilities])
        groups = ",".join(str(g) for g in self.supplementary_groups)
        # setpriv and env are the image's own (util-linux and coreutils are
        # essential in every Debian-based image), run after chroot.
        setpriv = ["/usr/bin/setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                   f"--groups={groups}" if groups else "--clear-groups",
                   f"--inh-caps={caps}", f"--bounding-set={caps}", "--no-new-privs", "--"]
        env = ["/usr/bin/env", "-i", f"--chdir={self.workdir}", *(f"{k}={v}" for k, v in self.env.items())]
        lines.append('exec chroot "$R" ' + " ".join(q(a) for a in [*setpriv, *env, *self.argv]))
        return "\n".join(lines) + "\n"

    def run(self, scratch: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / "run.sh").write_text(self.script(scratch))
        cmd = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
               "sh", str(scratch / "run.sh")]
        if self.enter_pid_namespace_of is not None:
            # hostPID and hostPath: the node's PID namespace and its mounts
            # (the kubelet binds host paths from the node's mount namespace).
            cmd = ["nsenter", f"--target={self.enter_pid_namespace_of}", "--pid", "--mount", "--",
                   "unshare", "--mount", "--propagation", "private", "sh", str(scratch / "run.sh")]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def have_tools() -> str | None:
    """None when this machine can run images this way, else why not."""
    if os.geteuid() != 0:
        return "needs root (chroot, mount namespaces)"
    for tool in ("buildah", "unshare", "nsenter", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None
