"""Formatters: pure functions of a Report (JSON is the source of truth)."""
from __future__ import annotations

import abc
import os
import tempfile
from pathlib import Path

from kaudit.model import Report


class Formatter(abc.ABC):
    name: str          # "json", "html", "junit", "text"
    filename: str      # "report.json", ...

    @abc.abstractmethod
    def render(self, report: Report) -> bytes:
        ...


def stage_file(path: Path, data: bytes) -> str:
    """Write `data` to a hidden, synced temporary file beside `path` and return
    its name; the caller renames it into place (os.replace is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return tmp


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory and rename, so a
    reader never sees a half-written report."""
    os.replace(stage_file(path, data), path)
