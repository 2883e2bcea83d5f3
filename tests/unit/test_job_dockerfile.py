"""job/Dockerfile and its lock files (no Docker engine or hadolint here: the
properties that matter are asserted on the text)."""
from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "job" / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(l for l in DOCKERFILE.splitlines() if not l.lstrip().startswith("#")))
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def lock(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "job" / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.\-]+", line), f"not an exact pin: {line}"
            n, _, v = line.partition("==")
            pins[n.lower().replace("_", "-")] = v
    return pins


def build_args() -> dict[str, str]:
    """Defaults of the ARGs declared before the first FROM (usable in FROM)."""
    defaults = {}
    for word, args in instructions():
        if word == "FROM":
            break
        if word == "ARG" and "=" in args:
            name, _, value = args.partition("=")
            defaults[name.strip()] = value.strip()
    return defaults


def test_base_images_are_pinned_and_never_latest():
    args_ = build_args()
    froms = [re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args_[m.group(1) or m.group(2)], args.split()[0])
             for word, args in instructions() if word == "FROM"]
    assert froms
    for image in froms:
        assert not image.endswith(":latest") and ":" in image
        tag = image.split("@")[0].rsplit(":", 1)[1]
        # A full version (3.12.8-...) or a digest, never a floating 3.12-slim.
        assert "@sha256:" in image or re.match(r"^\d+\.\d+\.\d+-", tag), image


def test_the_final_stage_runs_as_a_numeric_non_root_user():
    stages = [i for i, (word, _) in enumerate(instructions()) if word == "FROM"]
    final = instructions()[stages[-1]:]
    users = [args for word, args in final if word == "USER"]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0      # numeric, so runAsNonRoot can verify it


def test_pip_never_caches_and_installs_only_pinned_dependencies():
    runs = [args for word, args in instructions() if word == "RUN"]
    pip_calls = [c for r in runs for c in r.split("&&") if "pip install" in c]
    assert pip_calls
    for call in pip_calls:
        assert "--no-cache-dir" in call, call
        assert "--no-deps" in call, call     # nothing outside the lock files is resolved
        # the lock files, the project itself, or the wheel just built from it
        assert "-r job/" in call or call.rstrip().endswith((" .", " /wheels/kaudit-*.whl")), call


def test_both_stages_use_the_one_base_and_the_venv_is_copied_whole():
    """`make image` builds on a local Debian base (--build-arg BASE_IMAGE=...):
    the recipe is the published one only if every stage takes that base and
    the final stage runs what the build stage put in /opt/kaudit."""
    froms = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert froms and all(f == "${BASE_IMAGE}" for f in froms), froms
    stages = [i for i, (word, _) in enumerate(instructions()) if word == "FROM"]
    final = instructions()[stages[-1]:]
    assert ("COPY", "--from=build /opt/kaudit /opt/kaudit") in final
    env = " ".join(args for word, args in final if word == "ENV")
    assert re.search(r"\bPATH=/opt/kaudit/bin:", env), env


def test_copied_paths_exist():
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from"):
            for src in args.split()[:-1]:
                assert (ROOT / src).exists(), src


def test_lock_covers_every_runtime_dependency_at_an_allowed_version():
    """Every distribution the declared dependencies need is pinned, at a version
    pyproject.toml accepts; test tools are not in the image."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lock("requirements.lock")
    needed: set[str] = set()
    todo = [Requirement(r) for r in project["dependencies"]]
    for req in todo:
        name = req.name.lower().replace("_", "-")
        if name in pins:
            assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in needed:
            continue
        needed.add(name)
        for sub in md.distribution(req.name).requires or ():
            r = Requirement(sub)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(r)
    assert needed <= set(pins), f"missing from job/requirements.lock: {sorted(needed - set(pins))}"
    assert not {"pytest", "pytest-mock", "hypothesis", "kubernetes-validate"} & set(pins)
    build = lock("build-requirements.lock")
    assert "setuptools" in build
    build_requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for r in map(Requirement, build_requires):
        assert r.specifier.contains(build[r.name.lower()]), r
