"""Scheduled scans into a reports volume (the in-cluster CronJob), and SIGTERM.

`kaudit scan --reports-root DIR [--keep N]` writes each run to
`DIR/<cluster>/<timestamp>/` (report.json, report.html, junit.xml,
SHA256SUMS), points `DIR/<cluster>/latest` (a relative symlink) and
`DIR/<cluster>/latest.txt` (the run directory's name, for volumes without
symlinks) at the newest *complete* run, keeps an incomplete run with an
`INCOMPLETE` file naming why, keeps the newest N runs (pruning before it
writes, so a full volume is made room on first; the newest complete run is
never pruned; a run it cannot delete is left and named) and feeds the
previous complete run's report.json to the trend. Runs writing into one
cluster directory at once take turns (`WRITER_LOCK_FILE`), and a run of the
same second as an earlier one is named `<timestamp>-N`.

The Job's `activeDeadlineSeconds` ends a run with SIGTERM; `kaudit scan
--output-dir` handles it the same way (`termination_handled`). Instead of
leaving nothing behind, the scan writes what it has as a report marked
incomplete (`ScanInfo.complete = False` with the reason):
- interrupted while reading the API server: what the source had listed is
  kept (`ClusterSource.partial_facts`), the rest is unavailable, so the checks
  needing it are ERROR with the interruption as their reason;
- interrupted while inspecting nodes: the cluster facts are complete, so they
  are evaluated; nodes already read stay read (`NodeSource.partial_nodes`) and
  every other node is reported as not inspected (ERROR for its checks), never
  as compliant;
- a SIGTERM after collection is only recorded: evaluating and writing take
  seconds and produce the complete report.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import re
import shutil
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from kaudit.gcpause import paused_gc
from kaudit.model import (CLUSTER, NODE, ClusterFacts, Evidence, Facts, NodeFacts, Report, Result,
                          Status, Waiver)
from kaudit.scan import ScanRequest, build_report, canonical_node_names, utc_now

LATEST_LINK = "latest"
LATEST_FILE = "latest.txt"
INCOMPLETE_FILE = "INCOMPLETE"      # in a run directory whose report is incomplete: the reasons
# Held (flock) by the run writing into a cluster directory: two runs started together
# (the schedule and a `kubectl create job --from=cronjob/kaudit`) write one after the other.
WRITER_LOCK_FILE = ".kaudit.lock"
_STAGING_SUFFIX = ".partial"
DEFAULT_KEEP = 8
# Run directories are named by the scan's start (UTC), with -N on a collision;
# only names of this shape are ever pruned, so nothing else on the volume is touched.
RUN_DIR_RE = re.compile(r"^\d{8}T\d{6}Z(?:-\d{1,4})?$")
UNKNOWN_CLUSTER = "unknown"
# Names a connection gives every cluster the same way: not a useful directory name.
_GENERIC_NAMES = frozenset({"", "in-cluster", "unknown", "default", "kubernetes"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ScanInterrupted(BaseException):
    """Raised in the main thread by the SIGTERM handler while facts are collected.

    A BaseException, like KeyboardInterrupt, so no `except Exception` in a
    source can swallow it and turn "stopped" into "no findings"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class ScheduledRun:
    report: Report
    run_dir: Path                  # <root>/<cluster>/<timestamp>
    written: list[Path]
    previous_dir: Path | None      # the run whose report fed the trend, if any
    pruned: list[Path]             # run directories deleted by retention
    interrupted: str | None        # why the run stopped early; None when it finished
    not_pruned: dict[Path, str] = field(default_factory=dict)   # old runs retention could not delete: why


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

def sanitize_name(value: str | None, max_len: int = 63) -> str:
    """A cluster-supplied name made safe as one directory name: [A-Za-z0-9._-],
    no leading dots (no "..", no hidden files), bounded length."""
    return _UNSAFE.sub("_", (value or "").strip()).lstrip("._")[:max_len].rstrip("_")


def cluster_dir_name(facts: Facts | None, root: Path) -> str:
    """The identity name, else the cluster id (kube-system UID), sanitised.

    Inside a pod the default name is the API host, the same in every cluster,
    so the stable kube-system UID is used instead. Without any identity (interrupted
    before the API answered), a reports volume holding exactly one cluster's
    directory is that cluster's volume; otherwise "unknown"."""
    if facts is not None:
        ident = facts.cluster.identity
        # Inside a pod the default name is the API host (10.96.0.1): the same in every
        # cluster, so the kube-system UID names the directory instead.
        api_host = urlsplit(ident.api_server or "").hostname or ""
        if (ident.name and ident.name.strip().lower() not in _GENERIC_NAMES
                and ident.name.strip().lower() != api_host.lower()):
            name = sanitize_name(ident.name)
            if name:
                return name
        if ident.cluster_id:
            name = sanitize_name(ident.cluster_id)
            if name:
                return name
    # Only directories kaudit made count (a fresh ext4 volume also holds lost+found).
    existing = [p.name for p in _safe_iterdir(root) if p.is_dir() and not p.is_symlink()
                and not p.name.startswith(".") and ((p / LATEST_FILE).is_file() or run_dirs(p))]
    return existing[0] if len(existing) == 1 else UNKNOWN_CLUSTER


def run_dir_name(started: str) -> str:
    """`2025-01-15T09:00:00Z` -> `20250115T090000Z`: sortable, no colons (kubectl cp)."""
    when = dt.datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ")
    return when.strftime("%Y%m%dT%H%M%SZ")


def _safe_iterdir(path: Path) -> list[Path]:
    try:
        return sorted(path.iterdir())
    except FileNotFoundError:
        return []


def run_dirs(cluster_dir: Path) -> list[Path]:
    """Finished run directories, oldest first (names sort chronologically)."""
    return [p for p in _safe_iterdir(cluster_dir)
            if RUN_DIR_RE.match(p.name) and p.is_dir() and not p.is_symlink()]


def _sort_key(p: Path) -> tuple[str, int]:
    base, _, n = p.name.partition("-")
    return base, int(n or 0)


# ---------------------------------------------------------------------------
# Previous run, latest pointer, retention
# ---------------------------------------------------------------------------

def find_previous(cluster_dir: Path, exclude: Path | None = None,
                  cluster_id: str | None = None) -> tuple[Report, Path] | None:
    """The newest readable previous report, preferring a complete one: an
    interrupted run is a poor baseline for a trend. With `cluster_id`, only a
    report of that cluster (a directory name can outlive its cluster)."""
    from kaudit.report.json import load_report_for_trend as load_report
    fallback: tuple[Report, Path] | None = None
    for d in sorted(run_dirs(cluster_dir), key=_sort_key, reverse=True):
        if exclude is not None and d.name == exclude.name:
            continue
        try:
            report = load_report(d / "report.json")
        except (ValueError, OSError):
            continue          # an unreadable old report must not block this run
        if cluster_id and report.scan.cluster.cluster_id != cluster_id:
            continue
        if report.scan.complete:
            return report, d
        fallback = fallback or (report, d)
    return fallback


def update_latest(cluster_dir: Path, run_name: str) -> None:
    """Point `latest` (symlink) and `latest.txt` at `run_name`, each atomically
    (create beside, then rename over), so a reader never sees neither."""
    from kaudit.report import write_atomic
    tmp = cluster_dir / f".{LATEST_LINK}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(run_name, tmp)
        os.replace(tmp, cluster_dir / LATEST_LINK)
    except OSError:
        # Some volumes (SMB/Azure Files, some CSI drivers) refuse symlinks:
        # latest.txt below is the portable pointer.
        with contextlib.suppress(OSError):
            tmp.unlink()
    write_atomic(cluster_dir / LATEST_FILE, (run_name + "\n").encode())


def latest_complete(cluster_dir: Path) -> Path | None:
    """The run `latest.txt` names (only complete runs are pointed at), if it exists."""
    try:
        name = (cluster_dir / LATEST_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    run = cluster_dir / name
    return run if RUN_DIR_RE.match(name) and run.is_dir() else None


def prune(cluster_dir: Path, keep: int, protect: Path | None,
          not_deleted: dict[Path, str] | None = None) -> list[Path]:
    """Delete all but the newest `keep` run directories (never `protect`);
    returns those deleted. With `not_deleted`, a run that cannot be deleted
    (another user's files) is left, recorded there with why, and the others are
    still deleted; without it, the OSError propagates."""
    if keep < 0:
        raise ValueError("keep must not be negative")
    dirs = sorted(run_dirs(cluster_dir), key=_sort_key)
    doomed = [d for d in dirs[:max(0, len(dirs) - keep)] if protect is None or d.name != protect.name]
    deleted: list[Path] = []
    for d in doomed:
        try:
            shutil.rmtree(d)
        except OSError as exc:
            if not_deleted is None:
                raise
            not_deleted[d] = exc.strerror or str(exc)
        else:
            deleted.append(d)
    return deleted


def not_pruned_line(cluster_dir: Path, not_deleted: dict[Path, str]) -> str:
    """One line: the old runs retention had to leave, and why."""
    (first, why), more = next(iter(not_deleted.items())), len(not_deleted) - 1
    return (f"retention could not delete {len(not_deleted)} old run(s) in {cluster_dir}, left in place: "
            f"{first.name}: {why}" + (f" (and {more} more)" if more else ""))


# ---------------------------------------------------------------------------
# SIGTERM
# ---------------------------------------------------------------------------

class _Termination:
    """SIGTERM handling in stages: raise while collecting, record afterwards."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.raising = False

    @staticmethod
    def describe(signum: int) -> str:
        return (f"received {signal.Signals(signum).name} (the Job's activeDeadlineSeconds was reached "
                f"or the pod was deleted)")

    def handler(self, signum: int, _frame: Any) -> None:
        first = self.reason is None
        if first:
            self.reason = self.describe(signum)
        # Raise once: a second SIGTERM must not interrupt the handling of the first.
        if self.raising and first:
            raise ScanInterrupted(self.reason)


@contextlib.contextmanager
def _sigterm_handled(term: _Termination) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield                 # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, term.handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def interrupted_results(req: ScanRequest, reason: str, how: str = "was interrupted") -> list[Result]:
    """One ERROR per selected check: nothing was collected, so nothing is decided."""
    only = set(req.only_checks or ())
    out: list[Result] = []
    for check in req.catalog.checks:
        if only and not any(check.id == s or check.id.startswith(s + ".") for s in only):
            continue
        out.append(Result(
            check=check.id, title=check.title, section=check.section, level=check.level,
            cis_label=check.cis_label, automated=check.automated, severity=check.severity,
            status=Status.ERROR, target=CLUSTER,
            message=f"not evaluated: the scan {how} before its evidence was collected ({reason})",
            evidence=(Evidence("scan", None, "kaudit", note=reason),), remediation=check.remediation))
    return out


def _uninspected_nodes(cluster: ClusterFacts, node_access: str, reason: str) -> list[NodeFacts]:
    return [NodeFacts(name=n.name, transport=node_access,
                      unreachable=f"not inspected: the scan was interrupted ({reason})")
            for n in cluster.of_kind(NODE)]


def _describe(exc: KeyboardInterrupt) -> str:
    if str(exc) == f"signal {int(signal.SIGTERM)}":
        return _Termination.describe(signal.SIGTERM)
    return f"interrupted ({exc})" if str(exc) else "interrupted (SIGINT)"


def collect_interruptibly(req: ScanRequest, term: _Termination) -> tuple[Facts | None, str | None]:
    """Collect like `kaudit.scan.collect`, stage by stage, so an interruption
    keeps the stages that finished. Returns (facts or None, interruption)."""
    stage = "reading the API server"
    cluster: ClusterFacts | None = None
    term.raising = True
    try:
        cluster = req.cluster_source.collect(req.progress) if req.cluster_source else ClusterFacts()
        if req.cluster_name:
            cluster.identity.name = req.cluster_name
        nodes: list[NodeFacts] = []
        if req.node_source is not None:
            stage = f"inspecting nodes ({req.node_access})"
            nodes = req.node_source.collect(cluster, req.progress)
        facts = Facts(cluster=cluster, nodes=nodes, node_access=req.node_access)
        canonical_node_names(facts)
        return facts, None
    except (ScanInterrupted, KeyboardInterrupt) as exc:
        # KeyboardInterrupt: ^C, or the DaemonSet source's own SIGTERM handler
        # (it turns SIGTERM into an interrupt so its DaemonSet is deleted).
        why = exc.reason if isinstance(exc, ScanInterrupted) else (term.reason or _describe(exc))
        why = f"{why} while {stage}"
        if cluster is None and req.cluster_source is not None:
            # Keep what the API gave before the signal; the rest is marked unavailable.
            cluster = req.cluster_source.partial_facts(why)
        if cluster is None:
            return None, why
        nodes = req.node_source.partial_nodes(why) if req.node_source is not None else None
        if nodes is None:
            nodes = _uninspected_nodes(cluster, req.node_access, why)
        return Facts(cluster=cluster, nodes=nodes, node_access=req.node_access), why
    finally:
        term.raising = False


@contextlib.contextmanager
def termination_handled() -> Iterator[_Termination]:
    """SIGTERM handled for the whole run: it interrupts collection (see
    `collect_interruptibly`) and is only recorded afterwards, so evaluating and
    writing the reports are never cut short and the reports are never lost."""
    term = _Termination()
    with _sigterm_handled(term):
        yield term


def scan_interruptibly(req: ScanRequest, term: _Termination, started: str, *,
                       waivers: list[Waiver] | None = None,
                       on_facts: Callable[[Facts], None] | None = None,
                       today: dt.date | None = None) -> tuple[Report, Facts | None, str | None]:
    """Collect (interruptibly), evaluate, build the report and apply waivers.
    Returns (report, facts or None, why the collection stopped early or None)."""
    from kaudit.engine import evaluate
    from kaudit.report.waivers import apply_waivers

    # paused_gc: as in kaudit.scan.run_scan (large acyclic facts, see kaudit/gcpause.py).
    with paused_gc():
        facts, interrupted = collect_interruptibly(req, term)
        # From here on a SIGTERM is only recorded: evaluation is pure and fast,
        # and a half-written report directory would be worse than a late one.
        if facts is not None:
            if on_facts and interrupted is None:
                on_facts(facts)
            req.progress("evaluating checks")
            results = evaluate(req.catalog, facts, req.only_checks or None)
        else:
            results = interrupted_results(req, interrupted or "interrupted")
        report = build_report(req.catalog, facts or Facts(node_access=req.node_access), results, started,
                              incomplete=[interrupted] if interrupted else None,
                              command_line=req.command_line)
    if waivers:
        report.results, report.waivers = apply_waivers(report.results, waivers,
                                                       today or dt.date.fromisoformat(started[:10]))
    return report, facts, interrupted


def failed_report(req: ScanRequest, started: str, reason: str) -> Report:
    """The report of a scan that stopped on an error: every selected check is
    ERROR with the reason, and the report says it is incomplete."""
    return build_report(req.catalog, Facts(node_access=req.node_access),
                        interrupted_results(req, reason, how="stopped on an error"), started, incomplete=[reason],
                        command_line=req.command_line)


def scan_into_reports_root(req: ScanRequest, root: Path, *, keep: int = DEFAULT_KEEP,
                           formats: Iterable[str] = ("json", "html", "junit"),
                           waivers: list[Waiver] | None = None, previous: Report | None = None,
                           on_facts: Callable[[Facts], None] | None = None,
                           today: dt.date | None = None,
                           report_options: dict[str, Any] | None = None) -> ScheduledRun:
    """One scheduled run: scan, write `<root>/<cluster>/<timestamp>/`, move
    `latest`, prune to `keep` runs. `previous` overrides the automatic trend
    baseline (the newest earlier run of the same cluster). `report_options`
    go to write_reports (pdf_edition, sign_key)."""
    if keep < 1:
        raise ValueError("--keep must be at least 1")
    started = utc_now()
    with termination_handled() as term:
        report, facts, interrupted = scan_interruptibly(req, term, started, waivers=waivers,
                                                        on_facts=on_facts, today=today)
        run = write_scheduled_run(report, facts, root, keep=keep, formats=formats, previous=previous,
                                  report_options=report_options)
    run.interrupted = interrupted
    return run


def write_scheduled_run(report: Report, facts: Facts | None, root: Path, *, keep: int = DEFAULT_KEEP,
                        formats: Iterable[str] = ("json", "html", "junit"),
                        previous: Report | None = None,
                        report_options: dict[str, Any] | None = None) -> ScheduledRun:
    """Write `report` as a new run of its cluster. Retention runs first (the
    volume never holds more than `keep` runs plus the newest complete one, so a
    full volume is made room on before writing), `latest` moves only to a
    complete run, and an incomplete run is kept with an INCOMPLETE file naming
    why. An OSError (full, read-only, denied) propagates as `ReportsNotWritten`."""
    from kaudit.report.outputs import write_reports

    root = Path(root)
    run_dir = root
    pruned: list[Path] | None = None
    not_pruned: dict[Path, str] = {}
    try:
        cluster_dir = run_dir = root / cluster_dir_name(facts, root)
        with _only_writer(cluster_dir) as alone:
            if alone:
                # No other run is writing: a staging directory here is a killed run's.
                _sweep_staging(cluster_dir)
            prev_dir: Path | None = None
            if previous is None:
                found = find_previous(cluster_dir,
                                      cluster_id=facts.cluster.identity.cluster_id if facts else None)
                if found is not None:
                    previous, prev_dir = found
            # Make room before writing: `keep - 1` old runs and the new one, never the
            # newest complete run (the trend's baseline and what `latest` names). A run
            # it cannot delete is left (and named): housekeeping never costs the audit.
            base = run_dir_name(report.scan.started)
            suffix = _next_suffix(cluster_dir, base)       # before retention frees any name
            pruned = prune(cluster_dir, keep - 1, protect=latest_complete(cluster_dir), not_deleted=not_pruned)
            run_dir = _new_run_dir(cluster_dir, base, suffix)
            written = _write_run(report, run_dir, formats, previous, write_reports, report_options or {})
            if report.scan.complete:
                update_latest(cluster_dir, run_dir.name)
    except OSError as exc:
        raise ReportsNotWritten(run_dir, exc, pruned, not_pruned) from exc
    return ScheduledRun(report=report, run_dir=run_dir, written=written, previous_dir=prev_dir,
                        pruned=pruned, interrupted=None, not_pruned=not_pruned)


class ReportsNotWritten(Exception):
    """The reports could not be written (volume full, read-only, permission)."""

    def __init__(self, where: Path, cause: OSError, pruned: list[Path] | None = None,
                 not_pruned: dict[Path, str] | None = None) -> None:
        what = cause.strerror or str(cause)
        detail = ""
        if pruned is not None:
            detail = (f"; retention first deleted {len(pruned)} old run(s)" if pruned
                      else "; retention had no old run to delete")
        if not_pruned:
            detail += f" and could not delete {len(not_pruned)} ({next(iter(not_pruned.values()))})"
        super().__init__(f"cannot write the reports to {where}: {what}{detail}")
        self.cause = cause


def _sweep_staging(cluster_dir: Path) -> None:
    """Remove staging directories a killed run left behind (never a run directory)."""
    for p in _safe_iterdir(cluster_dir):
        if p.name.startswith(".") and p.name.endswith(_STAGING_SUFFIX) and RUN_DIR_RE.match(
                p.name[1:-len(_STAGING_SUFFIX)]):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def _only_writer(cluster_dir: Path) -> Iterator[bool]:
    """Create `cluster_dir` and hold its writer lock while a run is written
    there; a run that finds it held waits its turn (writing takes seconds). The
    kernel releases the lock of a killed run. Yields False on a volume that
    cannot lock (an NFS mount without a lock manager): the run is still written,
    under a name reserved atomically, but staging directories are left alone,
    since one may be another run's, still being written. Likewise when the
    lock file cannot be created on a full volume."""
    cluster_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(cluster_dir / WRITER_LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o664)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        yield False           # the first run on a full volume: retention still makes room
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS):
                raise
            yield False
        else:
            yield True
    finally:
        os.close(fd)          # releases the lock


def _staging_dir(run_dir: Path) -> Path:
    return run_dir.parent / f".{run_dir.name}{_STAGING_SUFFIX}"


def _next_suffix(cluster_dir: Path, base: str) -> int:
    """0 (the name `base`) or one more than the highest N of the `base` and
    `base-N` runs and staging directories present: a run sorts after every
    earlier run of the same second, also once retention deleted some."""
    highest = -1
    for p in _safe_iterdir(cluster_dir):
        name = p.name
        if name.startswith(".") and name.endswith(_STAGING_SUFFIX):
            name = name[1:-len(_STAGING_SUFFIX)]
        if name == base:
            highest = max(highest, 0)
        elif name.startswith(base + "-") and name[len(base) + 1:].isdigit():
            highest = max(highest, int(name[len(base) + 1:]))
    return highest + 1


def _new_run_dir(cluster_dir: Path, base: str, n: int = 0) -> Path:
    """The run's directory (`base`, else `base-N` from `n` on), reserved by
    creating its staging directory: mkdir is atomic, so two runs started in the
    same second never share a directory, even without the writer lock."""
    while True:
        candidate = cluster_dir / (f"{base}-{n}" if n else base)
        n += 1
        if candidate.exists():
            continue
        try:
            _staging_dir(candidate).mkdir()
        except FileExistsError:
            continue
        if candidate.exists():       # renamed into place between the two looks
            _staging_dir(candidate).rmdir()
            continue
        return candidate


def _write_run(report: Report, run_dir: Path, formats: Iterable[str], previous: Report | None,
               write_reports: Callable[..., list[Path]], options: dict[str, Any] | None = None) -> list[Path]:
    """Render into the run's hidden staging directory (made by `_new_run_dir`),
    then rename it into place: a run directory exists only once every file of
    it is written."""
    from kaudit.report import write_atomic
    staging = _staging_dir(run_dir)
    try:
        written = write_reports(report, staging, formats=list(formats), previous=previous, **(options or {}))
        if not report.scan.complete:
            # Flagged where an operator looks (`ls`); `latest` keeps naming the last complete run.
            write_atomic(staging / INCOMPLETE_FILE,
                         ("".join(f"{r}\n" for r in report.scan.incomplete_reasons) or "incomplete\n").encode())
        os.rename(staging, run_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [run_dir / p.name for p in written]
