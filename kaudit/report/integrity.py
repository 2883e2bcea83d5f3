"""SHA256SUMS for a report directory, in the format `sha256sum -c` verifies.

An auditor files the directory; the sums let anyone later show that the HTML
and JUnit they hold are the ones written together with report.json.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


SIGNATURE_NAME = "SHA256SUMS.sig"


def sign_sha256sums(directory: Path | str, key) -> Path:
    """Sign DIRECTORY/SHA256SUMS with an SSH key (paramiko PKey): writes
    SHA256SUMS.sig in the format `ssh-keygen -Y verify -n kaudit-report` checks."""
    from kaudit.report.sshsig import sign
    directory = Path(directory)
    path = directory / SIGNATURE_NAME
    write_atomic(path, sign((directory / SUMS_NAME).read_bytes(), key).encode("ascii"))
    return path


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    line: str                    # the one-line verdict `kaudit verify` prints


def verify_report_set(directory: Path | str, allowed_signers: str | None = None,
                      report_files: Iterable[str] = ()) -> Verdict:
    """Check a report directory as an auditor would: every file listed in
    SHA256SUMS matches, report.json is listed first, no report file is left
    out, and (when present or required) the signature is valid and, with an
    allowed-signers file, made by a key it names."""
    from kaudit.report.sshsig import SignatureError, allowed_principals, verify
    directory = Path(directory)
    sums_path = directory / SUMS_NAME
    if not sums_path.is_file():
        return Verdict(False, f"FAILED: {SUMS_NAME} not found in {directory}")
    try:
        results = verify_sha256sums(directory)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return Verdict(False, f"FAILED: {SUMS_NAME} unreadable: {exc}")
    names = list(results)
    bad = [n for n, good in results.items() if not good]
    if bad:
        return Verdict(False, f"FAILED: {len(bad)} file(s) do not match {SUMS_NAME}: {', '.join(bad[:5])}")
    if not names or names[0] != "report.json":
        return Verdict(False, f"FAILED: {SUMS_NAME} does not list report.json first")
    unlisted = [n for n in report_files if (directory / n).is_file() and n not in results]
    if unlisted:
        return Verdict(False, f"FAILED: not covered by {SUMS_NAME}: {', '.join(unlisted)}")
    sig_path = directory / SIGNATURE_NAME
    if not sig_path.is_file():
        if allowed_signers is not None:
            return Verdict(False, f"FAILED: checksums match but {SIGNATURE_NAME} is missing (a signature was required)")
        return Verdict(True, f"OK: {len(names)} file(s) match {SUMS_NAME} (unsigned)")
    try:
        verified = verify(sums_path.read_bytes(), sig_path.read_text(encoding="ascii", errors="replace"))
    except SignatureError as exc:
        return Verdict(False, f"FAILED: {SIGNATURE_NAME}: {exc}")
    if allowed_signers is None:
        return Verdict(True, f"OK: {len(names)} file(s) match {SUMS_NAME}; signature valid, key "
                             f"{verified.key_type} {verified.fingerprint} (signer not checked: no --allowed-signers)")
    principals = allowed_principals(allowed_signers, verified.public_key)
    if not principals:
        return Verdict(False, f"FAILED: signature valid but key {verified.fingerprint} is not in the allowed signers")
    return Verdict(True, f"OK: {len(names)} file(s) match {SUMS_NAME}; signed by {', '.join(principals)} "
                         f"({verified.key_type} {verified.fingerprint})")
