"""SHA256SUMS for a report directory, in the format `sha256sum -c` verifies.

An auditor files the directory; the sums let anyone later show that the HTML
and JUnit they hold are the ones written together with report.json.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from kaudit.report import write_atomic

SUMS_NAME = "SHA256SUMS"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sums_line(digest: str, name: str) -> str:
    # GNU coreutils: a name with a backslash or newline is escaped and the
    # line starts with a backslash; otherwise "<hex>  <name>" (text mode).
    if "\\" in name or "\n" in name or "\r" in name:
        escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {name}\n"


def write_sha256sums(directory: Path | str, filenames: Iterable[str]) -> Path:
    """Write DIRECTORY/SHA256SUMS for `filenames` (relative to the directory,
    in the order given). Returns the path written."""
    directory = Path(directory)
    lines = []
    for name in filenames:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"SHA256SUMS entries must be relative to {directory}: {name!r}")
        lines.append(_sums_line(sha256_file(directory / name), name))
    path = directory / SUMS_NAME
    write_atomic(path, "".join(lines).encode("utf-8"))
    return path


def verify_sha256sums(directory: Path | str) -> dict[str, bool]:
    """name -> whether it still matches; for `kaudit verify` and the tests."""
    directory = Path(directory)
    out: dict[str, bool] = {}
    for line in (directory / SUMS_NAME).read_text(encoding="utf-8").splitlines():
        if not line:
            continue
        escaped = line.startswith("\\")
        digest, _, name = line.lstrip("\\").partition("  ")
        if escaped:
            name = name.replace("\\n", "\n").replace("\\r", "\r").replace("\\\\", "\\")
        try:
            out[name] = sha256_file(directory / name) == digest
        except FileNotFoundError:
            out[name] = False
    return out
