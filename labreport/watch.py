"""Wait for a change to the files a preview depends on: file-system notifications through
watchfiles, or polling their modification times when notifications are not to be had.

Why two ways: notifications cost nothing while nobody types and arrive at once, but not every
file system delivers them (network mounts, some Docker and WSL bind mounts) and a kernel's
watch limit can be reached (inotify's ``max_user_watches``). So ``LABREPORT_WATCH=poll`` asks for
polling, and a missing watchfiles, or a watcher that fails to start or dies, falls back to it,
saying so. Either way the same files count: whatever the build's digests read
(fingerprint.SKIPPED_DIRS and skipped_file name what they skip), so editor temp files, caches,
``.labreport/`` and ``build/`` (outside the watched paths) never start a build.

The serve loop calls :meth:`Watcher.mark` just *before* each build and :meth:`Watcher.wait`
after it: a save that lands during the build counts as a change since the mark, so it is built
next, never lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from labreport.errors import UsageError
from labreport.fingerprint import SKIPPED_DIRS, skipped_file

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # stat() of a project's few dozen files: cheap at this rate
WATCH_ENV = "LABREPORT_WATCH"
WATCH_CHOICES = ("auto", "poll")  # auto: notifications when watchfiles works, else polling
_NOTIFY_TICK_MS = 200  # how often the notifier thread looks up from its wait (to stop)

Snapshot = dict[str, tuple[int, int, int]]


def snapshot(paths: Iterable[Path]) -> Snapshot:
    """Modification time, size and inode of every file under ``paths`` (a missing path has
    none); cheap enough to poll. The inode tells an editor's save-by-rename apart."""
    seen: Snapshot = {}
    for root in paths:
        tree = os.walk(root) if root.is_dir() else [(str(root.parent), [], [root.name])]
        for folder, dirs, files in tree:
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
            for name in files:
                if skipped_file(name):
                    continue
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                seen[path] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    return seen


def watch_mode() -> str:
    """``LABREPORT_WATCH`` (``auto`` when unset); anything else is a usage error, said before
    the server starts rather than ignored."""
    mode = os.environ.get(WATCH_ENV, "").strip().lower() or "auto"
    if mode not in WATCH_CHOICES:
        raise UsageError(
            f"{WATCH_ENV}={os.environ[WATCH_ENV]!r} is not one of {', '.join(WATCH_CHOICES)}; "
            f"unset it, or set {WATCH_ENV}=poll where file notifications do not arrive"
        )
    return mode


class Watcher:
    """Changes to the files under ``watched()`` (re-read each time: a new templates folder
    counts), by notification or by polling."""

    def __init__(self, watched: Callable[[], list[Path]]) -> None:
        self.watched = watched
        self._before: Snapshot = {}
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.kind = "polling"
        if watch_mode() == "poll":
            log.info("watching for changes by polling every %s s (%s=poll)", POLL_SECONDS,
                     WATCH_ENV)  # fmt: skip
        elif self._start_notifier():
            self.kind = "watchfiles"
            log.info("watching for changes with watchfiles (file-system notifications)")

    def _start_notifier(self) -> bool:
        try:
            import watchfiles
        except ImportError:
            log.info("watching for changes by polling every %s s (watchfiles is not installed)",
                     POLL_SECONDS)  # fmt: skip
            return False
        roots = _roots(self.watched())
        self._thread = threading.Thread(
            target=self._notify, args=(watchfiles, roots), name="labreport-watch", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._fall_back()
            return False
        return True

    def _notify(self, watchfiles: Any, roots: list[Path]) -> None:
        """The notifier thread: every relevant change sets the event. Its first (empty) yield
        comes once the watches are in place, which is when the serve loop may build."""
        try:
            for changes in watchfiles.watch(
                *roots, watch_filter=self._relevant, debounce=50, step=25,
                rust_timeout=_NOTIFY_TICK_MS, yield_on_timeout=True, stop_event=self._stop,
                raise_interrupt=False,
            ):  # fmt: skip
                self._ready.set()
                if changes:
                    self._changed.set()
        except Exception as exc:  # noqa: BLE001 - inotify limits, a vanished root: poll instead
            self._failure = exc
        finally:
            self._ready.set()
            self._changed.set()  # wake the loop: it rebuilds (harmless) and polls from then on

    def _relevant(self, _change: Any, path: str) -> bool:
        """Whether a notified path is one the build reads (not an editor's temp file)."""
        parts = Path(path).parts
        if skipped_file(parts[-1]) or any(part in SKIPPED_DIRS for part in parts):
            return False
        return any(Path(path).is_relative_to(w) for w in self.watched())

    def _fall_back(self) -> None:
        log.warning(
            "Warning: file notifications failed (%s: %s); polling every %s s instead",
            type(self._failure).__name__, self._failure, POLL_SECONDS,
        )  # fmt: skip
        self.kind = "polling"

    def mark(self) -> None:
        """Remember the files as they are now: :meth:`wait` returns on any change after this."""
        if self.kind == "watchfiles":
            self._changed.clear()
        else:
            self._before = snapshot(self.watched())

    def wait(self) -> None:
        """Block until something under the watched paths changed since :meth:`mark`."""
        if self.kind == "watchfiles":
            self._changed.wait()
            if self._failure is None:
                return
            self._fall_back()  # the change that woke us may be the failure: rebuild, then poll
            return
        while snapshot(self.watched()) == self._before:
            time.sleep(POLL_SECONDS)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _roots(paths: list[Path]) -> list[Path]:
    """Folders to watch recursively for ``paths``: each one that is a folder, else the nearest
    existing folder above it (a file, or a templates folder not yet made), none inside
    another."""
    folders: set[Path] = set()
    for path in paths:
        while not path.is_dir() and path.parent != path:
            path = path.parent
        folders.add(path)
    return sorted(f for f in folders if not any(f != o and f.is_relative_to(o) for o in folders))
