"""The catalog matches the CIS 1.12 recommendation list exactly."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kaudit.catalog import CatalogError, load_catalog
from kaudit.rules.predicates import get_predicate

TSV = Path(__file__).resolve().parents[3] / "shared" / "reference" / "cis-1.12-recommendations.tsv"


def reference():
    if not TSV.exists():
        pytest.skip(f"reference list not found at {TSV}")
    with TSV.open() as fh:
        return {r["id"]: r for r in csv.DictReader(fh, delimiter="\t")}


def test_all_131_recommendations_with_their_titles_and_labels():
    ref = reference()
    catalog = {c.id: c for c in load_catalog().checks}
    assert len(ref) == 131
    assert sorted(catalog) == sorted(ref)
    for cid, row in ref.items():
        assert catalog[cid].title == row["title"], cid
        assert catalog[cid].cis_label == row["cis_label"], cid


def test_every_predicate_a_check_names_exists():
    for c in load_catalog().checks:
        if c.rule_kind == "predicate":
            get_predicate(c.rule["predicate"])


def test_unknown_benchmark_lists_the_available_ones():
    with pytest.raises(CatalogError) as err:
        load_catalog("cis-9.9")
    assert "cis-1.12" in str(err.value)


def test_malformed_check_is_rejected_naming_file_and_check(tmp_path):
    b = tmp_path / "x"
    b.mkdir()
    (b / "benchmark.yaml").write_text("title: x\n")
    (b / "1.yaml").write_text("checks:\n- {id: '1.1', title: t, level: 3, cis_label: Manual, automated: true, "
                              "severity: low, remediation: r, rule: {predicate: p}}\n")
    with pytest.raises(CatalogError) as err:
        load_catalog("x", root=tmp_path)
    assert "1.yaml" in str(err.value) and "1.1" in str(err.value)
