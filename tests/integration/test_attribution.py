"""Who ran the audit, with what, on which cluster: through the real client and CLI (issue 15)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from apiserver import sample_cluster
from kaudit.cli import main


def _pod(name: str, namespace: str, image_id: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
            "spec": {"containers": [{"name": "kaudit", "image": "ghcr.io/kaudit/kaudit:0.1.0"}]},
            "status": {"phase": "Running",
                       "containerStatuses": [{"name": "kaudit", "image": "ghcr.io/kaudit/kaudit:0.1.0",
                                              "imageID": image_id}]}}


def test_report_names_cluster_operator_command_image_and_catalog(make_api_server, kubeconfig_for, tmp_path,
                                                                 monkeypatch):
    digest = "ghcr.io/kaudit/kaudit@sha256:" + "ab" * 32
    server = make_api_server([*sample_cluster(), _pod("kaudit-now-x1", "kaudit", "docker-pullable://" + digest)])
    server.usernames["admin-token"] = "alice@example.com"
    kubeconfig = kubeconfig_for(server)
    monkeypatch.setenv("POD_NAME", "kaudit-now-x1")
    monkeypatch.setenv("POD_NAMESPACE", "kaudit")
    out = tmp_path / "out"
    rc = main(["scan", "--kubeconfig", kubeconfig, "--output-dir", str(out), "--quiet", "--fail-on", "never"])
    assert rc == 0
    scan = json.loads((out / "report.json").read_text())["scan"]
    assert scan["cluster"]["name"] == "kaudit-test"            # the context, never the kubeconfig's path
    assert scan["operator"] == "alice@example.com"              # what the API server says, not the kubeconfig
    assert scan["image"] == digest
    assert scan["command_line"][:2] == ["kaudit", "scan"] and kubeconfig in scan["command_line"]
    assert len(scan["catalog_sha256"]) == 64
    html = (out / "report.html").read_text()
    for shown in ("kaudit-test", "alice@example.com", digest, scan["catalog_sha256"]):
        assert shown in html
    props = {p.get("name"): p.get("value")
             for p in ET.parse(out / "junit.xml").getroot().iter("property")}
    assert props["cluster_name"] == "kaudit-test"
    assert props["operator"] == "alice@example.com"
    assert props["image"] == digest
    assert props["catalog_sha256"] == scan["catalog_sha256"]
    assert props["kaudit_version"]


def test_operator_falls_back_to_kubeconfig_user_and_cluster_name_flag_wins(make_api_server, kubeconfig_for,
                                                                           tmp_path):
    server = make_api_server()
    server.add_fault(r"^/apis/authentication\.k8s\.io/v1/selfsubjectreviews$", 404, times=10, method="POST")
    out = tmp_path / "out"
    rc = main(["scan", "--kubeconfig", kubeconfig_for(server), "--cluster-name", "prod-eu-1",
               "--output-dir", str(out), "--quiet", "--fail-on", "never", "--format", "json"])
    assert rc == 0
    scan = json.loads((out / "report.json").read_text())["scan"]
    assert scan["operator"] == "test-user (kubeconfig user)"
    assert scan["cluster"]["name"] == "prod-eu-1"
    assert scan["image"] == "unknown"                            # not running in a pod


def test_manifest_scan_is_never_named_after_a_file_path(tmp_path):
    dump = tmp_path / "secret-location" / "dump.yaml"
    dump.parent.mkdir()
    dump.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system, uid: u-1}\n")
    out = tmp_path / "out"
    main(["scan", "--manifests", str(dump), "--output-dir", str(out), "--quiet", "--format", "json"])
    scan = json.loads((out / "report.json").read_text())["scan"]
    assert "secret-location" not in json.dumps(scan["cluster"])
