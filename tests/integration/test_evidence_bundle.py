"""The evidence bundle round trip (issue 13): `kaudit scan --save-evidence DIR`
against the wire-level test API server, then `kaudit scan --manifests DIR`,
gives the same results and the same completeness, including a kind the
cluster had none of (Kyverno policies, served but empty) and a kind the
token was denied (clusterroles)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaudit.cli import main
from kaudit.collect.evidence import RECORD, catalog_sha256
from kaudit.collect.permissions import cluster_role_rules
from kaudit.resources import data_dir

pytestmark = pytest.mark.integration


def report(directory: Path) -> dict:
    return json.loads((directory / "report.json").read_text())


@pytest.fixture
def bundle_scan(make_api_server, kubeconfig_for, tmp_path):
    limited = [dict(r, resources=[x for x in r["resources"] if x != "clusterroles"]) for r in cluster_role_rules()]
    server = make_api_server(addons=("kyverno",), tokens={"admin-token": None, "limited": limited})
    server.configz["worker-1"] = {"kubeletconfig": {"readOnlyPort": 10255, "authentication": {
        "anonymous": {"enabled": True}}}}
    bundle, live, offline = tmp_path / "evidence", tmp_path / "live", tmp_path / "offline"
    code = main(["scan", "--kubeconfig", kubeconfig_for(server, "limited"), "--save-evidence", str(bundle),
                 "--output-dir", str(live), "--format", "json", "-q", "--fail-on", "never"])
    assert code == 3          # incomplete (clusterroles denied): exit 3 whatever --fail-on says
    code = main(["scan", "--manifests", str(bundle), "--output-dir", str(offline), "--format", "json", "-q",
                 "--fail-on", "never"])
    assert code == 3          # the bundle reproduces the incompleteness, and so the exit status
    return bundle, report(live), report(offline)


def test_bundle_reproduces_results_and_completeness(bundle_scan):
    _, live, offline = bundle_scan
    assert len(live["results"]) > 100
    assert offline["results"] == live["results"]
    for key in ("complete", "incomplete_reasons", "collection_errors", "cluster", "nodes_unreachable"):
        assert offline["scan"][key] == live["scan"][key], key
    assert not live["scan"]["complete"]          # clusterroles were denied
    # The denied kind is ERROR in both, for the same reason.
    denied = [r for r in offline["results"] if "clusterroles" in r["message"]]
    assert denied and all(r["status"] == "ERROR" for r in denied)
    # The kubelet settings read from configz are the same verdicts offline.
    assert [r for r in offline["results"] if r["check"] == "4.2.4"] == \
        [r for r in live["results"] if r["check"] == "4.2.4"]


def test_bundle_records_what_was_collected(bundle_scan):
    bundle, live, _ = bundle_scan
    record = json.loads((bundle / RECORD).read_text())
    coll = record["collection"]
    assert "ClusterPolicy.kyverno.io" in coll["listed"]           # served, empty: listed
    assert json.loads((bundle / "objects" / record["objects"]["ClusterPolicy.kyverno.io"]).read_text())["items"] == []
    assert "ClusterRole" in coll["denied"] and "ClusterRole" not in coll["listed"]
    assert "ClusterRole" not in record["objects"]
    assert record["tool"]["version"] == live["tool"]["version"]
    assert record["catalog_sha256"] == catalog_sha256(data_dir("checks") / "cis-1.12")
    assert not any("Secret" in name for name in record["objects"])
    configz = json.loads((bundle / "configz.json").read_text())
    assert configz["kubelet_configz"]["worker-1"]["readOnlyPort"] == 10255
    assert not list(bundle.parent.glob(".evidence.partial-*"))      # staged, then renamed


def test_save_evidence_refuses_a_non_empty_directory(tmp_path, capsys):
    target = tmp_path / "evidence"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    code = main(["scan", "--demo", "--save-evidence", str(target), "-q"])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert (target / "keep.txt").read_text() == "x"


def test_a_plain_dump_of_the_same_objects_is_not_complete(bundle_scan, tmp_path):
    """Without the record, the empty kinds are not proved empty."""
    bundle, live, _ = bundle_scan
    (bundle / RECORD).rename(tmp_path / "record.json")
    out = tmp_path / "plain"
    main(["scan", "--manifests", str(bundle / "objects"), "--output-dir", str(out), "--format", "json", "-q",
          "--fail-on", "never"])
    plain = report(out)
    assert not plain["scan"]["complete"]
    assert any("not in the input" in r for r in plain["scan"]["incomplete_reasons"])


def test_live_scan_does_not_judge_a_served_kind_it_never_read(make_api_server, kubeconfig_for):
    """sigstore's policy-controller installed: 5.5.1 cannot say "no image
    provenance control found" without reading its ClusterImagePolicies."""
    from apiserver import ResourceType

    from kaudit.catalog import load_catalog
    from kaudit.collect.api import ApiSource
    from kaudit.engine import evaluate
    from kaudit.model import Facts, Status
    sigstore = ResourceType("policy.sigstore.dev", "v1beta1", "clusterimagepolicies", "ClusterImagePolicy",
                            False, True)
    catalog = load_catalog()
    for extra, expected in (((), Status.WARN), ((sigstore,), Status.ERROR)):
        facts = ApiSource(kubeconfig_for(make_api_server(extra_types=extra))).collect()
        (result,) = evaluate(catalog, Facts(cluster=facts), ["5.5.1"])
        assert result.status is expected, result.message
    assert "ClusterImagePolicy.policy.sigstore.dev: not read by the live scan" in result.message


def test_rescan_warns_when_the_catalog_changed(bundle_scan, tmp_path, capsys):
    bundle, _, _ = bundle_scan
    record = json.loads((bundle / RECORD).read_text())
    capsys.readouterr()
    main(["scan", "--manifests", str(bundle), "-q", "--fail-on", "never"])
    assert "warning" not in capsys.readouterr().err
    record["catalog_sha256"] = "0" * 64
    (bundle / RECORD).write_text(json.dumps(record))
    main(["scan", "--manifests", str(bundle), "-q", "--fail-on", "never"])
    assert "results can differ from the original scan" in capsys.readouterr().err
