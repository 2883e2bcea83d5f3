"""Write a report directory: report.json, report.html, junit.xml, SHA256SUMS.

`write_reports` (used by `kaudit render` and inside staging directories)
renders every format first (each into a hidden temporary file), so a
formatter that fails leaves the previous files untouched; the files are then
renamed into place and the checksums written last.

`replace_report_dir` (`kaudit scan --output-dir`, `kaudit render`) replaces
the directory's reports as one set: the new set is written into a hidden staging directory
beside it, and the two directories are swapped with one atomic rename
(RENAME_EXCHANGE), so a kill -9 at any moment leaves either the old set or the
new one, each matching its SHA256SUMS, never a mix and never a temporary file
inside the directory. Files of the directory that are not kaudit's reports
(saved facts, a user's notes) are carried into the new set as hard links; so
are, for `kaudit render`, the report files it does not rewrite (report.json
itself, a report.pdf when only HTML is rendered), which the new SHA256SUMS
covers too. A directory given through a symlink (--reports-root's `latest`)
is replaced where the link points; the link stays.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from kaudit.gcpause import paused_gc
from kaudit.model import Report
from kaudit.report import Formatter, stage_file
from kaudit.report.html import HtmlFormatter
from kaudit.report.integrity import SIGNATURE_NAME, SUMS_NAME, sign_sha256sums, write_sha256sums
from kaudit.report.json import JsonFormatter
from kaudit.report.junit import JunitFormatter
from kaudit.report.text import TextFormatter

FORMATS = ("json", "html", "junit", "text", "pdf")
DEFAULT_FORMATS = ("json", "html", "junit")


def formatter_for(name: str, previous: Report | None = None,
                  section_titles: Mapping[str, str] | None = None, pdf_edition: str = "findings") -> Formatter:
    if name == "pdf":
        from kaudit.report.pdf import PdfFormatter    # WeasyPrint loads only when a PDF is asked for
        return PdfFormatter(previous=previous, section_titles=section_titles, edition=pdf_edition)
    if name == "json":
        return JsonFormatter()
    if name == "html":
        return HtmlFormatter(previous=previous, section_titles=section_titles)
    if name == "junit":
        return JunitFormatter()
    if name == "text":
        return TextFormatter()
    raise ValueError(f"unknown report format {name!r}; choose from {', '.join(FORMATS)}")


def write_reports(report: Report, output_dir: Path | str,
                  formats: Iterable[str] = DEFAULT_FORMATS,
                  previous: Report | None = None,
                  section_titles: Mapping[str, str] | None = None,
                  pdf_edition: str = "findings",
                  report_json_sha256: str | None = None,
                  sign_key=None) -> list[Path]:
    """Render `formats` into `output_dir`; returns the files written, SHA256SUMS last.

    report.json is rendered first, and its SHA-256 is shown in the HTML and
    PDF written with it (`report_json_sha256` gives it when report.json is
    not among the formats, as in `kaudit render` in place). SHA256SUMS covers
    every report file in the directory; with `sign_key` (a paramiko PKey) it is
    signed (SHA256SUMS.sig), and a signature it would no longer match is removed.
    """
    output_dir = Path(output_dir)
    names = list(dict.fromkeys(formats))          # keep order, drop duplicates
    if not names:
        raise ValueError("no report format selected")
    names.sort(key=lambda n: n != "json")         # report.json first: its digest goes into the others
    formatters = [formatter_for(n, previous, section_titles, pdf_edition) for n in names]
    # One format in memory at a time (at 150,000 pods report.json and junit.xml
    # are ~170 MB each): each is rendered into a hidden temporary file, and
    # only when every format rendered are they renamed into place.
    created = not output_dir.exists()
    staged: list[tuple[Path, str]] = []
    try:
        with paused_gc():      # rendering 150,000 results allocates millions of acyclic objects
            for f in formatters:
                path = output_dir / f.filename
                if hasattr(f, "report_json_sha256"):
                    f.report_json_sha256 = report_json_sha256
                data = f.render(report)
                if f.name == "json":
                    report_json_sha256 = hashlib.sha256(data).hexdigest()
                staged.append((path, stage_file(path, data)))
                del data
        for path, tmp in staged:
            os.replace(tmp, path)
    except BaseException:
        for _, tmp in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        if created:
            try:
                output_dir.rmdir()          # only if still empty: never remove a user's files
            except OSError:
                pass
        raise
    written = [path for path, _ in staged]
    written.append(write_sha256sums(output_dir, report_set_files(output_dir)))
    if sign_key is not None:
        written.append(sign_sha256sums(output_dir, sign_key))
    else:
        try:
            (output_dir / SIGNATURE_NAME).unlink()     # it signed the SHA256SUMS just replaced
        except FileNotFoundError:
            pass
    return written


# Every file a report set can hold, report.json first (SHA256SUMS order).
REPORT_SET = ("report.json", "report.html", "junit.xml", "report.pdf", "report.txt")
# The file each format writes (each formatter's `filename`).
FORMAT_FILES = {"json": "report.json", "html": "report.html", "junit": "junit.xml", "pdf": "report.pdf",
                "text": "report.txt"}


def report_set_files(directory: Path) -> list[str]:
    """The report files present in `directory`: SHA256SUMS covers all of them,
    also those a `kaudit render` in place did not rewrite."""
    return [name for name in REPORT_SET if (directory / name).is_file()]


# Names kaudit writes into a report directory; everything else in it is carried over.
REPORT_NAMES = frozenset(REPORT_SET) | {SUMS_NAME, SIGNATURE_NAME}
_NEW, _OLD = "kaudit-new", "kaudit-old"


def replace_report_dir(report: Report, output_dir: Path | str,
                       formats: Iterable[str] = DEFAULT_FORMATS,
                       previous: Report | None = None,
                       section_titles: Mapping[str, str] | None = None,
                       keep_other_reports: bool = False, **options) -> list[Path]:
    """Write `formats` as the new set of reports in `output_dir` (see the module
    docstring; `options` go to write_reports). Returns the files written,
    SHA256SUMS last. On an error (disk full, read-only, permission) the old set
    is left as it was. `keep_other_reports` (`kaudit render`): the old set's
    report files that `formats` do not rewrite stay in the new set."""
    # Through a symlink: swap the directory it names, never the link itself.
    output_dir = Path(os.path.realpath(output_dir))
    names = list(formats)
    rewritten = {FORMAT_FILES.get(n, n) for n in names}
    keep = frozenset(n for n in REPORT_SET if n not in rewritten) if keep_other_reports else frozenset()
    parent = output_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover_report_dir(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(output_dir))
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.{_NEW}.", dir=parent))
    try:
        if output_dir.is_dir():
            os.chmod(staging, output_dir.stat().st_mode & 0o7777)
            _carry_over(output_dir, staging, keep)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(staging, 0o777 & ~umask)
        written = write_reports(report, staging, formats=names, previous=previous,
                                section_titles=section_titles, **options)
        _fsync_dir(staging)
        _swap_into_place(staging, output_dir)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)      # now the old set
    return [output_dir / p.name for p in written]


def recover_report_dir(output_dir: Path) -> None:
    """Undo what a killed `replace_report_dir` left beside `output_dir`: a
    staging directory is removed; the old set moved aside by the fallback swap
    is put back when the new one never arrived."""
    parent = output_dir.parent
    try:
        leftovers = sorted(p for p in parent.iterdir() if p.name.startswith(f".{output_dir.name}."))
    except FileNotFoundError:
        return
    for p in leftovers:
        kind = p.name[len(output_dir.name) + 2:].split(".", 1)[0]
        if kind == _OLD and not output_dir.exists():
            os.rename(p, output_dir)
        elif kind in (_NEW, _OLD):
            shutil.rmtree(p, ignore_errors=True)


def _carry_over(old: Path, new: Path, keep: frozenset[str] = frozenset()) -> None:
    for entry in old.iterdir():
        if entry.name in keep and entry.is_file() and not entry.is_symlink():
            _link_or_copy(entry, new / entry.name)
            continue
        if entry.name in REPORT_NAMES or entry.name.startswith(tuple(f".{n}." for n in REPORT_NAMES)):
            continue
        target = new / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:       # a file system without hard links, or protected_hardlinks
        shutil.copy2(src, dst)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2      # linux/fs.h


def _swap_into_place(staging: Path, output_dir: Path) -> None:
    """Make `staging` be `output_dir`; afterwards `staging` holds the old set."""
    if not output_dir.exists():
        os.rename(staging, output_dir)
        return
    if _rename_exchange(staging, output_dir):
        return
    # Without RENAME_EXCHANGE: move the old set aside, then the new one in. A
    # kill between the two renames leaves the old set beside the directory,
    # which the next run puts back (recover_report_dir).
    aside = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.{_OLD}.", dir=output_dir.parent))
    os.rmdir(aside)
    os.rename(output_dir, aside)
    os.rename(staging, output_dir)
    os.rename(aside, staging)


def _rename_exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): swap two paths atomically (Linux 3.15+; most
    local file systems). False when the platform or file system lacks it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))
