"""labreport's matplotlib backend: the stand-in for a window, in a process that has none.

Selected in the child through ``MPLBACKEND`` (:data:`labreport.protocol.MPL_BACKEND`), and put in
place of any interactive backend (TkAgg, QtAgg...) a program asks for. It draws with Agg. A
blocking ``plt.show()`` captures its figures and closes them, as closing the windows would.
Capture itself is :mod:`labreport.child.figures`'s, which works under any backend (a program
may well choose Agg itself); importing this module installs it, so a process that selects the
backend through the environment alone captures its figures too.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from labreport.child import figures

figures.install()


class FigureCanvasLabreport(FigureCanvasAgg):
    """An Agg canvas; a figure drawn on it counts as shown in a window."""


FigureCanvas = FigureCanvasLabreport
FigureManager = FigureManagerBase


def show(*args: Any, **kwargs: Any) -> None:
    """Capture every open figure and close it, as closing the windows of a GUI backend would."""
    figures.show(*args, **kwargs)
