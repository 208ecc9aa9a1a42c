"""Figure capture in the program's process, whatever matplotlib backend the program selects.

Many programs choose a backend themselves: ``matplotlib.use("Agg")`` at the top, ``MPLBACKEND``
set in ``os.environ``, ``plt.switch_backend("pdf")``. That replaces labreport's backend
(:mod:`labreport.child.mpl_backend`), so capture does not live in a backend: :func:`install`
hooks matplotlib at the figure and pyplot level instead, and works under any of them.

- Every :class:`~matplotlib.figure.Figure` gets its creation number when it is made.
- ``savefig`` (any format, any backend, through pyplot or the figure) captures the figure.
- A blocking ``plt.show()`` captures every open figure; under labreport's backend, the stand-in
  for a window, it then closes them, as closing the windows would. A non-blocking show
  (``plt.show(block=False)``, ``plt.pause``, ``plt.ion()``, ``fig.show()``) only marks the
  figures as seen: they are captured when they are closed, or at exit. So is a figure whose
  animation is saved (its frames go through savefig): captured once, as its last frame.
- The harness captures the figures still open when the program ends (:func:`capture_open`).
- An interactive backend (TkAgg, QtAgg, the notebook ones...) is replaced by labreport's, so
  no window ever opens and ``show`` never blocks.

A figure is captured once, under its creation number; captured again, it keeps its place and
its latest drawing, and a figure unchanged since it was last captured is not drawn again. Each
capture is ``fig-NNN.svg`` in the folder named by ``RESULTS_ENV`` plus a line of
``FIGURE_INDEX``. At most ``FIGURE_LIMIT_ENV`` distinct figures are captured (each costs tens of
milliseconds to draw and to render); later ones are only noted as dropped, so a program that
plots in a loop gets a marker in its record instead of a record that takes minutes to build.

A figure stays small too. Its heaviest lines, markers and shapes are drawn as a picture inside
the SVG (matplotlib's rasterisation: axes, ticks and text stay vector) until what is left holds
at most ``FIGURE_VECTOR_POINTS``; and a figure whose SVG is still over ``FIGURE_MAX_BYTES`` is
drawn whole as one picture. So a 200,000-point scatter is some tens of KB, not 28 MB of SVG
that takes minutes to lay out in the PDF. The program's own savefig is left as it drew it.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import itertools
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.collections import Collection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from labreport.protocol import (
    FIGURE_INDEX,
    FIGURE_LIMIT_ENV,
    FIGURE_MAX_BYTES,
    FIGURE_VECTOR_POINTS,
    MARKER_POINTS,
    MPL_BACKEND,
    MPL_BACKEND_MODULE,
    RESULTS_ENV,
)

#: matplotlib's built-in backends that draw to files only; any other backend would want a window.
NON_INTERACTIVE = frozenset({"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"})
# savefig formats that are raw pixel buffers: an animation writer grabbing its frames.
_FRAME_FORMATS = frozenset({"rgba", "raw"})

# The built-in themes show a figure at most the text width of their A4 page (210 mm less two
# 20 mm margins) and 110 mm high (templates/common/base.css). A larger figure would be shrunk
# there, its 10 pt tick labels printed at 5 pt; so it is drawn at that size when captured
# (:func:`_shown_size`), its text at the size the program set.
SHOWN_WIDTH_IN = 170 / 25.4
SHOWN_HEIGHT_IN = 110 / 25.4

#: The style programs start with (set when matplotlib is first hooked, before the program's own
#: code runs, so a program that sets rcParams or uses a style sheet itself wins). Sizes are in
#: points and absolute, so no text of a figure shown at full size prints below 8 pt (a relative
#: size such as "small" scales with font.size); the legend is placed where it hides least data
#: ("best"), and what it still covers shows through its frame.
STYLE: dict[str, Any] = {
    "font.size": 10.0,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.title_fontsize": 9.0,
    "figure.titlesize": 11.0,
    "legend.loc": "best",
    "legend.framealpha": 0.6,
}

PRINTED_MIN_PT = 8.0  # the smallest text of a figure on paper, in the style
_SMALLEST_PT = min(size for key, size in STYLE.items() if key.endswith("size"))

_sequence = itertools.count(1)
_captured: set[int] = set()
_capturing = False
_originals: dict[str, Any] = {}  # what install() replaced, by name


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


def _number(figure: Figure) -> int:
    number = getattr(figure, "_labreport_number", None)
    if number is None:  # made before install(): numbered when first seen
        number = figure._labreport_number = next(_sequence)  # type: ignore[attr-defined]
    return int(number)


def _changed(figure: Figure) -> bool:
    """Not captured yet, or changed since: matplotlib marks a figure stale on every change."""
    return _number(figure) not in _captured or bool(figure.stale)


def capture(figure: Figure) -> None:
    """Write the figure's current drawing as SVG under its creation number.

    A figure that cannot be drawn as SVG is reported on stderr and the program goes on: its
    own savefig worked, and a failure of labreport's must not become the program's.
    """
    folder = os.environ.get(RESULTS_ENV)
    if not folder or _capturing:
        return
    try:
        _capture(figure, folder)
    except Exception as exc:  # noqa: BLE001 - reported in the record's output, never raised
        sys.stderr.write(f"labreport: could not capture a figure: {exc!r}\n")


def _capture(figure: Figure, folder: str) -> None:
    global _capturing
    number = _number(figure)
    limit = _limit()
    if number not in _captured and limit is not None and len(_captured) >= limit:
        _note(folder, {"number": number, "dropped": True})
        return
    _captured.add(number)
    _capturing = True
    try:
        svg = _svg(figure)
        if len(svg) > FIGURE_MAX_BYTES:
            svg = _picture_svg(figure)
    finally:
        _capturing = False
    # Drawing as SVG changes the figure's dpi and back, which marks it stale; it is not: this
    # drawing is its latest, and any change from now on marks it stale again.
    figure.stale = False
    name = f"fig-{number:03d}.svg"
    # Written whole, then renamed: a figure drawn again is never seen half-written after a kill.
    partial = Path(folder, f".{name}.partial")
    partial.write_bytes(svg)
    os.replace(partial, Path(folder, name))
    _note(folder, {"number": number, "file": name, "title": _title(figure)})


_NO_LINE = frozenset({"None", "none", "", " "})
_NO_MARKER = frozenset({None, "None", "none", "", " "})


def _length(array: Any) -> int:
    """How many points an array of them holds (matplotlib types them as any array-like)."""
    shape = np.shape(array)
    return int(shape[0]) if shape else 0


def _points(artist: Artist) -> int:
    """What drawing ``artist`` as vectors costs, in vertices; each marker, bar or mesh cell
    counts as ``MARKER_POINTS`` (WeasyPrint lays a shape out ~40 times slower than a vertex)."""
    if isinstance(artist, Line2D):
        count = _length(artist.get_xydata())
        line = 0 if artist.get_linestyle() in _NO_LINE else count
        return line + (0 if artist.get_marker() in _NO_MARKER else MARKER_POINTS * count)
    if isinstance(artist, QuadMesh):
        rows, columns = np.shape(artist.get_coordinates())[:2]  # cell corners
        return MARKER_POINTS * int(rows - 1) * int(columns - 1)
    if isinstance(artist, Collection):
        paths = artist.get_paths()
        shapes = max(_length(artist.get_offsets()), len(paths))
        return sum(_length(path.vertices) for path in paths) + MARKER_POINTS * shapes
    if isinstance(artist, Patch):
        return _length(artist.get_path().vertices) + MARKER_POINTS
    return 0


def _heavy_artists(figure: Figure) -> list[Artist]:
    """The lines, markers and shapes to draw as a picture: the heaviest first, until those left
    as vectors hold at most ``FIGURE_VECTOR_POINTS`` (in drawing order among equals)."""
    costs = [
        (_points(artist), artist)
        for axes in figure.axes
        for artist in (*axes.lines, *axes.collections, *axes.patches)
        if artist.get_visible()
        and not artist.get_rasterized()
        and getattr(artist.draw, "_supports_rasterization", False)
    ]
    left = sum(cost for cost, _ in costs)
    heavy = []
    for cost, artist in sorted(costs, key=lambda item: -item[0]):
        if left <= FIGURE_VECTOR_POINTS:
            break
        heavy.append(artist)
        left -= cost
    return heavy


@contextlib.contextmanager
def _shown_size(figure: Figure) -> Iterator[None]:
    """The figure resized, for this drawing only, to about the size a record shows it at
    (``SHOWN_WIDTH_IN`` × ``SHOWN_HEIGHT_IN``, same aspect), so that its text prints at the
    size the program set instead of shrunk with the picture: drawn a little larger than shown,
    by as much as keeps the smallest text of the style at ``PRINTED_MIN_PT`` on paper, and
    larger still, step by step up to its own size, while its titles and labels would collide
    or be cut off at the edge (a two-panel figure with long titles, drawn for 11 inches).
    A figure whose layout the program made tight is laid out tight again at each size; any
    other keeps its margins' width in inches; a layout engine (``constrained``) lays it out
    itself when it is drawn. Afterwards the figure is as it was: size, margins and all."""
    width, height = figure.get_size_inches()
    shown = min(1.0, SHOWN_WIDTH_IN / width, SHOWN_HEIGHT_IN / height)
    scale = min(1.0, shown * _SMALLEST_PT / PRINTED_MIN_PT)
    if scale > 0.98:  # a figure that fits is left alone (matplotlib's default, 6.4 × 4.8 in, is
        # 0.47 in too tall: drawn at 5.8 × 4.3 in)
        yield
        return
    pars = figure.subplotpars
    margins = {k: getattr(pars, k) for k in ("left", "right", "bottom", "top", "wspace", "hspace")}
    # After a one-off tight_layout() the engine is a placeholder that lays out nothing; an
    # engine for good (constrained) lays the figure out itself as it is drawn.
    engine = figure.get_layout_engine()
    ours = engine is None or isinstance(engine, PlaceHolderLayoutEngine)
    tight = getattr(figure, "_labreport_tight", None)
    try:
        while True:
            figure.set_size_inches(width * scale, height * scale, forward=False)
            if ours and tight is not None:
                with warnings.catch_warnings():  # a warning would land in the record's output
                    warnings.simplefilter("ignore")
                    _originals["tight_layout"](figure, **tight)
            elif ours:  # the margins keep their width in inches: their text keeps its size
                left, right = margins["left"] / scale, 1 - (1 - margins["right"]) / scale
                bottom, top = margins["bottom"] / scale, 1 - (1 - margins["top"]) / scale
                if left < right and bottom < top:
                    figure.subplots_adjust(left=left, right=right, bottom=bottom, top=top)
            if scale >= 1.0 or not _labels_collide(figure):
                break
            scale = min(1.0, scale * 1.15)
            if ours:
                figure.subplots_adjust(**margins)
        yield
    finally:
        figure.set_size_inches(width, height, forward=False)
        if ours:
            figure.subplots_adjust(**margins)


def _labels_collide(figure: Figure) -> bool:
    """Whether two of the figure's titles and axis labels overlap, or one is cut off at its
    edge, as it would be drawn now."""
    try:
        figure.draw_without_rendering()
        renderer = figure._get_renderer()  # type: ignore[attr-defined]
        texts = [figure._suptitle] if figure._suptitle is not None else []  # type: ignore[attr-defined]
        for ax in figure.axes:
            texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]  # type: ignore[attr-defined]
        boxes = [
            text.get_window_extent(renderer)
            for text in texts
            if text.get_visible() and text.get_text().strip()
        ]
    except Exception:  # noqa: BLE001 - a figure this cannot measure is drawn as it was
        return False
    edge = figure.bbox
    for i, box in enumerate(boxes):
        if (
            box.x0 < edge.x0 - 1
            or box.x1 > edge.x1 + 1
            or box.y0 < edge.y0 - 1
            or box.y1 > edge.y1 + 1
        ):
            return True
        if any(box.padded(-1).overlaps(other.padded(-1)) for other in boxes[i + 1 :]):
            return True
    return False


def _svg(figure: Figure) -> bytes:
    """The figure as SVG at the size a record shows it, its heavy artists as a picture (only
    for this drawing)."""
    heavy = _heavy_artists(figure)
    buffer = io.BytesIO()
    try:
        for artist in heavy:
            artist.set_rasterized(True)
        # matplotlib's own SVG writer whatever the canvas (cairo's would differ), and fixed ids
        # (the salt) and no date, so the same figure is the same bytes on every run.
        with matplotlib.rc_context({"svg.hashsalt": "labreport"}), _shown_size(figure):
            _originals["savefig"](
                figure, buffer, format="svg", backend="svg", metadata={"Date": None}
            )
    finally:
        for artist in heavy:
            artist.set_rasterized(False)
    return buffer.getvalue()


def _picture_svg(figure: Figure) -> bytes:
    """The whole figure as one PNG inside an SVG of its size: for a figure whose SVG is over
    ``FIGURE_MAX_BYTES`` even with its heavy artists as pictures (many texts, say)."""
    buffer = io.BytesIO()
    with _shown_size(figure):
        _originals["savefig"](figure, buffer, format="png", backend="agg")
        width, height = (72 * size for size in figure.get_size_inches())
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width:g}pt" height="{height:g}pt" viewBox="0 0 {width:g} {height:g}" '
        f'version="1.1">\n<image width="{width:g}" height="{height:g}" '
        f'xlink:href="data:image/png;base64,{png}"/>\n</svg>\n'
    ).encode()


def _capture_if_changed(figure: Figure) -> None:
    if _changed(figure):
        capture(figure)


def _open_figures() -> list[Figure]:
    """The figures pyplot manages, without making any of them the current one."""
    from matplotlib._pylab_helpers import Gcf

    return [manager.canvas.figure for manager in Gcf.get_all_fig_managers()]


def _in_window(figure: Figure) -> bool:
    """Drawn by labreport's backend, the stand-in for a window (not by one the program chose)."""
    return type(figure.canvas).__module__ == MPL_BACKEND_MODULE


def capture_open() -> None:
    """Capture every figure still open (the harness calls it when the program has ended)."""
    if "savefig" in _originals:
        for figure in _open_figures():
            _capture_if_changed(figure)


def show(*args: Any, **kwargs: Any) -> None:
    """``pyplot.show`` under any backend: capture, and never open a window or block."""
    block = kwargs.get("block", args[0] if args else None)
    figures = _open_figures()
    if block is False or (block is None and matplotlib.is_interactive()):
        for figure in figures:  # a window that stays open: captured on close or at exit
            figure._labreport_shown = True  # type: ignore[attr-defined]
        return
    for figure in figures:
        _capture_if_changed(figure)
    import matplotlib.pyplot as plt

    for figure in figures:
        if _in_window(figure):
            plt.close(figure)


def _wants_window(backend: str) -> bool:
    if backend.startswith("module://"):
        return backend != MPL_BACKEND
    return backend.lower() not in NON_INTERACTIVE


def install() -> None:
    """Hook :class:`~matplotlib.figure.Figure`, and pyplot if it is imported; once per process."""
    if "savefig" not in _originals:
        _install_figure()
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        install_pyplot(pyplot)


def _apply_style() -> None:
    """Set :data:`STYLE`, but not over a setting the program changed already (it may set
    rcParams after ``import matplotlib`` and before pyplot, which is when this runs)."""
    params: Any = matplotlib.rcParams
    defaults: Any = matplotlib.rcParamsDefault
    for key, value in STYLE.items():
        if params[key] == defaults[key]:
            params[key] = value


def _install_figure() -> None:
    init, savefig, show_figure = Figure.__init__, Figure.savefig, Figure.show
    tight_layout = Figure.tight_layout
    _originals.update(init=init, savefig=savefig, show=show_figure, tight_layout=tight_layout)
    _apply_style()

    def tight(self: Figure, *args: Any, **kwargs: Any) -> None:
        tight_layout(self, *args, **kwargs)
        if not args:  # remembered, to lay it out again at the size it is shown at
            self._labreport_tight = kwargs  # type: ignore[attr-defined]

    def __init__(self: Figure, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        init(self, *args, **kwargs)
        if getattr(self, "_labreport_number", None) is None:
            self._labreport_number = next(_sequence)  # type: ignore[attr-defined]

    def savefig_and_capture(self: Figure, *args: Any, **kwargs: Any) -> None:
        if _capturing:
            savefig(self, *args, **kwargs)
            return
        # An animation being saved writes its frames through savefig (raw pixels, or files
        # while the canvas is saving already): the figure is captured once, as its last frame
        # is, when it is closed or at exit.
        frame = getattr(self.canvas, "_is_saving", False) or (
            str(kwargs.get("format", "")).lower() in _FRAME_FORMATS
        )
        changed = _changed(self)
        savefig(self, *args, **kwargs)
        if frame:
            self._labreport_shown = True  # type: ignore[attr-defined]
        elif changed:
            capture(self)
        else:
            self.stale = False  # saving restores colours and dpi, which marks it; it is as it was

    def show_window(self: Figure, *args: Any, **kwargs: Any) -> None:
        if self.canvas.manager is None:  # not pyplot's: matplotlib says so
            show_figure(self, *args, **kwargs)
            return
        self._labreport_shown = True  # type: ignore[attr-defined]

    _replace(Figure, "__init__", __init__)
    _replace(Figure, "savefig", savefig_and_capture)
    _replace(Figure, "show", show_window)
    _replace(Figure, "tight_layout", tight)


def _replace(owner: Any, name: str, function: Callable[..., Any]) -> None:
    """Put ``function`` in place of ``owner.name``, under its name, qualified name and docstring
    (pyplot checks that the methods it wraps, such as savefig, belong to Figure)."""
    setattr(owner, name, functools.update_wrapper(function, getattr(owner, name)))


def install_pyplot(pyplot: ModuleType) -> None:
    """Hook ``show``, ``close`` and ``switch_backend`` of a fully imported pyplot, once."""
    if "switch_backend" in _originals or not hasattr(pyplot, "switch_backend"):
        return
    if "savefig" not in _originals:
        _install_figure()
    plt: Any = pyplot
    switch_backend, close = plt.switch_backend, plt.close
    _originals.update(switch_backend=switch_backend, close=close)

    def switch_to_capture(newbackend: Any) -> None:
        # pyplot resolves its backend through this name, as do matplotlib.use() and the
        # automatic choice, so an interactive backend never loads, whoever asked for it.
        if isinstance(newbackend, str) and _wants_window(newbackend):
            newbackend = MPL_BACKEND
        switch_backend(newbackend)

    def close_and_capture(fig: Any = None) -> None:
        before = _open_figures()
        close(fig)
        still_open = {id(figure) for figure in _open_figures()}
        for figure in before:
            if id(figure) not in still_open and getattr(figure, "_labreport_shown", False):
                _capture_if_changed(figure)  # a window the program showed, then closed

    def show_and_capture(*args: Any, **kwargs: Any) -> None:
        show(*args, **kwargs)

    _replace(plt, "switch_backend", switch_to_capture)
    _replace(plt, "close", close_and_capture)
    _replace(plt, "show", show_and_capture)
