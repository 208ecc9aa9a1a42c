"""Issue #16, point 6: figure captions from the spec, figures drawn at the size they are shown.

A tiny project built once through the installed ``labreport`` script: a program that makes a
wide two-panel figure (tight layout) and a default-sized one, and records the style it saw.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from test_console import labreport

from labreport.child.figures import PRINTED_MIN_PT, SHOWN_WIDTH_IN, STYLE

from conftest import copy_project

PROGRAM = """\
import matplotlib.pyplot as plt
from labreport.record import record

record("tick_size", plt.rcParams["xtick.labelsize"])
record("legend_loc", plt.rcParams["legend.loc"])
fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
a.plot([1, 2, 3], [1, 10, 100], label="loss")
a.set_yscale("log")
a.set_xlabel("epoch")
a.set_title("Loss")
a.legend()
b.bar(["RNN", "LSTM"], [0.5, 0.01])
b.set_title("Test MSE")
fig.tight_layout()
plt.show()
print("width after capture:", fig.get_size_inches()[0])

plt.figure(figsize=(6, 4))
plt.plot([0, 1], [0, 1])
plt.title("A straight line")
plt.show()
"""

OWN_STYLE = """\
import matplotlib
matplotlib.rcParams["xtick.labelsize"] = 15
import matplotlib.pyplot as plt
from labreport.record import record

record("own_tick_size", plt.rcParams["xtick.labelsize"])
"""

SPEC = """\
number: 8
title: Figures
aim: To caption figures.
programs:
  - code: plots.py
    figures:
      - "Loss *per epoch* over {{ results.tick_size }} pt ticks"
  - code: own.py
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = copy_project("mini", tmp_path_factory.mktemp("figures") / "lab")
    folder = root / "experiments" / "figs"
    folder.mkdir()
    (folder / "plots.py").write_text(PROGRAM, encoding="utf-8")
    (folder / "own.py").write_text(OWN_STYLE, encoding="utf-8")
    (folder / "experiment.yaml").write_text(SPEC, encoding="utf-8")
    done = labreport(root, "build", "figs", "--format", "html")
    assert done.returncode == 0, done.stderr
    return root, done.stderr


@pytest.fixture(scope="module")
def soup(built: tuple[Path, str]) -> BeautifulSoup:
    return BeautifulSoup((built[0] / "build/figs.html").read_text(), "html.parser")


def test_a_spec_caption_replaces_the_title_and_the_rest_keep_theirs(soup: BeautifulSoup) -> None:
    captions = [c.get_text(" ", strip=True) for c in soup.select("figure.run-figure figcaption")]
    assert captions == [
        "Figure 1: Loss per epoch over 9.0\u00a0pt ticks",  # the unit kept with its number
        "Figure 2: A straight line",
    ]
    assert soup.select_one("figure.run-figure figcaption em").get_text() == "per epoch"
    assert soup.select("figure.run-figure img")[0]["alt"] == "Figure 1: Loss; Test MSE"


def _svg(soup: BeautifulSoup, index: int) -> str:
    src = soup.select("figure.run-figure img")[index]["src"]
    return base64.b64decode(src.split(",", 1)[1]).decode()


def _printed_sizes(svg: str) -> tuple[float, list[float]]:
    """The width the record prints the figure at (pt) and its text sizes as printed (pt):
    matplotlib draws text as glyph outlines at 100 units per point, scaled by the size."""
    width = float(re.search(r'<svg[^>]* width="([0-9.]+)pt"', svg).group(1))
    shown = min(width, SHOWN_WIDTH_IN * 72)
    sizes = [100 * float(s) for s in re.findall(r"scale\(([0-9.]+) -[0-9.]+\)", svg)]
    return width, [size * shown / width for size in sizes]


def test_a_wide_figure_is_drawn_at_the_text_width_so_its_text_prints_at_8_pt_or_more(
    soup: BeautifulSoup, built: tuple[Path, str]
) -> None:
    width, sizes = _printed_sizes(_svg(soup, 0))
    # 12 in drawn a little larger than the 6.7 in shown: as much as keeps 9 pt ticks at 8 pt
    larger = STYLE["xtick.labelsize"] / PRINTED_MIN_PT
    assert width == pytest.approx(SHOWN_WIDTH_IN * 72 * larger, abs=0.5)
    assert sizes and min(sizes) >= 8.0 - 1e-6, sizes
    output = soup.select("pre.output")[0].get_text()
    assert "width after capture: 12.0" in output, "the program's figure is left as it was"


def test_a_figure_that_fits_is_left_at_its_size(soup: BeautifulSoup) -> None:
    width, sizes = _printed_sizes(_svg(soup, 1))
    assert width == pytest.approx(6 * 72)
    assert min(sizes) >= 8.0


def test_programs_start_with_the_style_but_their_own_settings_win(
    built: tuple[Path, str],
) -> None:
    """plots.py saw labreport's tick size (9 pt, in the first caption above) and legend
    placement; own.py set its tick size before importing pyplot, and kept it."""
    assert STYLE["xtick.labelsize"] == 9.0
    root, _ = built
    spec = root / "experiments/figs/experiment.yaml"
    spec.write_text(SPEC + "result: '{{ results.own_tick_size }} and {{ results.legend_loc }}'\n")
    done = labreport(root, "build", "figs", "--format", "html")
    assert done.returncode == 0, done.stderr
    page = BeautifulSoup((root / "build/figs.html").read_text(), "html.parser")
    assert "15.0 and best" in page.get_text()


def test_more_captions_than_figures_is_a_warning(tmp_path: Path) -> None:
    root = copy_project("mini", tmp_path / "lab")
    folder = root / "experiments" / "one"
    folder.mkdir()
    (folder / "one.py").write_text(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('Only')\n"
    )
    (folder / "experiment.yaml").write_text(
        "number: 1\ntitle: T\naim: A.\nprograms:\n  - code: one.py\n"
        "    figures: [First, Second, Third]\n"
    )
    done = labreport(root, "build", "one", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert (
        "programs[0].figures: 3 captions, but one.py made 1 figure(s): captions 2 to 3 caption "
        "nothing" in done.stderr
    )
    page = BeautifulSoup((root / "build/one.html").read_text(), "html.parser")
    assert page.select_one("figcaption").get_text(strip=True) == "Figure 1: First"
