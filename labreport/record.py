"""``record(name, value)`` and ``run_seed()``: how a program talks to its lab record.

A program calls ``record("test_mse", mse)``; the spec's prose then says
``{{ results.test_mse | round(4) }}`` and the sentence in the record is always the measured one.
Run under labreport, values go to ``RECORDS_FILE`` in the folder named by ``RESULTS_ENV``;
run as plain ``python prog.py``, they are printed, so every program still works on its own.
``run_seed()`` is the seed of this run -- the spec's ``seed:``, or each of ``labreport verify``'s
seeds -- for programs that seed their own generators.
This module imports nothing heavy: it is loaded inside the student's process.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from labreport.protocol import RECORDS_FILE, RESULTS_ENV, SEED_ENV

__all__ = ["record", "run_seed", "RESULTS_ENV", "SEED_ENV"]


def _plain(value: Any) -> Any:
    """Turn NumPy/PyTorch scalars and small sequences into JSON-able Python values."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return _plain(item())
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _plain(tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(
        f"record({type(value).__name__}): only numbers, strings, booleans and lists/dicts of them "
        "can be recorded"
    )


def record(name: str, value: Any) -> Any:
    """Record ``value`` under ``name`` for the lab record's prose; returns ``value`` unchanged."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"record(): name must be a Python identifier, got {name!r}")
    plain = _plain(value)
    if isinstance(plain, float) and not math.isfinite(plain):
        plain = str(plain)
    folder = os.environ.get(RESULTS_ENV)
    if folder:
        with open(os.path.join(folder, RECORDS_FILE), "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": name, "value": plain}) + "\n")
    else:
        print(f"[record] {name} = {plain!r}")
    return value


def run_seed(default: int = 0) -> int:
    """The seed labreport runs this program with; ``default`` when it runs on its own.

    labreport seeds ``random``, NumPy and PyTorch itself; a program that makes its own
    generators (``torch.Generator().manual_seed(...)``, ``np.random.default_rng(...)``) or
    re-seeds derives their seeds from this, so that ``labreport verify --seeds N`` really
    trains N different ways and a plain ``python prog.py`` still prints the record's numbers.
    """
    text = os.environ.get(SEED_ENV)
    return int(text) if text and text.isdigit() else default
