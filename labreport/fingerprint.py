"""Fingerprints: what a run's results depend on besides the spec -- library versions, the
runner's version, the CPU and its numeric-kernel settings, and the experiment folder's files.

A leaf (nothing of labreport is imported), read by the run cache for its keys, by the build
state for "up to date", by the formula cache and by the record's provenance line. Reading them
imports nothing heavy: versions come from the installed metadata, not from importing NumPy.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import platform
import sys
from functools import cache
from pathlib import Path

# Bump when what a run captures, or how, changes: cached results from older runners are redone.
RUNNER_VERSION = "6"  # 6: confined runs; values, reports and figures read within limits
LIBRARIES = ("numpy", "torch", "matplotlib")  # whose versions key the cache and the record
# Not inputs of a run: caches, and what editors leave beside the file being edited (vim's
# .x.swp, emacs's x~ and .#x, macOS's .DS_Store), rewritten while one types. Digests, scratch
# copies and serve's watch all skip them, so a long training is not re-run for a keystroke.
SKIPPED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints"})
SKIPPED_FILES = ("*.pyc", "*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", ".DS_Store")


def skipped_file(name: str) -> bool:
    """Whether a file named ``name`` is an editor's or a cache's, not an input."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in SKIPPED_FILES)


# Environment variables that select other numeric kernels, so other float rounding, on the same
# CPU (../shared/tools/stranger-machine.sh uses the first three).
NUMERIC_SETTINGS = (
    "ATEN_CPU_CAPABILITY",
    "OPENBLAS_CORETYPE",
    "NPY_DISABLE_CPU_FEATURES",
    "NPY_ENABLE_CPU_FEATURES",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
)


@cache
def environment_fingerprint() -> dict[str, str]:
    """Versions that change what a program computes (read from metadata, nothing imported),
    the CPU and the settings that pick other numeric kernels on it."""
    versions = {"python": platform.python_version(), "runner": RUNNER_VERSION}
    for name in LIBRARIES:
        versions[name] = installed_version(name)
    return {**versions, **machine_fingerprint()}


def installed_version(name: str) -> str:
    """The version of the distribution ``name`` that ``import name`` would find, or "absent".

    The ``*.dist-info`` folder names on ``sys.path`` say it without importing anything; only
    when that fails is :mod:`importlib.metadata` asked, which alone costs ~30 ms to import —
    a tenth of a no-op build.
    """
    prefix = name.replace("-", "_").lower() + "-"
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                found = [
                    item.name for item in listing
                    if item.name.lower().startswith(prefix) and item.name.endswith(".dist-info")
                ]  # fmt: skip
        except OSError:
            continue
        if len(found) == 1:
            return found[0][len(prefix) : -len(".dist-info")]
        if found:
            break  # several versions in one folder: let importlib.metadata decide
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def folder_digest(folder: Path, *, skip: frozenset[str]) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path → digest), the spec excluded."""
    digests = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIPPED_DIRS for part in rel.parts) or str(rel) in skip:
            continue
        if skipped_file(path.name):
            continue
        if path.is_file():
            digests[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


@cache
def cpu_model() -> str:
    """The CPU's model name and architecture, e.g. ``Intel(R) Xeon(R) Platinum 8488C (x86_64)``."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model", "uarch"):
                    name = " ".join(value.split())
                    break
    except OSError:
        pass
    name = name or platform.processor()
    machine = platform.machine()
    return f"{name} ({machine})" if name and machine and machine not in name else name or machine


@cache
def machine_fingerprint() -> dict[str, str]:
    """The CPU and the numeric-kernel settings in force: part of every run's cache key."""
    fingerprint = {"cpu": cpu_model()}
    for name in NUMERIC_SETTINGS:
        if os.environ.get(name):
            fingerprint[name] = os.environ[name]
    return fingerprint
