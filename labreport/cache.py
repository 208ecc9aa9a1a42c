"""The run cache: a program's result stored under a hash of everything that can change the run.

The key covers the program's source and every other file of its experiment folder (it can read
them; the spec's other programs only when it names them), its args, seed, timeout and the
global variables it records (``record:``), the runner's own version, the versions of Python,
NumPy, PyTorch and matplotlib, the CPU and the settings that select its numeric kernels (see
:mod:`labreport.provenance`). It does not cover ``experiment.yaml``'s prose or the templates,
so editing those re-renders without re-training. An entry is one JSON file whose payload carries
its own SHA-256: a file cut short by a killed build, or edited by hand, is detected and run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, get_args

from labreport.fingerprint import environment_fingerprint, folder_digest
from labreport.ids import SPEC_NAME
from labreport.output import write_atomic
from labreport.results import CapturedFigure, CapturedFile, RunResult, Status

if TYPE_CHECKING:
    from labreport.spec import Program

log = logging.getLogger(__name__)


def experiment_files(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of an experiment folder but its spec: what its programs can read."""
    return folder_digest(folder, skip=frozenset({SPEC_NAME}))


def program_inputs(
    folder: Path, folder_files: dict[str, str], code: str, programs: Sequence[str]
) -> dict[str, str]:
    """The files of ``folder`` that can change the run of the program ``code``: all of them
    (it can import or read any), except ``programs`` (the spec's other programs, and the
    handout's skeleton files) when neither it nor a helper module names them. So editing one
    program re-runs that program, not its siblings.

    "Names" is textual and deliberately broad: the other program's file stem as a word anywhere
    in the text (an import, a path in a string, a comment) keeps it in the key.
    """
    others = {Path(other).as_posix() for other in programs} - {Path(code).as_posix()}
    if not others:
        return folder_files
    readers = [code] + [
        name for name in folder_files if name.endswith(".py") and name not in others
    ]  # fmt: skip
    text = ""
    for name in dict.fromkeys(readers):
        try:
            text += (folder / name).read_text(encoding="utf-8", errors="replace") + "\n"
        except OSError:
            return folder_files  # cannot tell: keep everything
    unused = {
        other for other in others
        if not re.search(rf"(?<!\w){re.escape(PurePosixPath(other).stem)}(?!\w)", text)
    }  # fmt: skip
    return {name: digest for name, digest in folder_files.items() if name not in unused}


def _material(
    folder_files: dict[str, str], program: Program, extra: dict[str, Any] | None
) -> dict[str, Any]:
    """Everything the key of one program run covers, by part."""
    return {
        "files": folder_files,
        "code": program.code,
        "args": list(program.args),
        "seed": program.run_seed,
        "timeout": program.timeout,
        "show_files": list(program.show_files),
        "record": [list(pair) for pair in program.recorded_globals],
        "environment": environment_fingerprint(),
        **(extra or {}),
    }


def run_key(
    folder_files: dict[str, str], program: Program, extra: dict[str, Any] | None = None
) -> str:
    """The cache key of one program run."""
    material = _material(folder_files, program, extra)
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def key_parts(
    folder_files: dict[str, str], program: Program, extra: dict[str, Any] | None = None
) -> dict[str, str]:
    """A short digest of each part of the run's key, kept beside its entry so that a later miss
    can say which part changed (:meth:`RunCache.why_missed`). The program's own file is a part
    of its own (``source``), apart from the folder's other files."""
    material = _material(folder_files, program, extra)
    own = Path(program.code).as_posix()
    files = material.pop("files")
    material["source"] = files.get(own)
    material["files"] = {name: digest for name, digest in files.items() if name != own}
    return {name: _digest(value) for name, value in sorted(material.items())}


# What changed, in words, for each part of a key (an unknown part is named as it is).
_PART_WORDS = {
    "source": "its source changed",
    "files": "another file of its folder changed",
    "code": "its file name changed",
    "args": "its args changed",
    "seed": "its seed changed",
    "timeout": "its timeout changed",
    "show_files": "its show_files changed",
    "record": "its record: list changed",
    "environment": "the library versions, Python, the CPU or its kernel settings changed",
    "threads": "its thread count changed",
    "output_limit": "its output limit changed",
    "figure_limit": "its figure limit changed",
    "env": "an environment variable it is passed changed",
    "after": "the program before it in the pipeline changed",
}


def _to_payload(result: RunResult) -> dict[str, Any]:
    payload = asdict(result)
    del payload["cached"]  # how this build got it, not what the run did
    return payload


_NUMBER = (int, float)
_OPTIONAL_INT = (int, type(None))
_OPTIONAL_STR = (str, type(None))
# The JSON types of each field of an entry: every field of RunResult but ``cached``.
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "code": (str,), "status": (str,), "output": (str,), "figures": (list,), "records": (dict,),
    "exit_code": _OPTIONAL_INT, "error": _OPTIONAL_STR, "traceback": _OPTIONAL_STR,
    "duration": _NUMBER, "output_truncated_bytes": (int,), "figures_dropped": (int,),
    "environment": (dict,), "files": (list,), "line": _OPTIONAL_INT,
}  # fmt: skip
_FIGURE_TYPES: dict[str, tuple[type, ...]] = {"number": (int,), "svg": (str,), "title": (str,)}
_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "mime": (str,), "data": (str,), "binary": (bool,),
}  # fmt: skip
_STATUSES = frozenset(get_args(Status))


def _fields(value: Any, types: dict[str, tuple[type, ...]], what: str) -> dict[str, Any]:
    """``value`` if it is an object with exactly the fields ``types`` names, each of its type
    (``true`` is not a number here); else ValueError, and the entry is run again."""
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected an object, got {type(value).__name__}")
    if set(value) != set(types):
        missing, unknown = sorted(set(types) - set(value)), sorted(set(value) - set(types))
        raise ValueError(f"{what}: fields missing {missing}, unknown {unknown}")
    for name, allowed in types.items():
        field = value[name]
        if not isinstance(field, allowed) or (isinstance(field, bool) and bool not in allowed):
            expected = " or ".join(t.__name__ for t in allowed)
            raise ValueError(f"{what}.{name}: expected {expected}, got {type(field).__name__}")
    return value


def _from_payload(payload: Any) -> RunResult:
    """The RunResult an entry's payload stores; ValueError when it has another shape (an entry
    written by hand or by some other version: its checksum only says it was not cut short)."""
    payload = dict(_fields(payload, _RESULT_TYPES, "payload"))
    if payload["status"] not in _STATUSES:
        raise ValueError(f"payload.status: unknown status {payload['status']!r}")
    if not all(isinstance(value, str) for value in payload["environment"].values()):
        raise ValueError("payload.environment: a value is not a string")
    # Text that UTF-8 cannot encode (a lone surrogate) breaks the record's HTML; the runner
    # never stores it now, so an entry that holds some is from before: run it again.
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text that is not valid Unicode (a lone surrogate)") from exc
    figures = tuple(
        CapturedFigure(**_fields(f, _FIGURE_TYPES, "payload.figures[]"))
        for f in payload.pop("figures")
    )  # fmt: skip
    files = tuple(
        CapturedFile(**_fields(f, _FILE_TYPES, "payload.files[]")) for f in payload.pop("files")
    )
    return RunResult(figures=figures, files=files, **{**payload, "cached": True})


class RunCache:
    """Entries under ``root`` (``.labreport/cache`` in a project), one JSON file each."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def _meta_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{META_SUFFIX}"

    def get(self, key: str) -> RunResult | None:
        """The stored result, or None when absent, truncated or corrupted (then removed)."""
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cache entry %s unreadable (%s): running again", path, exc)
            return None
        try:
            entry = json.loads(raw)
            body = json.dumps(entry["payload"], sort_keys=True).encode()
            if hashlib.sha256(body).hexdigest() != entry["sha256"]:
                raise ValueError("checksum mismatch")
            result = _from_payload(entry["payload"])
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            log.warning("cache entry %s is corrupted (%s): running again", path.name, exc)
            with contextlib.suppress(OSError):  # then it is run again on every build
                path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):  # its last use, which `cache prune --older-than` reads
            os.utime(path)
        return result

    def put(self, key: str, result: RunResult, meta: EntryMeta | None = None) -> None:
        """Store ``result`` under ``key``; ``meta`` (which program of which experiment, the
        key's parts) beside it, for ``cache info`` and for explaining a later miss."""
        payload = _to_payload(result)
        body = json.dumps(payload, sort_keys=True)
        entry = {"sha256": hashlib.sha256(body.encode()).hexdigest(), "payload": payload}
        write_atomic(self._path(key), json.dumps(entry, sort_keys=True).encode())
        if meta is not None:
            write_atomic(self._meta_path(key), json.dumps(asdict(meta), sort_keys=True).encode())

    def metas(self) -> dict[str, EntryMeta]:
        """The meta of every entry that has one, by key (unreadable ones left out)."""
        found: dict[str, EntryMeta] = {}
        for path in self.root.glob(f"??/*{META_SUFFIX}"):
            meta = read_meta(path)
            if meta is not None:
                found[path.name.removesuffix(META_SUFFIX)] = meta
        return found

    def why_missed(self, experiment: str, code: str, parts: dict[str, str]) -> str:
        """Why a run of ``code`` is not in the cache, in words: which parts of its key differ
        from its newest stored run, or that it has none."""
        last = max(
            (
                meta for meta in self.metas().values()
                if meta.experiment == experiment and meta.code == code
            ),
            key=lambda meta: meta.stored, default=None,
        )  # fmt: skip
        if last is None:
            return "no cached run of it"
        names = sorted(set(parts) | set(last.parts))
        changed = [
            _PART_WORDS.get(name, f"its {name} changed")
            for name in names if parts.get(name) != last.parts.get(name)
        ]  # fmt: skip
        return "; ".join(dict.fromkeys(changed)) or "its cached run was removed"


META_SUFFIX = ".meta"  # JSON; not *.json, which names the entries themselves


@dataclass(frozen=True)
class EntryMeta:
    """What an entry is a run of: written beside it (``<key>.meta``, JSON)."""

    experiment: str
    code: str
    parts: dict[str, str]
    stored: float = field(default_factory=time.time)


def read_meta(path: Path) -> EntryMeta | None:
    """The meta in ``path``, or None when it is missing or not one."""
    try:
        raw = json.loads(path.read_bytes())
        meta = EntryMeta(
            str(raw["experiment"]), str(raw["code"]),
            {str(k): str(v) for k, v in dict(raw["parts"]).items()}, float(raw["stored"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    return meta
