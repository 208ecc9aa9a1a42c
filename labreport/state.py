"""Up-to-date checks: a digest of every input of an experiment's outputs, kept beside the cache.

An experiment is up to date when the digest of its inputs — the files of its folder (spec and
programs), the theme folders, ``labreport.toml``, the library versions and the build options —
equals the one stored at its last successful build, and every output it wrote is still there,
unchanged. Checking that reads a few small files and imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from labreport import __version__
from labreport.fingerprint import environment_fingerprint, folder_digest
from labreport.formulas import drawing_fingerprint
from labreport.output import write_atomic


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inputs_digest(
    experiment_folder: Path, config_path: Path, theme_folders: Iterable[Path], options: Any
) -> str:
    """One hash over everything an experiment's outputs are made from."""
    material = {
        "labreport": __version__,
        "environment": environment_fingerprint(),
        "formulas": drawing_fingerprint(),
        "experiment": folder_digest(experiment_folder, skip=frozenset()),
        "config": _file_digest(config_path) if config_path.is_file() else None,
        "themes": [folder_digest(f, skip=frozenset()) for f in theme_folders if f.is_dir()],
        "options": repr(options),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class BuildState:
    """What the last successful build of each experiment was made from and wrote."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, exp_id: str) -> Path:
        return self.root / f"{exp_id}.json"

    def _load(self, exp_id: str) -> dict[str, Any]:
        """The stored record; empty when there is none or it cannot be read."""
        try:
            stored = json.loads(self._path(exp_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return stored if isinstance(stored, dict) else {}

    def current(self, exp_id: str, digest: str) -> tuple[str, ...] | None:
        """None unless ``exp_id`` is up to date; else the checks its record marks failed, which
        it still owes: each build's summary says so again."""
        stored = self._load(exp_id)
        try:
            if stored["inputs"] != digest or not all(
                Path(path).is_file() and _file_digest(Path(path)) == sha
                for path, sha in stored["outputs"].items()
            ):
                return None
        except (OSError, KeyError, TypeError, AttributeError):
            return None
        claims = stored.get("failed_checks")
        return tuple(str(c) for c in claims) if isinstance(claims, list) else ()

    def passed_env(self, exp_id: str) -> tuple[str, ...]:
        """The variables the last build passed to the programs by name: their values are
        inputs too (a different DATA_DIR is a different run)."""
        names = self._load(exp_id).get("passed_env")
        return tuple(str(n) for n in names) if isinstance(names, list) else ()

    def account(self, exp_id: str) -> Any:
        """The build report's programs and checks as the last build saved them (unchecked:
        :func:`labreport.report.account_from_json` reads them, leniently)."""
        return self._load(exp_id).get("account")

    def last_duration(self, exp_id: str) -> float | None:
        """Seconds the last successful build took; None when unknown. Used to order a batch."""
        seconds = self._load(exp_id).get("seconds")
        return float(seconds) if isinstance(seconds, int | float) else None

    def save(
        self,
        exp_id: str,
        digest: str,
        outputs: Iterable[Path],
        seconds: float | None = None,
        failed_checks: Iterable[str] = (),
        passed_env: Iterable[str] = (),
        account: dict[str, Any] | None = None,
    ) -> None:
        """``account``: the build report's programs and checks, given again while up to date."""
        record = {
            "inputs": digest,
            "outputs": {str(p): _file_digest(p) for p in outputs},
            "seconds": None if seconds is None else round(seconds, 3),
            "failed_checks": list(failed_checks),
            "passed_env": list(passed_env),
            "account": account or {},
        }
        write_atomic(self._path(exp_id), json.dumps(record, indent=1).encode())
