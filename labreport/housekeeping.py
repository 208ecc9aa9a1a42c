"""``labreport cache info|prune|clear``: what the run cache and the formula drawings under
``.labreport/`` hold, and removing what no build will read again, so the cache does not grow
forever. Only files beneath the project's ``.labreport/`` are ever removed, and no symlink is
followed.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from labreport.cache import META_SUFFIX, EntryMeta, read_meta
from labreport.project import Project

# The folders of .labreport/ that `clear` empties: runs, formula drawings, the up-to-date state
# (without it the next build renders again). Not locks/ (a running build holds them).
CLEARED = ("cache", "formulas", "state")
UNKNOWN = "(unknown)"  # entries stored before labreport kept a meta beside them


@dataclass(frozen=True)
class Entry:
    """One stored run: its files and when a build last used it."""

    key: str
    path: Path
    size: int
    used: float
    meta: EntryMeta | None

    @property
    def experiment(self) -> str:
        return self.meta.experiment if self.meta else UNKNOWN


@dataclass
class Summary:
    """What ``cache info`` prints."""

    entries: list[Entry]
    formulas: int
    formula_bytes: int
    per_experiment: dict[str, list[Entry]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.entries)


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def entries(cache_root: Path) -> list[Entry]:
    """Every run stored under ``cache_root`` (``.labreport/cache``), oldest use first."""
    found = []
    for path in cache_root.glob("??/*.json"):
        if path.name.endswith(META_SUFFIX) or not _regular(path):
            continue
        key = path.name.removesuffix(".json")
        meta_path = path.with_name(key + META_SUFFIX)
        stat = path.stat()
        size = stat.st_size + (meta_path.stat().st_size if _regular(meta_path) else 0)
        found.append(Entry(key, path, size, stat.st_mtime, read_meta(meta_path)))
    return sorted(found, key=lambda entry: entry.used)


def _formula_files(project: Project) -> list[Path]:
    return [path for path in (project.work_dir / "formulas").glob("*.json") if _regular(path)]


def summarise(project: Project) -> Summary:
    """Entries, sizes and last uses of the project's caches."""
    runs = entries(project.work_dir / "cache")
    per: dict[str, list[Entry]] = defaultdict(list)
    for entry in runs:
        per[entry.experiment].append(entry)
    formulas = _formula_files(project)
    return Summary(
        runs,
        len(formulas),
        sum(path.stat().st_size for path in formulas),
        dict(sorted(per.items())),
    )


def _remove(entry: Entry) -> None:
    entry.path.unlink(missing_ok=True)
    entry.path.with_name(entry.key + META_SUFFIX).unlink(missing_ok=True)


def current_keys(project: Project) -> set[str]:
    """The key of every run a build of the project's experiments would look up now (specs that
    cannot be read name none)."""
    from labreport.build import Builder, BuildOptions
    from labreport.errors import LabreportError
    from labreport.ids import discover
    from labreport.progress import LineProgress
    from labreport.spec import load_experiment

    builder = Builder(project, BuildOptions(), LineProgress(sys.stderr, quiet=True))
    keys: set[str] = set()
    for exp_id in discover(project.experiments_dir):
        try:
            source = load_experiment(project.experiments_dir / exp_id)
        except LabreportError:
            continue
        keys.update(builder.run_keys(source))
    return keys


def _spec_texts(project: Project) -> str:
    texts = []
    for spec in project.experiments_dir.glob("*/experiment.yaml"):
        try:
            texts.append(spec.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return "\n".join(texts)


@dataclass(frozen=True)
class Pruned:
    runs: int
    run_bytes: int
    formulas: int
    formula_bytes: int


def prune(project: Project, older_than_days: float | None) -> Pruned:
    """Remove the runs no current spec uses (with ``older_than_days``: those no build used for
    that long, whatever the specs) and the formula drawings no spec's text contains.

    A formula whose TeX is filled in from recorded values is not in any spec as drawn: it is
    removed and drawn again by the next build (a cost, never a wrong record).
    """
    runs = entries(project.work_dir / "cache")
    if older_than_days is None:
        keep = current_keys(project)
        stale = [entry for entry in runs if entry.key not in keep]
    else:
        cutoff = time.time() - older_than_days * 86400
        stale = [entry for entry in runs if entry.used < cutoff]
    for entry in stale:
        _remove(entry)
    text = _spec_texts(project)
    dropped = dropped_bytes = 0
    for path in _formula_files(project):
        try:
            tex = str(json.loads(path.read_bytes())["tex"])
        except (OSError, ValueError, KeyError, TypeError):
            tex = None  # unreadable: the next build draws it again
        if tex is None or (tex not in text and tex.replace("\\", "\\\\") not in text):
            size = path.stat().st_size
            path.unlink(missing_ok=True)
            dropped, dropped_bytes = dropped + 1, dropped_bytes + size
    return Pruned(len(stale), sum(entry.size for entry in stale), dropped, dropped_bytes)


def clear(project: Project) -> int:
    """Remove every stored run, formula drawing and up-to-date stamp; the bytes freed."""
    freed = 0
    for name in CLEARED:
        folder = project.work_dir / name
        if folder.is_symlink():
            folder.unlink()  # the link, never what it points to
            continue
        if not folder.is_dir():
            continue
        freed += sum(path.stat().st_size for path in folder.rglob("*") if _regular(path))
        shutil.rmtree(folder)
    return freed


def human_size(size: int) -> str:
    """``1.2 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
