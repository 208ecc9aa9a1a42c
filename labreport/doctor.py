"""``labreport doctor``: whether this machine has what a build needs, and the fix for each
missing piece, so a user need not read a traceback from deep inside WeasyPrint to learn that
Pango or a font is missing.

Versions are read from package metadata (nothing heavy is imported) except WeasyPrint, which is
imported: loading it is the only sure test that Pango loads.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

# The fonts the built-in themes name first (templates/common: --body-font, --mono-font).
THEME_FONTS = ("DejaVu Sans", "DejaVu Sans Mono")
MIN_PYTHON = (3, 11)
MIN_WEASYPRINT = 68  # weasyprint.URLFetcher (pdf.py)
APT_FIX = "sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"
TORCH_FIX = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class Finding:
    """One line of the report: ``needed`` pieces that are not ``ok`` fail the doctor."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    needed: bool = True


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def python() -> Finding:
    ok = sys.version_info[:2] >= MIN_PYTHON
    fix = None if ok else "install Python 3.11 or later"
    return Finding("Python", ok, sys.version.split()[0], fix)


def weasyprint() -> list[Finding]:
    """WeasyPrint's version, then whether it loads Pango (and which Pango)."""
    version = _version("weasyprint")
    if version is None:
        return [Finding("WeasyPrint", False, "missing", "pip install 'weasyprint>=68'")]
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    found = [
        Finding(
            "WeasyPrint", major >= MIN_WEASYPRINT, version,
            None if major >= MIN_WEASYPRINT else "pip install 'weasyprint>=68'",
        )
    ]  # fmt: skip
    try:
        from weasyprint.text.ffi import pango

        number = int(pango.pango_version())
    except (OSError, ImportError, AttributeError) as exc:  # the library did not load
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        found.append(Finding("Pango", False, f"does not load: {reason}", APT_FIX))
        return found
    major_p, minor_p, micro_p = number // 10000, number // 100 % 100, number % 100
    found.append(Finding("Pango", True, f"{major_p}.{minor_p}.{micro_p}"))
    return found


def fonts() -> list[Finding]:
    """Each font the themes use, as fontconfig resolves it (a substitute is not it)."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return [
            Finding("fonts", False, "fontconfig's fc-match not found", "apt install fontconfig")
        ]
    found = []
    for family in THEME_FONTS:
        try:
            out = subprocess.run(
                [fc_match, "-f", "%{family}|%{file}", family],
                capture_output=True, text=True, timeout=10, check=False,
            ).stdout  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        families, _, file = out.partition("|")
        ok = family in families.split(",")
        detail = file if ok else f"missing (fontconfig substitutes {families or 'nothing'})"
        found.append(Finding(family, ok, detail, None if ok else "apt install fonts-dejavu-core"))
    return found


def course_stack() -> list[Finding]:
    """torch, numpy, matplotlib: the course's programs need them, labreport does not."""
    found = []
    for dist in ("torch", "numpy", "matplotlib"):
        version = _version(dist)
        fix = None
        if version is None:
            fix = TORCH_FIX if dist == "torch" else "pip install 'labreport[course]'"
        found.append(Finding(dist, version is not None, version or "missing", fix, needed=False))
    return found


def confinement() -> list[Finding]:
    """What sandbox.py can use here: Landlock, and a private /dev/shm (user namespaces)."""
    from labreport import sandbox
    from labreport.child.confine import landlock_abi

    abi = landlock_abi()
    shm = sandbox.private_shm_works()
    return [
        Finding(
            "Landlock", abi > 0, f"ABI {abi}" if abi else "not available",
            None if abi else "Linux 5.13 or later with Landlock enabled (programs still run, "
            "unconfined)", needed=False,
        ),
        Finding(
            "user namespaces", shm, "private /dev/shm per program" if shm else "not available",
            None if shm else "allow unprivileged user namespaces (sysctl "
            "kernel.unprivileged_userns_clone=1); programs still run, sharing /dev/shm",
            needed=False,
        ),
    ]  # fmt: skip


def cache() -> Finding:
    """The current project's caches, if there is a project here."""
    from labreport.errors import LabreportError
    from labreport.housekeeping import human_size, summarise
    from labreport.project import find_project

    try:
        project = find_project()
    except LabreportError:
        return Finding("cache", True, "no project here", needed=False)
    summary = summarise(project)
    detail = (
        f"{len(summary.entries)} run(s), {human_size(summary.size)}; "
        f"{summary.formulas} formula drawing(s), {human_size(summary.formula_bytes)}"
    )
    return Finding("cache", True, detail, "labreport cache prune" if summary.entries else None,
                   needed=False)  # fmt: skip


CHECKS: tuple[Callable[[], Finding | list[Finding]], ...] = (
    python, weasyprint, fonts, course_stack, confinement, cache,
)  # fmt: skip


def examine() -> list[Finding]:
    """Every finding, in the order of :data:`CHECKS`."""
    found: list[Finding] = []
    for check in CHECKS:
        result = check()
        found += result if isinstance(result, list) else [result]
    return found
