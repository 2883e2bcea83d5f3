"""A run never ends without a truthful report and a truthful exit status: real
processes, real signals and real file systems (a small tmpfs for ENOSPC, a
read-only bind mount for EROFS, an unprivileged user for EACCES)."""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from kaudit.incluster import WRITER_LOCK_FILE
from kaudit.report.integrity import verify_sha256sums

ROOT = Path(__file__).resolve().parents[2]
KAUDIT = [sys.executable, "-m", "kaudit"]
EXIT_FAIL, EXIT_INCOMPLETE, EXIT_FAILED = 1, 3, 4


def kaudit(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*KAUDIT, *args], capture_output=True, text=True, cwd=ROOT, timeout=180, **kw)


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@contextlib.contextmanager
def mounted(target: Path, *mount_args: str) -> Iterator[Path]:
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a test file system needs root")
    proc = subprocess.run(["mount", *mount_args, str(target)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a test file system here: {proc.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def demo_set(out: Path, *extra: str) -> dict:
    """Write the demo's reports into `out`; returns report.json."""
    proc = kaudit("scan", "--demo", "-q", "--output-dir", str(out), *extra)
    assert proc.returncode == EXIT_FAIL, proc.stderr
    return json.loads((out / "report.json").read_text())


# ---------------------------------------------------------------------------
# Exit status: 3 whenever incomplete, 4 when kaudit itself failed
# ---------------------------------------------------------------------------

def test_an_incomplete_scan_exits_3_whatever_fail_on_says(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]           # nothing listens: the node cannot be inspected
    inventory = tmp_path / "nodes.yaml"
    inventory.write_text(f"nodes:\n  - {{name: gone, address: 127.0.0.1, port: {dead}}}\n")
    for fail_on in ("fail", "never"):
        proc = kaudit("scan", "--demo", "--nodes", "ssh", "--inventory", str(inventory), "--checks", "4.2.1",
                      "--fail-on", fail_on, "--output-dir", str(tmp_path / fail_on))
        assert proc.returncode == EXIT_INCOMPLETE, (fail_on, proc.stderr)
        assert json.loads((tmp_path / fail_on / "report.json").read_text())["scan"]["complete"] is False
        assert "SCAN INCOMPLETE" in proc.stdout


def test_a_crash_after_the_scan_started_writes_an_incomplete_report_and_exits_4(tmp_path):
    # A kaudit bug in evaluation, stood in for by an evaluator that raises.
    crash = ("import sys, kaudit.engine\n"
             "def evaluate(*a, **kw): raise RuntimeError('a bug')\n"
             "kaudit.engine.evaluate = evaluate\n"
             "from kaudit.cli import main\n"
             "sys.argv[0] = 'kaudit'\n"
             "sys.exit(main())\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", crash, "scan", "--demo", "--output-dir", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert proc.returncode == EXIT_FAILED, proc.stderr
    line = one_error_line(proc.stderr)
    assert "kaudit failed" in line and str(out) in line
    report = json.loads((out / "report.json").read_text())
    assert report["scan"]["complete"] is False and "kaudit failed" in report["scan"]["incomplete_reasons"][0]
    assert {r["status"] for r in report["results"]} == {"ERROR"}
    assert all(verify_sha256sums(out).values())
    assert "SCAN INCOMPLETE" in proc.stdout                 # the summary is still printed


def test_help_documents_every_exit_status():
    text = " ".join(kaudit("scan", "--help").stdout.split())
    for code in ("0 complete", "1 complete", "2 usage", "3 the scan could not complete", "4 kaudit failed"):
        assert code in text, code
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "`4` kaudit failed" in readme


# ---------------------------------------------------------------------------
# Output file systems: full, read-only, denied
# ---------------------------------------------------------------------------

def test_full_disk_is_one_line_the_summary_and_exit_4_and_the_old_set_survives(tmp_path):
    with mounted(tmp_path / "vol", "-t", "tmpfs", "-o", "size=700k", "tmpfs") as vol:
        out = vol / "out"
        old = demo_set(out, "--checks", "5.1")         # a small set fits
        proc = kaudit("scan", "--demo", "--output-dir", str(out))     # the full set does not
        assert proc.returncode == EXIT_FAILED, proc.stderr
        line = one_error_line(proc.stderr)
        assert "No space left on device" in line and str(out) in line
        assert "Score:" in proc.stdout
        assert json.loads((out / "report.json").read_text())["scan"]["started"] == old["scan"]["started"]
        assert all(verify_sha256sums(out).values())
        assert sorted(p.name for p in vol.iterdir()) == ["out"]      # no staging left behind


def test_read_only_output_is_one_line_the_summary_and_exit_4(tmp_path):
    out = tmp_path / "ro" / "out"
    old = demo_set(out, "--checks", "5.1")
    with mounted(tmp_path / "ro", "--bind", str(tmp_path / "ro")):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(tmp_path / "ro")], check=True)
        proc = kaudit("scan", "--demo", "--output-dir", str(out))
        assert proc.returncode == EXIT_FAILED, proc.stderr
        assert "Read-only file system" in one_error_line(proc.stderr)
        assert "Score:" in proc.stdout
        assert json.loads((out / "report.json").read_text())["scan"]["started"] == old["scan"]["started"]


def test_permission_denied_is_one_line_the_summary_and_exit_4(tmp_path):
    # root without CAP_DAC_OVERRIDE is held to file modes like any user
    if os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists():
        pytest.skip("needs root and setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
    parent = tmp_path / "not-mine"
    parent.mkdir(mode=0o755)
    nobody = pwd.getpwnam("nobody")
    os.chown(parent, nobody.pw_uid, nobody.pw_gid)
    proc = subprocess.run(["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search", "--",
                           *KAUDIT, "scan", "--demo", "--output-dir", str(parent / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert proc.returncode == EXIT_FAILED, proc.stderr
    assert "Permission denied" in one_error_line(proc.stderr)
    assert "Score:" in proc.stdout
    assert list(parent.iterdir()) == []


def assert_results_stand_and_the_unsaved_output_is_stated(proc, out: Path, option: str, why: str) -> None:
    """A --save-facts/--save-evidence that could not be written: exit 4 with one
    line naming it, but the scan's verdicts and reports stand, and the report
    states what was not saved."""
    assert proc.returncode == EXIT_FAILED, proc.stderr
    line = one_error_line(proc.stderr)
    assert option in line and why in line, line
    assert "Score:" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["scan"]["complete"] is True
    statuses = {r["status"] for r in report["results"]}
    assert {"PASS", "FAIL"} <= statuses, statuses          # evaluated, not turned into ERRORs
    (noted,) = [e for e in report["scan"]["collection_errors"] if option in e]
    assert why in noted
    assert option in (out / "report.html").read_text()
    assert all(verify_sha256sums(out).values())


def test_save_facts_to_a_read_only_directory_keeps_the_results(tmp_path):
    (tmp_path / "ro").mkdir()
    with mounted(tmp_path / "ro", "--bind", str(tmp_path / "ro")):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(tmp_path / "ro")], check=True)
        proc = kaudit("scan", "--demo", "--output-dir", str(tmp_path / "out"),
                      "--save-facts", str(tmp_path / "ro" / "facts"))
        assert_results_stand_and_the_unsaved_output_is_stated(proc, tmp_path / "out", "--save-facts",
                                                              "Read-only file system")


def test_save_facts_where_a_file_is_keeps_the_results(tmp_path):
    blocker = tmp_path / "facts"
    blocker.write_text("a file where --save-facts needs a directory\n")
    proc = kaudit("scan", "--demo", "--output-dir", str(tmp_path / "out"), "--save-facts", str(blocker))
    assert_results_stand_and_the_unsaved_output_is_stated(proc, tmp_path / "out", "--save-facts", "exists")
    assert blocker.read_text() == "a file where --save-facts needs a directory\n"


def test_save_evidence_on_a_full_disk_keeps_the_results_and_leaves_nothing_half_written(tmp_path):
    with mounted(tmp_path / "vol", "-t", "tmpfs", "-o", "size=64k", "tmpfs") as vol:
        proc = kaudit("scan", "--demo", "--output-dir", str(tmp_path / "out"),
                      "--save-evidence", str(vol / "evidence"))
        assert_results_stand_and_the_unsaved_output_is_stated(proc, tmp_path / "out", "--save-evidence",
                                                              "No space left on device")
        assert list(vol.iterdir()) == []                # no partial bundle left behind


def test_full_reports_volume_prunes_old_runs_before_writing(tmp_path):
    with mounted(tmp_path / "vol", "-t", "tmpfs", "-o", "size=2200k", "tmpfs") as vol:
        args = ("scan", "--demo", "-q", "--reports-root", str(vol), "--keep", "2")
        for _ in range(2):                             # two runs fill the volume
            assert kaudit(*args).returncode == EXIT_FAIL
            time.sleep(1.1)                            # run directories are named by the second
        (cluster,) = [p for p in vol.iterdir() if p.is_dir()]
        before = sorted(p.name for p in cluster.iterdir() if p.is_dir() and not p.is_symlink())
        proc = kaudit(*args)
        assert proc.returncode == EXIT_FAIL and not proc.stderr, proc.stderr   # fits: the oldest went first
        runs = sorted(p for p in cluster.iterdir() if p.is_dir() and not p.is_symlink())
        assert [p.name for p in runs][0] == before[-1] and runs[-1].name not in before
        assert len(runs) == 2 and (cluster / "latest").resolve() == runs[-1].resolve()
        assert all(verify_sha256sums(r).values() for r in runs)


def test_reports_volume_too_small_for_one_run_says_what_retention_did(tmp_path):
    with mounted(tmp_path / "vol", "-t", "tmpfs", "-o", "size=700k", "tmpfs") as vol:
        small = ("scan", "--demo", "-q", "--reports-root", str(vol), "--checks", "5.1", "--fail-on", "never")
        for _ in range(2):
            assert kaudit(*small).returncode == 0
            time.sleep(1.1)
        proc = kaudit("scan", "--demo", "--reports-root", str(vol), "--keep", "2", "--fail-on", "never")
        assert proc.returncode == EXIT_FAILED, proc.stderr
        line = one_error_line(proc.stderr)
        assert "No space left on device" in line and "retention first deleted 1 old run(s)" in line
        assert "Score:" in proc.stdout
        (cluster,) = [p for p in vol.iterdir() if p.is_dir()]
        (kept,) = [p for p in cluster.iterdir() if p.is_dir() and not p.is_symlink()]
        assert (cluster / "latest").resolve() == kept.resolve() and all(verify_sha256sums(kept).values())
        # No staging left behind; the one hidden file is the (released) writer lock.
        assert [p.name for p in cluster.iterdir() if p.name.startswith(".")] == [WRITER_LOCK_FILE]


def test_an_old_run_retention_cannot_delete_is_left_and_the_new_run_is_still_filed(tmp_path):
    # Retention is housekeeping: a run directory someone copied in as another user
    # must not cost the quarter its audit.
    if os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists():
        pytest.skip("needs root and setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
    args = ("scan", "--demo", "-q", "--reports-root", str(tmp_path), "--keep", "2", "--fail-on", "never")
    assert kaudit(*args).returncode == 0
    (cluster,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (first,) = [p for p in cluster.iterdir() if p.is_dir() and not p.is_symlink()]
    nobody = pwd.getpwnam("nobody")
    foreign = []
    for year in (2010, 2011):
        old = cluster / f"{year}0101T060000Z"
        old.mkdir(mode=0o755)
        (old / "report.json").write_bytes((first / "report.json").read_bytes())
        for p in (old / "report.json", old):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        foreign.append(old)
    proc = subprocess.run(["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--",
                           *KAUDIT, *args], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert proc.returncode == 0, proc.stderr
    line = one_error_line(proc.stderr)
    assert "retention could not delete 2 old run(s)" in line and "Permission denied" in line, line
    assert foreign[0].name in line
    runs = sorted(p.name for p in cluster.iterdir() if p.is_dir() and not p.is_symlink())
    new = cluster / runs[-1]
    # Retention wanted the two old ones gone, not the first run (the newest then).
    assert runs == [f.name for f in foreign] + [first.name, new.name] and new.name != first.name
    assert os.readlink(cluster / "latest") == new.name and all(verify_sha256sums(new).values())
    assert all((f / "report.json").is_file() for f in foreign)


# ---------------------------------------------------------------------------
# --output-dir is replaced as a set, whatever moment a kill -9 lands
# ---------------------------------------------------------------------------

def test_output_dir_is_replaced_as_a_set_under_kill_9(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "out").mkdir()
    (out / "notes.txt").write_text("the auditor's own file\n")
    first = demo_set(out, "--checks", "5.1")
    sets = {first["scan"]["started"]}       # scan start times seen in the directory (pytest -s shows them)
    # How long one full run takes here, to spread the kills over all of it.
    t0 = time.monotonic()
    new = demo_set(out)
    duration = time.monotonic() - t0
    sets.add(new["scan"]["started"])
    rng = random.Random(11)
    for i in range(24):
        proc = subprocess.Popen([*KAUDIT, "scan", "--demo", "-q", "--output-dir", str(out),
                                 *(("--checks", "5") if i % 2 else ())],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Mostly the last third of the run (rendering, writing, swapping), some earlier.
        time.sleep(duration * (rng.uniform(0.66, 1.1) if i % 4 else rng.uniform(0.0, 0.66)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The invariant a reader relies on: one whole set, old or new, matching its sums.
        names = sorted(p.name for p in out.iterdir())
        assert names == ["SHA256SUMS", "junit.xml", "notes.txt", "report.html", "report.json"], names
        assert all(verify_sha256sums(out).values())
        report = json.loads((out / "report.json").read_text())
        assert report["scan"]["complete"] is True          # never a half-written or partial set
        sets.add(report["scan"]["started"])
        assert (out / "notes.txt").read_text() == "the auditor's own file\n"
    print(f"{len(sets)} different sets seen across the kills")
    # Whatever a kill left beside the directory is gone after the next run.
    demo_set(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_render_in_place_replaces_the_set_under_kill_9(tmp_path):
    """`kaudit render DIR/report.json` rewrites DIR's HTML and JUnit as one set:
    a kill -9 at any moment leaves the old set or the new one, never a mix,
    never a temporary file."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the auditor's own file\n")
    prev_dir = tmp_path / "prev"
    demo_set(prev_dir, "--checks", "5.1")
    previous = tmp_path / "previous.json"
    os.replace(prev_dir / "report.json", previous)
    shutil.rmtree(prev_dir)
    demo_set(out)
    report_json = (out / "report.json").read_bytes()
    # The two sets renders alternate between: with and without a trend.
    variants = set()
    for extra in ((), ("--previous", str(previous))):
        assert kaudit("render", str(out / "report.json"), *extra).returncode == 0
        variants.add((out / "report.html").read_bytes())
    assert len(variants) == 2
    t0 = time.monotonic()
    assert kaudit("render", str(out / "report.json")).returncode == 0
    duration = time.monotonic() - t0
    rng = random.Random(7)
    for i in range(24):
        proc = subprocess.Popen([*KAUDIT, "render", str(out / "report.json"),
                                 *(("--previous", str(previous)) if i % 2 else ())],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * (rng.uniform(0.5, 1.1) if i % 4 else rng.uniform(0.0, 0.5)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        names = sorted(p.name for p in out.iterdir())
        assert names == ["SHA256SUMS", "junit.xml", "notes.txt", "report.html", "report.json"], names
        assert all(verify_sha256sums(out).values())
        assert (out / "report.html").read_bytes() in variants
        assert (out / "report.json").read_bytes() == report_json       # never rewritten, never lost
        assert (out / "notes.txt").read_text() == "the auditor's own file\n"
    # Whatever a kill left beside the directory is gone after the next render.
    assert kaudit("render", str(out / "report.json")).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "previous.json"]


def test_render_through_a_latest_link_rewrites_the_run_it_names(tmp_path):
    """--reports-root's `latest` is a symlink: rendering through it rewrites the
    run directory and leaves the link a link."""
    root = tmp_path / "reports"
    proc = kaudit("scan", "--demo", "-q", "--reports-root", str(root), "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    (cluster,) = [p for p in root.iterdir() if p.is_dir()]
    latest = cluster / "latest"
    run = latest.resolve()
    (run / "report.html").unlink()
    assert kaudit("render", str(latest / "report.json"), "--sign-key", "/nonexistent").returncode == 2
    assert kaudit("render", str(latest / "report.json")).returncode == 0
    assert latest.is_symlink() and latest.resolve() == run and (run / "report.html").is_file()
    assert all(verify_sha256sums(run).values())
    # no staging left behind; the one hidden file is the (released) writer lock
    assert sorted(p.name for p in cluster.iterdir() if p.name.startswith(".")) == [WRITER_LOCK_FILE]


# ---------------------------------------------------------------------------
# The terminal: cluster strings never drive it
# ---------------------------------------------------------------------------

def test_escape_sequences_in_a_node_name_never_reach_the_tty(tmp_path):
    import pty
    # OSC 0 (window title), ESC[2J (clear screen), OSC 8 (hyperlink), a newline and U+2028 in the
    # name of a Node that --nodes ssh then tries (and fails) to reach: the progress line names it.
    hostile = "n\x1b]0;pwned\x07\x1b[2J\x1b]8;;https://evil/\x1b\\x\nScore: 100.0%\u2028"
    cluster = tmp_path / "cluster.json"
    cluster.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": hostile},
         "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}]}))
    (tmp_path / "known_hosts").write_text("")
    args = ["scan", "--manifests", str(cluster), "--nodes", "ssh", "--known-hosts", str(tmp_path / "known_hosts"),
            "--checks", "4.2.1", "--output-dir", str(tmp_path / "out")]
    master, slave = pty.openpty()
    proc = subprocess.Popen([*KAUDIT, *args], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:          # EIO: the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=60) == EXIT_INCOMPLETE
    text = seen.decode("utf-8", "replace")
    assert "n\\x1b]0;pwned\\x07\\x1b[2J" in text           # shown, escaped
    for raw in (b"\x1b]", b"\x1b[2J", b"\x07", "\u2028".encode()):
        assert raw not in seen, raw
    assert len([l for l in text.replace("\r", "\n").splitlines() if l.startswith("Score: 100.0%")]) == 0
