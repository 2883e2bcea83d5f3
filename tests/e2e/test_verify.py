"""Integrity an auditor can check: SHA256SUMS over the whole report set,
signed with an SSH key (`--sign-key`), checked by `kaudit verify` and by the
real `ssh-keygen -Y verify`, both ways round."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kaudit.report import sshsig

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SSH_KEYGEN = shutil.which("ssh-keygen")
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen (openssh-client) not installed")


def kaudit(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kaudit", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env)


def keypair(tmp_path: Path, kind: str = "ed25519", name: str = "signer") -> tuple[Path, str]:
    key = tmp_path / f"{name}_{kind}"
    subprocess.run([SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, Path(f"{key}.pub").read_text().split(" ", 2)[:2]


def allowed_signers(tmp_path: Path, principal: str, pub: list[str]) -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(f'{principal} namespaces="kaudit-report" {pub[0]} {pub[1]}\n')
    return path


@pytest.fixture(scope="module")
def signed_demo(tmp_path_factory):
    if SSH_KEYGEN is None:
        pytest.skip("ssh-keygen not installed")
    tmp = tmp_path_factory.mktemp("signed")
    key, pub = keypair(tmp)
    out = tmp / "report"
    proc = kaudit("scan", "--demo", "--output-dir", str(out), "--fail-on", "never", "-q", "--sign-key", str(key))
    assert proc.returncode == 0, proc.stderr
    return out, key, pub, tmp


@needs_ssh_keygen
def test_signed_report_verifies_with_kaudit_and_with_ssh_keygen(signed_demo):
    out, key, pub, tmp = signed_demo
    signers = allowed_signers(tmp, "auditor@example.com", pub)
    proc = kaudit("verify", str(out), "--allowed-signers", str(signers))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("OK:")
    assert "signed by auditor@example.com" in proc.stdout
    real = subprocess.run([SSH_KEYGEN, "-Y", "verify", "-f", str(signers), "-I", "auditor@example.com",
                           "-n", "kaudit-report", "-s", str(out / "SHA256SUMS.sig")],
                          input=(out / "SHA256SUMS").read_bytes(), capture_output=True)
    assert real.returncode == 0, real.stderr
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out).returncode == 0


@needs_ssh_keygen
def test_an_edited_report_with_recomputed_sums_fails_the_signature(signed_demo, tmp_path):
    out, key, pub, tmp = signed_demo
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    report = copy / "report.json"
    report.write_text(report.read_text().replace('"FAIL"', '"PASS"'))
    # The forger recomputes the checksums: sums agree, the signature does not.
    subprocess.run("sha256sum report.json report.html junit.xml > SHA256SUMS", shell=True, cwd=copy, check=True)
    proc = kaudit("verify", str(copy))
    assert proc.returncode == 1 and proc.stdout.startswith("FAILED: SHA256SUMS.sig: signature does not match")


def test_an_edited_file_fails_the_checksums(tmp_path):
    out = tmp_path / "r"
    assert kaudit("scan", "--demo", "--output-dir", str(out), "--fail-on", "never", "-q").returncode == 0
    assert kaudit("verify", str(out)).stdout.startswith("OK:")
    (out / "report.html").write_text((out / "report.html").read_text() + "<!-- edited -->")
    proc = kaudit("verify", str(out))
    assert proc.returncode == 1 and "report.html" in proc.stdout


@needs_ssh_keygen
def test_a_key_not_in_allowed_signers_is_refused(signed_demo, tmp_path):
    out, _, _, _ = signed_demo
    _, other = keypair(tmp_path, name="other")
    proc = kaudit("verify", str(out), "--allowed-signers", str(allowed_signers(tmp_path, "x@y", other)))
    assert proc.returncode == 1 and "is not in the allowed signers" in proc.stdout


@needs_ssh_keygen
def test_allowed_signers_requires_a_signature(tmp_path):
    out = tmp_path / "r"
    assert kaudit("scan", "--demo", "--output-dir", str(out), "--fail-on", "never", "-q").returncode == 0
    _, pub = keypair(tmp_path)
    proc = kaudit("verify", str(out), "--allowed-signers", str(allowed_signers(tmp_path, "a@b", pub)))
    assert proc.returncode == 1 and "SHA256SUMS.sig is missing" in proc.stdout


@needs_ssh_keygen
@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_ssh_keygen_signatures_verify_here_and_ours_verify_there(tmp_path, kind):
    key, pub = keypair(tmp_path, kind)
    message = b"0123abcd  report.json\n"
    (tmp_path / "msg").write_bytes(message)
    subprocess.run([SSH_KEYGEN, "-Y", "sign", "-f", str(key), "-n", "kaudit-report", str(tmp_path / "msg")],
                   check=True, capture_output=True)
    verified = sshsig.verify(message, (tmp_path / "msg.sig").read_text())
    assert verified.key_type == pub[0]
    ours = sshsig.sign(message, sshsig.load_private_key(key))
    (tmp_path / "ours.sig").write_text(ours)
    signers = allowed_signers(tmp_path, "me@here", pub)
    real = subprocess.run([SSH_KEYGEN, "-Y", "verify", "-f", str(signers), "-I", "me@here", "-n", "kaudit-report",
                           "-s", str(tmp_path / "ours.sig")], input=message, capture_output=True)
    assert real.returncode == 0, real.stderr
    with pytest.raises(sshsig.SignatureError, match="namespace"):
        sshsig.verify(message, sshsig.sign(message, sshsig.load_private_key(key), namespace="git"))


def test_render_in_place_keeps_every_file_covered_and_drops_a_stale_signature(tmp_path):
    out = tmp_path / "r"
    assert kaudit("scan", "--demo", "--output-dir", str(out), "--fail-on", "never", "-q").returncode == 0
    (out / "SHA256SUMS.sig").write_text("stale")
    proc = kaudit("render", str(out / "report.json"), "--format", "html")
    assert proc.returncode == 0, proc.stderr
    listed = [line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()]
    assert listed == ["report.json", "report.html", "junit.xml"]
    assert not (out / "SHA256SUMS.sig").exists()
    assert kaudit("verify", str(out)).returncode == 0


def test_bad_sign_key_is_a_usage_error_before_scanning(tmp_path):
    bad = tmp_path / "key"
    bad.write_text("not a key")
    proc = kaudit("scan", "--demo", "--output-dir", str(tmp_path / "r"), "--sign-key", str(bad))
    assert proc.returncode == 2 and "--sign-key" in proc.stderr and not (tmp_path / "r").exists()
