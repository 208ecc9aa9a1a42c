from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Records carry their build date: fix it, as a reproducible build would, so that two builds in
# one test compare equal even across midnight (tests/test_verify.py checks the date shown).
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01

# A shell without job control starts background commands with SIGINT ignored, and that is
# inherited through exec: labreport started by such a suite (a CI script run with `&`) would
# never see the Ctrl-C the tests send it. A handler, unlike SIG_IGN, is reset to the default in
# every program a test starts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist 3.8+: --no-loadscope-reorder
        config.option.loadscopereorder = False  # hand out files in the order given below


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of slow tests first, then the others from the most tests to the fewest.

    pytest-xdist hands out whole files (``--dist loadfile``) in this order. Left to itself it
    sends the files with the fewest tests last, and the one-test files that build a course's
    torch experiments (tens of seconds each) then start at the very end, while the other worker
    has nothing left to do.
    """
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    slow = {
        name for name, tests in files.items() if any(t.get_closest_marker("slow") for t in tests)
    }
    order = sorted(files, key=lambda name: (name not in slow, -len(files[name])))
    items[:] = [item for name in order for item in files[name]]


REPO = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"
PROJECTS = Path(__file__).resolve().parent / "projects"


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """chdir for module-scoped fixtures, where monkeypatch is not available."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@dataclass(frozen=True)
class Channel:
    """A folder that a test and the programs it builds both write in. Programs may write only in
    the machine's temp folders that hold no project (#15), and pytest keeps projects in /tmp, so
    the channel lies in a temp folder of its own: run labreport with ``env``, whose TMPDIR it is."""

    folder: Path
    env: dict[str, str]


@pytest.fixture
def channel(tmp_path: Path) -> Channel:
    temp = tmp_path / "temp"
    (temp / "channel").mkdir(parents=True)
    return Channel(temp / "channel", {**os.environ, "TMPDIR": str(temp)})


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


def copy_project(name: str, destination: Path) -> Path:
    """A private copy of ``tests/projects/<name>``, without outputs or caches a run left there."""
    shutil.copytree(
        PROJECTS / name, destination, ignore=shutil.ignore_patterns(".labreport", "build")
    )
    return destination


def copy_course(destination: Path, *ids: str) -> Path:
    """A private copy of the course (labreport.toml and the experiments ``ids``): tests never
    build in the checkout, whose ``.labreport/`` and ``build/`` belong to its user."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "labreport.toml", destination)
    for exp in ids:
        shutil.copytree(
            REPO / "experiments" / exp, destination / "experiments" / exp,
            ignore=shutil.ignore_patterns("__pycache__"),
        )  # fmt: skip
    return destination


def json_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON-like value (keys and list indexes), the value itself first: where
    the fuzz tests mutate a spec or a cache entry."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += json_paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += json_paths(value, (*prefix, i))
    return found


def mutated(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    """``data`` with the item at ``path`` (from :func:`json_paths`) replaced by ``value`` or,
    with ``delete``, removed; the empty path replaces the whole value."""
    if not path:
        return value
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_gone(pids: list[int]) -> list[int]:
    """The pids still alive after a grace period for the kernel to finish the kills."""
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]
