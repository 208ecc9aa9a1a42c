"""A matplotlib backend that captures every figure once, in creation order, as SVG.

Selected in the child through ``MPLBACKEND`` (:data:`labreport.protocol.MPL_BACKEND`). A figure
is captured when the program calls ``plt.show()`` (which then closes it, as a window would), when
it saves it with ``savefig``, and when it is left open at exit (the harness calls ``show``). A
figure captured twice keeps its place in creation order and its latest drawing. Files go to the
folder named by ``RESULTS_ENV`` as ``fig-NNN.svg`` plus a line of ``FIGURE_INDEX`` with its
title for the caption.

At most ``FIGURE_LIMIT_ENV`` distinct figures are captured (each costs tens of milliseconds
to draw and to render); later ones are only noted as dropped, so a program that plots in a loop
gets a marker in its record instead of a record that takes minutes to build.
"""

from __future__ import annotations

import io
import itertools
import json
import os
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from labreport.protocol import FIGURE_INDEX, FIGURE_LIMIT_ENV, RESULTS_ENV

matplotlib.rcParams["svg.hashsalt"] = "labreport"  # stable ids: identical SVG on every run

_sequence = itertools.count(1)
_capturing = False
_captured: set[int] = set()


def _limit() -> int | None:
    try:
        return int(os.environ[FIGURE_LIMIT_ENV])
    except (KeyError, ValueError):
        return None


def _note(folder: str, entry: dict[str, Any]) -> None:
    with open(Path(folder, FIGURE_INDEX), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def _title(figure: Figure) -> str:
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        return str(suptitle.get_text())
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    return "; ".join(titles)


def capture(figure: Figure) -> None:
    """Write the figure's current drawing as SVG under its creation number."""
    global _capturing
    folder = os.environ.get(RESULTS_ENV)
    if not folder or _capturing:
        return
    number = getattr(figure, "_labreport_number", None)
    if number is None:
        number = figure._labreport_number = next(_sequence)  # type: ignore[attr-defined]
    limit = _limit()
    if number not in _captured and limit is not None and len(_captured) >= limit:
        _note(folder, {"number": number, "dropped": True})
        return
    _captured.add(number)
    buffer = io.BytesIO()
    _capturing = True
    try:
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    finally:
        _capturing = False
    name = f"fig-{number:03d}.svg"
    # Written whole, then renamed: a figure drawn again is never seen half-written after a kill.
    partial = Path(folder, f".{name}.partial")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, Path(folder, name))
    _note(folder, {"number": number, "file": name, "title": _title(figure)})


class FigureCanvasLabreport(FigureCanvasAgg):
    """Agg canvas that numbers its figure at creation and captures it on every savefig."""

    def __init__(self, figure: Figure | None = None) -> None:
        super().__init__(figure)
        if getattr(self.figure, "_labreport_number", None) is None:
            self.figure._labreport_number = next(_sequence)  # type: ignore[attr-defined]

    def print_figure(self, *args: Any, **kwargs: Any) -> Any:
        result = super().print_figure(*args, **kwargs)
        if not _capturing:
            capture(self.figure)
        return result


FigureCanvas = FigureCanvasLabreport
FigureManager = FigureManagerBase


def show(*args: Any, **kwargs: Any) -> None:
    """Capture every open figure and close it, as closing the windows of a GUI backend would."""
    import matplotlib.pyplot as plt

    for number in plt.get_fignums():
        capture(plt.figure(number))
    plt.close("all")
