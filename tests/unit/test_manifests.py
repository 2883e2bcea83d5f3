"""Offline source: every shape of dump loads; a bad document costs only itself."""
from __future__ import annotations

import json

import pytest

from kaudit.collect import SourceError
from kaudit.collect.manifests import ManifestSource

POD = """apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: shop}
spec: {containers: [{name: c, image: nginx, env: [{name: PASSWORD, value: hunter2}]}]}
"""


def load(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return ManifestSource([p]).collect()


def test_multi_document_yaml_with_a_malformed_document(tmp_path):
    text = POD % "a" + "---\nkind: Pod\nmetadata: {name: [unclosed\n---\n" + POD % "b"
    facts = load(tmp_path, "dump.yaml", text)
    assert sorted(p.name for p in facts.of_kind("Pod")) == ["a", "b"]
    assert len(facts.load_errors) == 1 and "dump.yaml:7" in facts.load_errors[0] and "line 6" in facts.load_errors[0]


def test_kubectl_list_and_json(tmp_path):
    lst = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "uid": "u1"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}]}
    facts = load(tmp_path, "all.json", json.dumps(lst))
    assert [o.name for o in facts.of_kind("ClusterRole")] == ["r"]
    assert facts.of_kind("ClusterRole")[0].body["rules"][0]["verbs"] == ["*"]


def test_typed_list_items_get_their_kind(tmp_path):
    facts = load(tmp_path, "pods.yaml", "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: x, namespace: d}\n")
    assert [p.name for p in facts.of_kind("Pod")] == ["x"]


def test_unknown_kinds_are_kept_and_cni_kinds_do_not_collide(tmp_path):
    text = ("apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\nmetadata: {name: c, namespace: shop}\n"
            "spec: {selector: all()}\n---\n"
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k, namespace: shop}\nspec: {}\n---\n"
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    facts = load(tmp_path, "x.yaml", text)
    assert [o.name for o in facts.of_kind("NetworkPolicy")] == ["k"]
    assert [o.name for o in facts.of_kind("NetworkPolicy.crd.projectcalico.org")] == ["c"]
    assert [o.name for o in facts.of_kind("Widget.example.com")] == ["w"]


def test_literal_env_values_and_secret_data_are_never_kept(tmp_path):
    text = POD % "a" + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\ndata: {k: aHVudGVyMg==}\n"
    facts = load(tmp_path, "x.yaml", text)
    assert "hunter2" not in repr(facts.of_kind("Pod")) and "aHVudGVyMg" not in repr(facts.of_kind("Secret"))


def test_directory_is_read_recursively(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yml").write_text(POD % "a")
    (tmp_path / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}))
    (tmp_path / "notes.txt").write_text("ignored")
    facts = ManifestSource([tmp_path]).collect()
    assert len(facts.of_kind("Pod")) == 1 and len(facts.of_kind("Namespace")) == 1


@pytest.mark.parametrize("content", ["", "# just a comment\n", "just: [broken\n"])
def test_empty_or_useless_source_is_a_usage_error(tmp_path, content):
    with pytest.raises(SourceError) as err:
        load(tmp_path, "x.yaml", content)
    assert err.value.exit_code == 2 and "x.yaml" in str(err.value)


def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(SourceError) as err:
        ManifestSource([tmp_path / "nope"]).collect()
    assert err.value.exit_code == 2 and "no such file" in str(err.value)
