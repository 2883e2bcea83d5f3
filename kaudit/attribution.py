"""Who ran the audit, how, and with what: the report's attribution.

The operator comes from the API server itself (SelfSubjectReview,
authentication.k8s.io/v1: every authenticated user may create one, the
system:basic-user ClusterRole grants it), else from the kubeconfig user. The
command line is recorded with secrets redacted. Inside a pod the image digest
comes from the pod's own status (POD_NAME / POD_NAMESPACE from the downward
API); anywhere else it is "unknown".
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

REDACTED = "<redacted>"
UNKNOWN = "unknown"

# Option names whose value is a secret (--token, --password, --sign-key-passphrase, ...).
_SECRET_OPTION = re.compile(r"^--?[A-Za-z0-9-]*(token|password|passwd|passphrase|secret|credential)[A-Za-z0-9-]*$",
                            re.IGNORECASE)
# NAME=value arguments (environment-style) carrying a secret.
_SECRET_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(TOKEN|PASSWORD|PASSWD|PASSPHRASE|SECRET)[A-Za-z0-9_]*)=",
                                re.IGNORECASE)


def redact_command_line(argv: Sequence[str]) -> list[str]:
    """argv with the values of secret-bearing options, NAME=secret assignments
    and URL passwords replaced by <redacted>. Paths (--sign-key FILE) are kept:
    a key file's name is not its secret."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, eq, _value = arg.partition("=")
        if name.startswith("-") and _SECRET_OPTION.match(name):
            if eq:
                out.append(f"{name}={REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        m = _SECRET_ASSIGNMENT.match(arg)
        if m:
            out.append(f"{m.group(1)}={REDACTED}")
            continue
        out.append(_redact_url_password(arg))
    return out


def _redact_url_password(arg: str) -> str:
    if "://" not in arg or "@" not in arg:
        return arg
    try:
        parts = urlsplit(arg)
    except ValueError:
        return arg
    if parts.password is None:
        return arg
    netloc = f"{parts.username or ''}:{REDACTED}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def catalog_sha256(directory: Path) -> str:
    """SHA-256 over the benchmark's YAML files (name and content, sorted), so a
    report names exactly which catalog judged it."""
    h = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        h.update(path.name.encode() + b"\0")
        data = path.read_bytes()
        h.update(str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def operator_from_review(review: Mapping[str, Any]) -> str | None:
    """The username of a SelfSubjectReview response (status.userInfo.username)."""
    info = ((review.get("status") or {}).get("userInfo") or {}) if isinstance(review, Mapping) else {}
    name = info.get("username") if isinstance(info, Mapping) else None
    return str(name) if name else None


def image_of_pod(pod: Mapping[str, Any], container: str | None = None) -> str | None:
    """The image digest this pod runs (status.containerStatuses[].imageID), for
    `container`, else the only container, else the one named "kaudit"."""
    statuses: Iterable[Mapping[str, Any]] = ((pod.get("status") or {}).get("containerStatuses") or ())
    statuses = [s for s in statuses if isinstance(s, Mapping)]
    chosen = None
    if container:
        chosen = next((s for s in statuses if s.get("name") == container), None)
    elif len(statuses) == 1:
        chosen = statuses[0]
    else:
        chosen = next((s for s in statuses if s.get("name") == "kaudit"), None)
    if not chosen:
        return None
    image_id = str(chosen.get("imageID") or "")
    # "docker-pullable://repo@sha256:..." or "repo@sha256:...": keep repo@digest.
    image_id = image_id.split("://", 1)[-1]
    return image_id or None
