"""Programs written the way public examples are (tests/gallery/) run and are captured whole:
whatever matplotlib backend they choose, whatever format they save in, with their arguments,
data files and checkpoints, and with their progress bars, logs and warnings readable."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from labreport.results import RunLimits, RunResult
from labreport.runner import run_program
from labreport.warm import WarmPool

from conftest import PROJECTS

GALLERY = Path(__file__).resolve().parent / "gallery"
SCRIPT = Path(sys.executable).with_name("labreport")
LIMITS = RunLimits(timeout=120)
Run = Callable[..., RunResult]


@pytest.fixture(scope="module")
def pool() -> Iterator[WarmPool]:
    warm = WarmPool()
    try:
        yield warm
    finally:
        warm.close()


@pytest.fixture(params=["fresh", "warm"])
def run(request: pytest.FixtureRequest, pool: WarmPool) -> Run:
    """Runs a gallery program in a new interpreter, or forked from the warm one (which has
    matplotlib and labreport's backend imported already)."""
    warm = pool if request.param == "warm" else None

    def run_gallery(code: str, *args: str) -> RunResult:
        result = run_program(GALLERY, code, args=args, limits=LIMITS, warm=warm)
        assert result.ok, result.output
        return result

    return run_gallery


def titles(result: RunResult) -> list[str]:
    return [figure.title for figure in result.figures]


def assert_svgs(result: RunResult) -> None:
    numbers = [figure.number for figure in result.figures]
    assert numbers == sorted(set(numbers)), "once each, in creation order"
    for figure in result.figures:
        assert figure.svg.lstrip().startswith("<?xml") and "<svg" in figure.svg
        assert "<path" in figure.svg  # something was drawn
        if figure.title:
            assert f"<!-- {figure.title} -->" in figure.svg  # matplotlib names each text


# ------------------------------------------------------------------ figures, whatever the backend


def test_use_agg_then_savefig_pdf_and_close(run: Run) -> None:
    result = run("mpl_use_agg.py")
    # saved as PDF and closed; saved as PNG and PDF (once); left open at exit
    assert titles(result) == ["About as simple as it gets", "Histogram", "Left open"]
    assert_svgs(result)
    assert result.output.lower() == "backend: agg\n", "the program's own choice stands"


def test_mplbackend_set_in_the_program_and_every_format(run: Run) -> None:
    result = run("mpl_env_backend.py")
    assert titles(result) == ["x^1 as png", "x^2 as jpg", "x^3 as svg", "x^4 as pdf"]
    assert_svgs(result)
    assert result.output == "power1.png True\npower2.jpg True\npower3.svg True\npower4.pdf True\n"


def test_switch_backend_show_object_api_and_a_later_change(run: Run) -> None:
    result = run("mpl_switch_backend.py")
    assert titles(result) == ["Shown, then saved", "Object-oriented", "after the change"]
    assert_svgs(result)
    assert "before the change" not in result.figures[2].svg, "the last drawing is kept"
    assert result.output == "", "show() under Agg warns of nothing in the record"


def test_interactive_backend_opens_no_window_and_live_plots_are_kept(run: Run) -> None:
    result = run("mpl_gui_backend.py")
    assert titles(result) == ["Window", "Live loss"]
    assert_svgs(result)
    assert result.output == "done after 5 epochs\n"


def test_a_figure_that_cannot_be_captured_does_not_stop_the_program(tmp_path: Path) -> None:
    (tmp_path / "svg_broken.py").write_text(
        "import matplotlib.pyplot as plt\n"
        "from matplotlib.backends import backend_svg\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('no SVG today')\n"
        "backend_svg.FigureCanvasSVG.print_svg = broken\n"
        "plt.plot([1, 2]); plt.savefig('fine.png'); print('went on')\n"
    )
    result = run_program(tmp_path, "svg_broken.py", limits=LIMITS)
    assert result.ok and result.figures == ()
    assert result.output == (
        "labreport: could not capture a figure: RuntimeError('no SVG today')\nwent on\n"
    )


# ------------------------------------------------------------------ arguments, files, checkpoints


def test_argparse_main_guard_and_data_next_to_the_script() -> None:
    plain = run_program(GALLERY, "train_argparse.py", limits=LIMITS)
    assert plain.ok, plain.output
    assert plain.output.splitlines()[0] == "epochs=14 lr=1.0 save_plot=None"
    assert titles(plain) == ["Training loss"], "left open at exit"
    given = run_program(
        GALLERY, "train_argparse.py", args=["--epochs", "3", "--save-plot", "loss.svg"],
        limits=LIMITS,
    )  # fmt: skip
    assert given.ok, given.output
    assert given.output == (
        "epochs=3 lr=1.0 save_plot=loss.svg\ntrained 3 epochs; loss went down: True\n"
    )
    assert titles(given) == ["Training loss"]


def test_data_relative_to_the_script_and_to_the_working_folder() -> None:
    result = run_program(GALLERY, "data_paths.py", limits=LIMITS)
    assert result.ok, result.output
    assert result.output == (
        "rows next to the script: 5 from the working folder: 5\nread back: 5 rows\n"
    )
    assert not (GALLERY / "results").exists(), "written in the scratch copy, not the project"


def test_torch_checkpoint_saved_and_loaded_in_the_working_folder() -> None:
    pytest.importorskip("torch")
    result = run_program(
        GALLERY, "torch_checkpoint.py", args=["--epochs", "2", "--save-model"], limits=LIMITS
    )
    assert result.ok, result.output
    assert result.output == (
        "Train Epoch: 1\nTrain Epoch: 2\nsaved: ['checkpoint.pt']\n"
        "restored epoch 2 same weights: True\n"
    )
    assert not (GALLERY / "checkpoint.pt").exists()


# ------------------------------------------------------------------ terminal output


def test_tqdm_style_bars_end_in_their_final_state() -> None:
    result = run_program(GALLERY, "progress_tqdm.py", limits=LIMITS)
    assert result.ok, result.output
    assert result.output == (
        "train: 100%|##########| 20/20\n"
        "epochs: 100%|##########| 3/3\n"
        "  batch: 100%|##########| 5/5\n"
        "finished\n"
    )


def test_keras_style_backspace_bar_ends_in_its_final_state() -> None:
    result = run_program(GALLERY, "progress_keras.py", limits=LIMITS)
    assert result.ok, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines == ["6/6 [====================] - done", "hidden state norm is finite: True"]


def test_cursor_up_dashboard_ends_in_its_final_state() -> None:
    result = run_program(GALLERY, "dashboard_redraw.py", limits=LIMITS)
    assert result.ok, result.output
    assert result.output == "epoch 4/4\nloss  0.250\nstate finished\nsummary written\n"


def test_logging_and_warnings_are_in_the_output(run: Run) -> None:
    result = run("logs_and_warnings.py")
    lines = result.output.splitlines()
    expected = [
        "INFO:trainer:starting with 10 samples",
        "logs_and_warnings.py:12: UserWarning: learning rate looks high",
        "logs_and_warnings.py:14: RuntimeWarning: divide by zero encountered in log",
        "WARNING:trainer:validation loss went up",
        "done",
    ]
    assert [line for line in lines if line in expected] == expected
    assert "not shown" not in result.output


# ------------------------------------------------------------------ a real build


SPEC = """\
number: 1
title: A gallery of ordinary scripts
aim: To see that ordinary scripts are captured whole.
theory: Scripts choose their own backends, take arguments and draw progress bars.
programs:
  - code: mpl_use_agg.py
  - code: train_argparse.py
    args: ["--epochs", "3", "--save-plot", "loss.pdf"]
  - code: progress_keras.py
  - code: logs_and_warnings.py
"""


def test_a_project_of_gallery_scripts_builds_through_the_installed_script(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(PROJECTS / "mini" / "labreport.toml", root)
    folder = root / "experiments" / "gallery"
    # without the torch program, so the build needs no torch
    shutil.copytree(GALLERY, folder, ignore=shutil.ignore_patterns("torch_*.py", "__pycache__"))
    (folder / "experiment.yaml").write_text(SPEC, encoding="utf-8")
    built = subprocess.run(
        [str(SCRIPT), "build", "gallery", "--format", "html"], cwd=root, capture_output=True,
        text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    soup = BeautifulSoup((root / "build" / "gallery.html").read_text(), "html.parser")
    captions = [c.get_text(" ", strip=True) for c in soup.select("figure.run-figure figcaption")]
    assert len(captions) == 4, captions
    for number, (caption, title) in enumerate(
        zip(captions, ["About as simple", "Histogram", "Left open", "Training loss"], strict=True),
        start=1,
    ):
        assert caption.startswith(f"Figure {number}:") and title in caption
    outputs = [pre.get_text() for pre in soup.select("pre.output")]
    assert len(outputs) == 4
    assert outputs[1].startswith("epochs=3 lr=1.0 save_plot=loss.pdf\n")
    assert re.search(r"^6/6 \[=+\] - done *$", outputs[2], re.MULTILINE), outputs[2]
    assert "\b" not in outputs[2] and "loss:" not in outputs[2]
    assert "UserWarning: learning rate looks high" in outputs[3]
    assert "INFO:trainer:starting with 10 samples" in outputs[3]
