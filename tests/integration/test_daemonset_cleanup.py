"""The collector DaemonSet (hostPID, root, on every node) never outlives its
scan: a signal during the create call, an owner reference to the scanner's
Pod, stale DaemonSets of earlier runs swept, a failed delete on the report's
cover. Against the wire-level test API server."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from apiserver import PodOutcome, sample_cluster
from kaudit.catalog import load_catalog
from kaudit.collect.api import ApiSource
from kaudit.collect.node.daemonset import (APP_LABEL, APP_NAME, EXPIRES_ANNOTATION, RUN_LABEL,
                                           DaemonSetSource)
from kaudit.scan import ScanRequest, run_scan

ROOT = Path(__file__).resolve().parents[2]


def remaining(server) -> list[str]:
    return sorted(ds["metadata"]["name"] for ds in server.objects_of("daemonsets", "apps"))


def never_finishes(_node: str) -> PodOutcome:
    return PodOutcome(exit_code=None)


def stamp(seconds_from_now: float) -> str:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds_from_now)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def collector_ds(name: str, *, namespace: str = "kaudit", created: str | None = None,
                 expires: str | None = None, app: str = APP_NAME) -> dict:
    meta: dict = {"name": name, "namespace": namespace, "labels": {APP_LABEL: app, RUN_LABEL: name[-8:]}}
    if created:
        meta["creationTimestamp"] = created
    if expires:
        meta["annotations"] = {EXPIRES_ANNOTATION: expires}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
            "spec": {"selector": {"matchLabels": meta["labels"]},
                     "template": {"metadata": {"labels": meta["labels"]}, "spec": {"containers": []}}}}


@pytest.fixture
def cluster_and_source(api_server, kubeconfig_for):
    kubeconfig = kubeconfig_for(api_server)
    cluster = ApiSource(kubeconfig).collect()

    def source(**kw):
        kw.setdefault("poll_interval", 0.05)
        kw.setdefault("timeout", 5)
        kw.setdefault("environ", {})
        return DaemonSetSource(kubeconfig, **kw)

    return api_server, cluster, source


def test_sigterm_during_the_create_call_still_deletes_the_daemonset(cluster_and_source):
    """The server has stored the DaemonSet, its answer has not arrived: the
    signal lands in between (the 3-in-80 leak)."""
    server, cluster, source = cluster_and_source
    server.default_pod_outcome = never_finishes
    server.daemonset_create_delay = 1.0

    def kill_when_stored() -> None:
        deadline = time.monotonic() + 10
        while not server.created_daemonsets and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=kill_when_stored)
    killer.start()
    with pytest.raises(KeyboardInterrupt):
        source().collect(cluster)
    killer.join()
    assert len(server.created_daemonsets) == 1 and remaining(server) == []


def test_a_second_signal_does_not_cut_the_cleanup_short(cluster_and_source):
    server, cluster, source = cluster_and_source
    server.default_pod_outcome = never_finishes

    def progress(message: str) -> None:
        if message.startswith("node collectors:"):
            os.kill(os.getpid(), signal.SIGTERM)
        if message.startswith("deleted DaemonSet"):
            os.kill(os.getpid(), signal.SIGTERM)       # mid-cleanup: ignored

    with pytest.raises(KeyboardInterrupt):
        source().collect(cluster, progress)
    assert remaining(server) == []


def test_owned_by_the_scanner_pod_in_its_own_namespace(cluster_and_source):
    server, cluster, source = cluster_and_source
    pod = {"POD_NAME": "kaudit-29000000-abcde", "POD_NAMESPACE": "kaudit", "POD_UID": "0b8f6f1e-uid"}
    source(environ=pod).collect(cluster)
    (ds,) = server.created_daemonsets
    assert ds["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "kaudit-29000000-abcde", "uid": "0b8f6f1e-uid"}]


def test_no_owner_across_namespaces_or_outside_a_pod(cluster_and_source):
    """The garbage collector treats an owner in another namespace as absent
    and would delete the DaemonSet at once."""
    server, cluster, source = cluster_and_source
    messages: list[str] = []
    elsewhere = {"POD_NAME": "kaudit-1", "POD_NAMESPACE": "kaudit", "POD_UID": "u-1"}
    source(environ=elsewhere, namespace="kaudit-nodes").collect(cluster, messages.append)
    source().collect(cluster)
    assert [ds["metadata"].get("ownerReferences") for ds in server.created_daemonsets] == [None, None]
    assert any("no owner reference across namespaces" in m for m in messages)
    assert remaining(server) == []


def test_stale_daemonsets_of_earlier_runs_are_swept(make_api_server, kubeconfig_for):
    objects = sample_cluster() + [
        collector_ds("kaudit-node-expired1", expires=stamp(-60)),
        collector_ds("kaudit-node-legacy01", created=stamp(-7200)),             # older kaudit, no expiry
        collector_ds("kaudit-node-legacy02"),                                   # ... created just now
        collector_ds("kaudit-node-garbled", expires="next tuesday"),
        collector_ds("kaudit-node-running", expires=stamp(600)),                # another run, still going
        collector_ds("kaudit-node-elsewher", namespace="other", expires=stamp(-60)),
        collector_ds("not-ours", expires=stamp(-60), app="something-else"),
    ]
    server = make_api_server(objects)
    kubeconfig = kubeconfig_for(server)
    cluster = ApiSource(kubeconfig).collect()
    messages: list[str] = []
    facts = DaemonSetSource(kubeconfig, poll_interval=0.05, timeout=5, environ={}).collect(cluster, messages.append)
    assert [f.unreachable for f in facts] == [None, None, None]
    assert remaining(server) == ["kaudit-node-elsewher", "kaudit-node-running", "not-ours"]
    assert "deleted DaemonSet kaudit/kaudit-node-expired1 left by an earlier run" in messages
    assert not cluster.load_errors
    # What the next run sees as expired: this run's own deadline, not a guess.
    (mine,) = [d for d in server.created_daemonsets if d["metadata"]["name"] not in
               {o["metadata"]["name"] for o in objects if o["kind"] == "DaemonSet"}]
    expires = dt.datetime.strptime(mine["metadata"]["annotations"][EXPIRES_ANNOTATION], "%Y-%m-%dT%H:%M:%SZ")
    left = expires.replace(tzinfo=dt.timezone.utc) - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(seconds=5) < left <= dt.timedelta(seconds=5 + 600 + 5)


def test_a_failed_delete_is_on_the_report_cover(api_server, kubeconfig_for):
    kubeconfig = kubeconfig_for(api_server)
    api_server.default_pod_outcome = lambda node: PodOutcome(
        logs=json.dumps({"schema": "kaudit.nodefacts/v1", "name": node}))
    api_server.add_fault(r"/daemonsets/kaudit-node-", 403, times=100, method="DELETE")
    req = ScanRequest(catalog=load_catalog("cis-1.12"), cluster_source=ApiSource(kubeconfig),
                      node_source=DaemonSetSource(kubeconfig, poll_interval=0.05, timeout=5, environ={}),
                      node_access="daemonset", only_checks=["4.1.1"])
    report = run_scan(req)
    (name,) = remaining(api_server)
    errors = [e for e in report.scan.collection_errors if "DaemonSet" in e]
    assert len(errors) == 1 and f"could not delete kaudit/{name} (HTTP 403" in errors[0], errors
    assert f"kubectl -n kaudit delete daemonset {name}" in errors[0]


def test_sweep_that_cannot_list_is_on_the_report_cover(cluster_and_source):
    server, cluster, source = cluster_and_source
    server.add_fault(r"/namespaces/kaudit/daemonsets$", 403, times=1)
    source().collect(cluster)
    assert remaining(server) == []
    assert [e for e in cluster.load_errors if "left by earlier runs" in e]


def test_sigterm_during_the_create_call_in_the_scheduled_run(make_api_server, kubeconfig_for, tmp_path):
    """The Job's SIGTERM lands while the create call is answered: the report
    is written and the DaemonSet is gone."""
    server = make_api_server(sample_cluster())
    server.default_pod_outcome = never_finishes
    server.daemonset_create_delay = 2.0
    proc = subprocess.Popen(
        [sys.executable, "-m", "kaudit", "scan", "--kubeconfig", kubeconfig_for(server), "--reports-root",
         str(tmp_path), "--checks", "4.1.1,5.1.3", "--fail-on", "never", "--nodes", "daemonset"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not server.created_daemonsets:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert remaining(server) == []


def test_the_scanner_pod_from_the_downward_api_owns_the_daemonset(make_api_server, kubeconfig_for, tmp_path):
    server = make_api_server(sample_cluster())
    server.default_pod_outcome = lambda node: PodOutcome(
        logs=json.dumps({"schema": "kaudit.nodefacts/v1", "name": node}))
    env = {**os.environ, "POD_NAME": "kaudit-29400000-x7k2p", "POD_NAMESPACE": "kaudit", "POD_UID": "4c1d-uid"}
    done = subprocess.run(
        [sys.executable, "-m", "kaudit", "scan", "--kubeconfig", kubeconfig_for(server), "--checks", "4.1.1",
         "--nodes", "daemonset", "--daemonset-namespace", "kaudit", "--output-dir", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert (tmp_path / "out" / "report.json").exists(), done.stderr
    (ds,) = server.created_daemonsets
    assert ds["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "kaudit-29400000-x7k2p", "uid": "4c1d-uid"}]
    assert remaining(server) == []
