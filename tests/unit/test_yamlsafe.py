"""The one YAML/JSON loader refuses hostile input quickly, with a short message."""
from __future__ import annotations

import json
import os

import pytest

from kaudit import yamlsafe

# 9 levels of 9 aliases: ~500 million nodes from a few hundred bytes ("billion laughs").
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def test_alias_bomb_is_refused_without_expanding_it():
    assert len(BOMB) < 600
    with pytest.raises(yamlsafe.YAMLError) as exc:
        yamlsafe.load(BOMB)
    assert "excessive aliasing" in str(exc.value) and yamlsafe.error_line(exc.value) == 1
    with pytest.raises(yamlsafe.YAMLError):
        yamlsafe.compose(BOMB)


def test_self_referencing_alias_is_refused():
    with pytest.raises(yamlsafe.YAMLError):
        yamlsafe.compose("a: &a [x, *a]\n")


def test_ordinary_anchors_still_load():
    doc = "base: &base {image: nginx, ports: [80, 443]}\n" + "".join(f"c{i}: *base\n" for i in range(300))
    data = yamlsafe.load(doc)
    assert data["c299"] == {"image": "nginx", "ports": [80, 443]}


@pytest.mark.parametrize("text", ["[" * 200_000 + "]" * 200_000,
                                  "".join(" " * i + "k:\n" for i in range(3000)) + " " * 3000 + "v\n"])
def test_deep_yaml_is_a_parse_error(text):
    with pytest.raises(yamlsafe.YAMLError):
        yamlsafe.load(text)
    with pytest.raises(yamlsafe.YAMLError):
        yamlsafe.compose(text)


def test_deep_json_is_a_value_error_not_a_recursion_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        yamlsafe.load_json("[" * 200_000 + "]" * 200_000)
    assert yamlsafe.load_json(json.dumps({"a": [[{"b": 1}]]})) == {"a": [[{"b": 1}]]}


def test_config_files_are_capped_before_being_read(tmp_path):
    big = tmp_path / "kubeconfig"
    with open(big, "wb") as fh:                    # sparse: 200 MB without writing them
        fh.truncate(200 * 2**20)
    with pytest.raises(OSError) as exc:
        yamlsafe.read_config(big, "kubeconfig")
    assert "200.0 MiB" in str(exc.value) and len(str(exc.value)) < 300
    small = tmp_path / "ok"
    small.write_text("apiVersion: v1\n")
    assert yamlsafe.read_config(small, "kubeconfig") == "apiVersion: v1\n"
    assert os.path.getsize(big) == 200 * 2**20


def test_aliases_in_flow_and_block_positions_are_all_checked():
    for doc in (BOMB, BOMB.replace(", ", ","), "x:\n" + "".join(
            f"- &{n} [{', '.join(['*' + p] * 9)}]\n" if p else f"- &{n} [x,x,x,x,x,x,x,x,x]\n"
            for p, n in zip(["", *"abcdefgh"], "abcdefghi"))):
        with pytest.raises(yamlsafe.YAMLError):
            yamlsafe.load(doc)
    assert yamlsafe.load("url: https://x/?a=1&b=2*3\n") == {"url": "https://x/?a=1&b=2*3"}
