"""Experiment ids and folders: what ``labreport build --all`` needs before any spec is read.

Kept apart from :mod:`labreport.spec` so that finding out that nothing changed (a no-op build)
does not pay for importing pydantic and building the spec models.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from labreport.errors import UnknownExperimentError

SPEC_NAME = "experiment.yaml"
ID_TEXT = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"  # a folder name under experiments/, never a path
ID_PATTERN = re.compile(rf"^{ID_TEXT}$")
_SHOWN_INPUT = 60


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_INPUT else text[: _SHOWN_INPUT - 3] + "..."


def discover(experiments_dir: Path) -> list[str]:
    """The ids of all experiment folders, in natural order (exp2 before exp10)."""
    if not experiments_dir.is_dir():
        return []
    ids = [p.name for p in experiments_dir.iterdir() if (p / SPEC_NAME).is_file()]
    return sorted(ids, key=lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)])


def resolve_ids(experiments_dir: Path, requested: list[str]) -> list[str]:
    """Check requested ids against the project; an unknown one lists the known ones."""
    known = discover(experiments_dir)
    for exp_id in requested:
        if not ID_PATTERN.match(exp_id):
            raise UnknownExperimentError(
                f"{_shown(exp_id)} is not an experiment id: an id is the name of a folder under "
                "experiments/ (letters, digits, '-' and '_'), never a path; see `labreport list`"
            )
        if exp_id not in known:
            close = difflib.get_close_matches(exp_id, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            listing = ", ".join(known) or "none"
            raise UnknownExperimentError(
                f"unknown experiment '{exp_id}'{hint}; known experiments: {listing}"
            )
    return requested
