"""write_reports and SHA256SUMS: the directory an auditor files."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from kaudit.model import Report, Status
from kaudit.report.integrity import verify_sha256sums, write_sha256sums
from kaudit.report.json import load_report
from kaudit.report.outputs import write_reports

from tests.unit.report_builders import hostile_report, report, result


def test_writes_all_formats_then_checksums(tmp_path):
    rep = report([result("1.2.1", Status.FAIL), result("1.2.2", Status.PASS)])
    paths = write_reports(rep, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.html", "junit.xml", "SHA256SUMS"]
    assert verify_sha256sums(tmp_path / "out") == {"report.json": True, "report.html": True, "junit.xml": True}
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []   # no temp files


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_sha256sum_c_verifies_and_detects_tampering(tmp_path):
    write_reports(report([result()]), tmp_path)
    ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    html = tmp_path / "report.html"
    html.write_bytes(html.read_bytes().replace(b"FAIL", b"PASS"))
    bad = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0 and "report.html: FAILED" in bad.stdout
    assert verify_sha256sums(tmp_path)["report.html"] is False


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_odd_file_names_use_the_escaped_sha256sum_form(tmp_path):
    name = "a\\b\nc.txt"
    (tmp_path / name).write_text("x")
    write_sha256sums(tmp_path, [name])
    assert (tmp_path / "SHA256SUMS").read_text().startswith("\\")
    ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_rendering_failure_leaves_previous_directory_untouched(tmp_path, monkeypatch):
    write_reports(report([result()]), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    from kaudit.report import junit

    def boom(self, rep):
        raise RuntimeError("render failed")
    monkeypatch.setattr(junit.JunitFormatter, "render", boom)
    with pytest.raises(RuntimeError):
        write_reports(report([result(status=Status.PASS)]), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_json_round_trip_rerenders_identically(tmp_path):
    """`kaudit render report.json` must reproduce the same HTML and JUnit."""
    rep = hostile_report()
    write_reports(rep, tmp_path / "a")
    again = load_report(tmp_path / "a" / "report.json")
    write_reports(again, tmp_path / "b")
    for name in ("report.json", "report.html", "junit.xml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_unknown_format_is_rejected_before_writing(tmp_path):
    with pytest.raises(ValueError, match="unknown report format 'docx'"):
        write_reports(report([result()]), tmp_path / "x", formats=("json", "docx"))
    assert not (tmp_path / "x").exists()


def test_replacing_a_report_dir_without_rename_exchange_recovers_after_a_kill(tmp_path, monkeypatch):
    """On a file system without RENAME_EXCHANGE the old set is moved aside for
    a moment; a kill in that moment is undone by the next run."""
    from kaudit.report import outputs
    out = tmp_path / "out"
    old = report([result("1.2.1", Status.FAIL)])
    outputs.replace_report_dir(old, out)
    (out / "facts").mkdir()
    (out / "facts" / "cp-1.json").write_text("{}")
    monkeypatch.setattr(outputs, "_rename_exchange", lambda a, b: False)
    new = report([result("1.2.1", Status.PASS)])
    outputs.replace_report_dir(new, out)              # the fallback swap, to the end
    assert load_report(out / "report.json").results[0].status is Status.PASS
    assert (out / "facts" / "cp-1.json").read_text() == "{}"          # the user's files are kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # A kill right after the old set was moved aside: the directory is gone for a moment ...
    aside = tmp_path / ".out.kaudit-old.x1"
    out.rename(aside)
    (tmp_path / ".out.kaudit-new.x2").mkdir()
    outputs.recover_report_dir(out)                  # ... and the next run puts the old set back first
    assert load_report(out / "report.json").results[0].status is Status.PASS
    assert all(verify_sha256sums(out).values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
