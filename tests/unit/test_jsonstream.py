"""The streaming JSON List reader must load exactly what json.loads does."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kaudit.collect import manifests
from kaudit.collect.jsonstream import NotStreamable, iter_list
from kaudit.collect.manifests import ManifestSource


def events(text: str, chunk: int = 7) -> list[tuple]:
    return list(iter_list(io.StringIO(text), chunk=chunk))


def test_items_and_members_in_file_order_across_tiny_chunks():
    doc = {"apiVersion": "v1", "items": [{"a": 12345678, "s": "x\\\"y", "n": None}, [1.5e3, True], "z"],
           "kind": "List", "metadata": {"resourceVersion": ""}}
    got = events(json.dumps(doc, indent=4), chunk=3)
    assert got == [("member", "apiVersion", "v1"), ("item", 0, doc["items"][0]), ("item", 1, [1500.0, True]),
                   ("item", 2, "z"), ("member", "kind", "List"), ("member", "metadata", {"resourceVersion": ""})]


def test_a_number_cut_by_the_chunk_boundary_is_read_whole():
    assert events('{"items": [123456789], "kind": "List"}', chunk=13)[0] == ("item", 0, 123456789)


@pytest.mark.parametrize("text", ['{"items": [1,]}', '{"items": [1] "kind": "List"}', '{"items": [1]} x',
                                  '{"items": [{"a": }]}', '{1: 2}'])
def test_malformed_json_raises(text):
    with pytest.raises(ValueError):
        events(text)


@pytest.mark.parametrize("text", ['[1, 2]', '{"kind": "Pod"}', '{"items": {"a": 1}}', '{}',
                                  '{"items": [], "items": [1]}'])
def test_anything_but_one_items_array_is_not_streamable(text):
    with pytest.raises(NotStreamable):
        events(text)


def _facts(path: Path, stream: bool, monkeypatch):
    monkeypatch.setattr(manifests, "STREAM_MIN_BYTES", 0 if stream else 1 << 60)
    return ManifestSource([path]).collect()


def _dump(facts) -> list:
    return [(k, [(o.name, o.namespace, o.uid, o.labels, o.annotations, o.owners, o.body, o.origin) for o in v])
            for k, v in facts.objects.items()]


def test_streaming_loads_the_same_facts_as_whole_file_loading(tmp_path, monkeypatch):
    items = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "ns", "uid": f"u{i}",
                                                               "labels": {"app": "a"}},
              "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "X", "value": "secret"}]}]},
              "status": {"phase": "Running"}} for i in range(5)]
    items.insert(2, {"metadata": {"name": "kindless", "namespace": "ns"}})   # gets the List's kind
    items.insert(3, {"apiVersion": "v1", "kind": "Pod"})                      # skipped: no name
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"apiVersion": "v1", "items": items, "kind": "PodList", "metadata": {}}, indent=4))
    whole, streamed = _facts(path, False, monkeypatch), _facts(path, True, monkeypatch)
    assert _dump(streamed) == _dump(whole)
    assert streamed.load_errors == whole.load_errors == [f"{path}:1: skipped: Pod has no metadata.name"]
    assert [o.name for o in streamed.of_kind("Pod")] == ["p0", "p1", "kindless", "p2", "p3", "p4"]
    assert "secret" not in json.dumps(_dump(streamed), default=str)


def test_a_malformed_large_file_reports_the_same_error_as_a_small_one(tmp_path, monkeypatch):
    path = tmp_path / "bad.json"
    path.write_text('{"apiVersion": "v1", "items": [{"kind": "Pod"},\n {"kind": ]}')
    (tmp_path / "ok.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}))
    whole, streamed = _facts(tmp_path, False, monkeypatch), _facts(tmp_path, True, monkeypatch)
    assert streamed.load_errors == whole.load_errors
    assert streamed.load_errors and "bad.json:2: malformed JSON" in streamed.load_errors[0]
    assert _dump(streamed) == _dump(whole)


def test_an_object_with_items_that_is_not_a_list_kind_is_one_object(tmp_path, monkeypatch):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"apiVersion": "example.com/v1", "kind": "Inventory", "metadata": {"name": "inv"},
                                "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}]}))
    streamed = _facts(path, True, monkeypatch)
    assert list(streamed.objects) == ["Inventory.example.com"]
