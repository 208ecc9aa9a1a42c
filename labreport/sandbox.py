"""What crosses into a program's process: its environment, and the folders it may write in.

A lab record is built from code that students and strangers wrote, often on a teacher's machine
or in CI with secrets in the environment. So a program gets an allow-listed environment: what
Python and its libraries need to start and find their files, the locale, the settings that pick
numeric kernels, labreport's own variables, and whatever the spec (``pass_env:``) or
``labreport.toml`` (``[run] pass_env``) names -- never a token it was not given by name.

And it may write only in its scratch copy, its results folder and a temp folder of its own
(plus the machine's temp folders when no protected folder lies inside them): the harness
enforces that inside the program's process (:mod:`labreport.child.confine`), where this module
only says which folders.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

from labreport.child.confine import landlock_abi
from labreport.fingerprint import NUMERIC_SETTINGS
from labreport.protocol import (
    FIGURE_LIMIT_ENV,
    MPL_BACKEND,
    PARENT_PID_ENV,
    RESULTS_ENV,
    RUN_TOKEN_ENV,
)
from labreport.results import RunLimits

#: Variables of labreport's environment that every program receives, if set: where programs and
#: libraries are (PATH, PYTHONPATH, LD_LIBRARY_PATH), whose home and locale, where matplotlib
#: and torch keep their caches, which GPUs, and what selects numeric kernels (so a run computes
#: as its provenance line says).
PASSED_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ",
    "PYTHONPATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV",
    "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "TORCH_HOME",
    "CUDA_VISIBLE_DEVICES", *NUMERIC_SETTINGS,
)  # fmt: skip
PASSED_PREFIXES = ("LC_",)  # the locale's categories
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


def passed_values(limits: RunLimits) -> dict[str, str]:
    """The values of the variables the program receives by name (``pass_env``) that are set
    here: what a run on another machine must take along (they are in its cache key)."""
    return {name: os.environ[name] for name in limits.pass_env if name in os.environ}


def program_env(
    limits: RunLimits,
    results: Path | None = None,
    token: str = "",
    tmp: Path | None = None,
    passed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a program's process (without ``results``, ``token`` and
    ``tmp``: of the warm interpreter that programs are forked from). ``passed``: the values of
    the ``pass_env`` variables, where they come from the machine that builds (a Dask worker's
    job), not from this process's environment."""
    source = os.environ
    env = {
        name: value
        for name, value in source.items()
        if name in PASSED_ENV or name.startswith(PASSED_PREFIXES) or name in limits.pass_env
    }
    if passed is not None:
        for name in limits.pass_env:
            env.pop(name, None)
        env.update({name: passed[name] for name in limits.pass_env if name in passed})
    threads = str(limits.threads)
    env.update(
        MPLBACKEND=MPL_BACKEND,
        PYTHONUNBUFFERED="1",
        PYTHONHASHSEED="0",
        PYTHONIOENCODING="utf-8",
        PYTHONDONTWRITEBYTECODE="1",
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        OPENBLAS_NUM_THREADS=threads,
        **{FIGURE_LIMIT_ENV: str(limits.figure_limit), PARENT_PID_ENV: str(os.getpid())},
    )
    if results is not None:
        env[RESULTS_ENV] = str(results)
    if token:
        env[RUN_TOKEN_ENV] = token
    if tmp is not None:
        env["TMPDIR"] = str(tmp)  # tempfile, multiprocessing and torch put their files there
    return importable(env)


def importable(env: dict[str, str]) -> dict[str, str]:
    """``env`` in which a new interpreter started with ``-P`` (the current folder kept off
    ``sys.path``, so a ``random.py`` there cannot shadow the standard library) still imports
    this labreport, when it runs from a source checkout rather than an installed package."""
    if _PACKAGE_PARENT not in site.getsitepackages():
        parts = [_PACKAGE_PARENT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _matplotlib_cache() -> list[Path]:
    """Where matplotlib keeps its font cache (as matplotlib finds it on Linux, not importing it):
    a program that finds no cache writes one there, and must not fail for it."""
    configured = os.environ.get("MPLCONFIGDIR")
    if configured:
        return [Path(configured)]
    try:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except (RuntimeError, KeyError):  # no home directory: matplotlib uses a temp folder
        return []
    return [cache / "matplotlib"]


def system_temp_folders() -> list[Path]:
    """The machine's temp folders, where programs are used to writing scratch files."""
    found = {Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")}
    return sorted(path for path in found if path.is_dir())


def writable_folders(own: Sequence[Path], protected: Iterable[Path]) -> tuple[str, ...]:
    """``own`` (the run's working, results and temp folders), matplotlib's cache, and each
    system temp folder that holds none of ``protected`` (the project, the output folder): a
    project kept in /tmp is not left writable through /tmp."""
    shielded = list(protected)
    folders = [*own, *_matplotlib_cache()]
    for temp in system_temp_folders():
        if not any(_inside(path, temp) for path in shielded):
            folders.append(temp)
    return tuple(str(folder) for folder in folders)


@cache
def private_shm_works() -> bool:
    """Whether programs can get a /dev/shm of their own here: tried once per labreport
    process in a throwaway interpreter (~30 ms), because a process whose attempt fails half-way
    (a user namespace granted, its mount refused, as under Ubuntu's AppArmor rules) cannot go
    back, and a program must never pay for the try."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        probe = subprocess.run(
            [sys.executable, "-P", "-m", "labreport.child.confine"],
            env=importable(dict(os.environ)), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def confinement_warning() -> str | None:
    """One line when this machine cannot keep programs to their folders, else None."""
    if landlock_abi() > 0:
        return None
    return (
        "programs are not confined to their folders: this system has no Landlock (Linux 5.13 "
        "or later), so a program can write wherever you can"
    )
