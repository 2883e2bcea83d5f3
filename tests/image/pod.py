"""The shipped CronJob's pod, turned into a `Container` for the built image:
its command, environment, user, volumes and service account come from
job/cronjob.yaml and the image's own config, so a change to either is what
the tests run."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import yaml

from container import Container, ImageConfig, Mount, pod_argv

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "job"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def shipped(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((JOB / name).read_text()) if d]


def cronjob() -> dict[str, Any]:
    (cron,) = [d for d in shipped("cronjob.yaml") if d["kind"] == "CronJob"]
    return cron


def shipped_configmap(name: str) -> dict[str, Any]:
    resources = next(d for d in shipped("kustomization.yaml") if d.get("kind") == "Kustomization")["resources"]
    return next(d for r in resources for d in shipped(r)
                if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == name)


def scanner_cluster_role_rules() -> list[dict[str, Any]]:
    return next(d for d in shipped("rbac.yaml") if d["kind"] == "ClusterRole")["rules"]


def _fresh_dir(path: Path, mode: int) -> Path:
    path.mkdir(parents=True)
    path.chmod(mode)
    return path


def scanner_container(image: ImageConfig, rootfs: Path, work: Path, *, api_host: str, api_port: int,
                      token: str, ca_file: Path, reports: Path,
                      configmaps: dict[str, dict[str, str]] | None = None,
                      apply_fs_group: bool = True) -> Container:
    """The CronJob's container as the kubelet would start it on `image`.

    `reports` is the persistent volume (a directory the test owns);
    `configmaps` overrides the data of the shipped ConfigMaps by name;
    `apply_fs_group=False` models a volume whose ownership the kubelet
    cannot change (fsGroup unsupported), so root keeps it."""
    cron = cronjob()
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pod_sc, sc = pod.get("securityContext", {}), container.get("securityContext", {})
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if uid is None:
        uid = int(image.user.split(":")[0])
    fs_group = pod_sc.get("fsGroup")
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts: list[Mount] = []
    for vm in container["volumeMounts"]:
        volume = volumes[vm["name"]]
        if "persistentVolumeClaim" in volume:
            source = reports
            if fs_group is not None and apply_fs_group:
                # The kubelet makes the volume's root group-owned by fsGroup, setgid.
                os.chown(source, -1, fs_group)
                source.chmod(0o2775)
        elif "configMap" in volume:
            name = volume["configMap"]["name"]
            data = (configmaps or {}).get(name)
            if data is None:
                data = shipped_configmap(name).get("data", {})
            source = _fresh_dir(work / "volumes" / vm["name"], 0o755)
            for key, value in data.items():
                (source / key).write_text(value)
                (source / key).chmod(volume["configMap"].get("defaultMode", 0o644))
        elif "emptyDir" in volume:
            source = _fresh_dir(work / "volumes" / vm["name"], 0o777)   # the kubelet's emptyDir mode
        else:
            raise AssertionError(f"volume type of {vm['name']} not modelled: {sorted(volume)}")
        mounts.append(Mount(source, vm["mountPath"], read_only=bool(vm.get("readOnly"))))
    if pod.get("automountServiceAccountToken", True):
        sa = _fresh_dir(work / "serviceaccount", 0o755)
        (sa / "token").write_text(token)
        shutil.copyfile(ca_file, sa / "ca.crt")
        (sa / "namespace").write_text(cron["metadata"]["namespace"])
        for f in sa.iterdir():
            f.chmod(0o644)
        mounts.append(Mount(sa, SERVICE_ACCOUNT_DIR, read_only=True))
    pod_name = f"kaudit-{secrets.token_hex(3)}"
    # The downward API's fields of this pod, as the kubelet resolves `fieldRef`.
    fields = {"metadata.name": pod_name, "metadata.namespace": cron["metadata"]["namespace"],
              "metadata.uid": str(uuid.uuid4())}
    env = dict(image.env)
    for e in container.get("env", ()):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
    # Always set by the kubelet for the `kubernetes` Service (enableServiceLinks
    # only controls the other Services' variables).
    env.update({"KUBERNETES_SERVICE_HOST": api_host, "KUBERNETES_SERVICE_PORT": str(api_port),
                "HOSTNAME": pod_name})
    caps = sc.get("capabilities", {})
    assert caps.get("drop") == ["ALL"]
    return Container(rootfs=rootfs, argv=pod_argv(container, image), uid=uid, gid=gid, env=env,
                     workdir=container.get("workingDir") or image.workdir, mounts=mounts,
                     read_only_root=bool(sc.get("readOnlyRootFilesystem")),
                     capabilities=tuple(caps.get("add", ())),
                     supplementary_groups=(fs_group,) if fs_group is not None else ())


def run_pod(image: ImageConfig, rootfs: Path, tmp_path: Path, api: Any, reports: Path, name: str,
            **kw: Any) -> subprocess.CompletedProcess:
    """Run the CronJob's pod once against `api` (the `api` fixture)."""
    container = scanner_container(image, rootfs, tmp_path / name, api_host="127.0.0.1", api_port=api.port,
                                  token=api.sa_token, ca_file=api.ca_file, reports=reports, **kw)
    return container.run(tmp_path / name)


def run_dirs(cluster_dir: Path) -> list[Path]:
    """A cluster directory's run directories, oldest first."""
    return sorted(p for p in cluster_dir.iterdir() if p.is_dir() and not p.is_symlink() and p.name[0].isdigit())
