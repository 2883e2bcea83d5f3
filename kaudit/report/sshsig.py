"""SSH signatures (OpenSSH's SSHSIG format) made and checked with paramiko.

The format `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify` checks
(OpenSSH PROTOCOL.sshsig), so an auditor can verify a report set with the
tools they already have:

    ssh-keygen -Y verify -f allowed_signers -I PRINCIPAL -n kaudit-report \\
        -s SHA256SUMS.sig < SHA256SUMS

The signature covers H(message) with SHA-512, the namespace and the
algorithm, never the message itself, so a signature made for one purpose
(a git commit, a file) cannot be replayed as a report signature.
"""
from __future__ import annotations

import base64
import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path

import paramiko
from paramiko.message import Message

NAMESPACE = "kaudit-report"
MAGIC = b"SSHSIG"
VERSION = 1
HASH = "sha512"
BEGIN, END = "-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----"
MAX_SIGNATURE_BYTES = 64 * 1024


class SignatureError(ValueError):
    pass


def load_private_key(path: Path | str, passphrase: str | None = None) -> paramiko.PKey:
    """An OpenSSH/PEM private key (Ed25519, ECDSA or RSA)."""
    try:
        return paramiko.PKey.from_path(str(path), password=passphrase or None)
    except paramiko.PasswordRequiredException:
        raise SignatureError(f"{path}: the key is encrypted; set KAUDIT_SIGN_KEY_PASSPHRASE") from None
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise SignatureError(f"{path}: not a usable SSH private key ({type(exc).__name__}: {str(exc)[:200]})") from None


def _to_sign(message: bytes, namespace: str, hash_alg: str = HASH) -> bytes:
    """What an SSHSIG signature covers: the namespace, the hash algorithm and H(message)."""
    m = Message()
    m.add_bytes(MAGIC)
    m.add_string(namespace)
    m.add_string(b"")                      # reserved
    m.add_string(hash_alg)
    m.add_string(hashlib.new(hash_alg, message).digest())
    return m.asbytes()


def sign(message: bytes, key: paramiko.PKey, namespace: str = NAMESPACE) -> str:
    """The armored signature text (`SHA256SUMS.sig`)."""
    # RSA signs with SHA-512 (ssh-keygen refuses SHA-1 "ssh-rsa" signatures).
    algorithm = "rsa-sha2-512" if key.get_name() == "ssh-rsa" else None
    signature = key.sign_ssh_data(_to_sign(message, namespace), algorithm)
    blob = Message()
    blob.add_bytes(MAGIC)
    blob.add_int(VERSION)
    blob.add_string(key.asbytes())
    blob.add_string(namespace)
    blob.add_string(b"")
    blob.add_string(HASH)
    blob.add_string(signature.asbytes() if isinstance(signature, Message) else signature)
    text = base64.b64encode(blob.asbytes()).decode()
    lines = [text[i:i + 70] for i in range(0, len(text), 70)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


@dataclass(frozen=True, slots=True)
class Verified:
    key_type: str
    fingerprint: str          # "SHA256:..." as ssh-keygen -l prints it
    public_key: bytes         # the key blob


def fingerprint(key_blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")


def verify(message: bytes, armored: str, namespace: str = NAMESPACE) -> Verified:
    """Check `armored` over `message`; raises SignatureError naming what is wrong."""
    if len(armored) > MAX_SIGNATURE_BYTES:
        raise SignatureError("signature file too large")
    text = armored.strip()
    if not (text.startswith(BEGIN) and text.endswith(END)):
        raise SignatureError("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)")
    try:
        raw = base64.b64decode("".join(text[len(BEGIN):-len(END)].split()), validate=True)
        if not raw.startswith(MAGIC):
            raise SignatureError("not an SSHSIG blob")
        m = Message(raw[len(MAGIC):])
        version = m.get_int()
        key_blob = m.get_binary()
        sig_namespace = m.get_string().decode()
        m.get_binary()                                      # reserved
        hash_alg = m.get_string().decode()
        signature = m.get_binary()
    except SignatureError:
        raise
    except Exception as exc:                               # truncated or garbled blob
        raise SignatureError(f"malformed signature ({type(exc).__name__})") from None
    if version != VERSION:
        raise SignatureError(f"unsupported signature version {version}")
    if sig_namespace != namespace:
        raise SignatureError(f"signature is for namespace {sig_namespace!r}, not {namespace!r}")
    if hash_alg not in ("sha512", "sha256"):
        raise SignatureError(f"unsupported hash {hash_alg!r}")
    key_type = Message(key_blob).get_string().decode(errors="replace")
    try:
        key = paramiko.PKey.from_type_string(key_type, key_blob)
    except Exception:                      # any key paramiko cannot load is refused (fail closed)
        raise SignatureError(f"unsupported or malformed signing key ({key_type})") from None
    try:
        ok = key.verify_ssh_sig(_to_sign(message, namespace, hash_alg), Message(signature))
    except Exception:                      # a malformed signature blob does not verify (fail closed)
        ok = False
    if not ok:
        raise SignatureError("signature does not match (the signed file was changed, or another key signed it)")
    return Verified(key_type=key_type, fingerprint=fingerprint(key_blob), public_key=key_blob)


def allowed_principals(allowed_signers: str, key_blob: bytes, namespace: str = NAMESPACE) -> list[str]:
    """Principals an allowed_signers file (ssh-keygen ALLOWED SIGNERS format)
    grants to `key_blob` for `namespace`. Certificate authorities are not
    supported: a `cert-authority` line matches nothing."""
    out: list[str] = []
    for line in allowed_signers.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            fields = shlex.split(line)
        except ValueError:
            continue
        if len(fields) < 3:
            continue
        principals, rest = fields[0], fields[1:]
        options: dict[str, str] = {}
        if not rest[0].startswith(("ssh-", "ecdsa-", "sk-")):
            for opt in rest[0].split(","):
                name, _, value = opt.partition("=")
                options[name.lower()] = value.strip('"')
            rest = rest[1:]
        if len(rest) < 2 or "cert-authority" in options:
            continue
        try:
            blob = base64.b64decode(rest[1], validate=True)
        except ValueError:
            continue
        if blob != key_blob:
            continue
        if "namespaces" in options and namespace not in options["namespaces"].split(","):
            continue
        out.extend(p for p in principals.split(",") if p)
    return out


def public_key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"
