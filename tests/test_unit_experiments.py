"""Issue 8: the rest of the RNN unit (exp12-exp14 here, exp11 in test_unit_exp11.py) builds, and
every claim its run checks holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from test_page_furniture import needs_browser, phone_layout

from labreport.cli import cli
from labreport.spec import load_experiment

from conftest import REPO, copy_course, working_directory

# exp11, the longest training, is built in test_unit_exp11.py: a file of its own, so that the
# test workers (pytest-xdist, one file each) build it beside these three instead of after them.
UNIT = ("exp12", "exp13", "exp14")
pytestmark = pytest.mark.slow


def build_unit(tmp_path_factory: pytest.TempPathFactory, ids: tuple[str, ...]) -> Path:
    """``ids`` built once, in parallel, with --strict: a failed check fails. HTML and PDF: the
    PDF's pages are walked as they are laid out (labreport.pagecheck), and a page that breaks
    badly is a warning, of which there must be none."""
    root = copy_course(tmp_path_factory.mktemp("course"), *ids)
    with working_directory(root):
        result = CliRunner().invoke(cli, ["build", *ids, "--strict", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output, result.output
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_unit(tmp_path_factory, UNIT)


@pytest.mark.parametrize("exp", UNIT)
def test_experiment_is_complete_and_every_check_passes(built: Path, exp: str) -> None:
    assert_complete(built, exp)


def assert_complete(built: Path, exp: str) -> None:
    """The record of ``exp`` has every part, and every check its run makes passed."""
    spec = load_experiment(REPO / "experiments" / exp).spec
    soup = BeautifulSoup((built / "build" / f"{exp}.html").read_text(), "html.parser")
    assert len(spec.prelab) >= 4 or spec.theme == "classic"
    assert len(spec.viva) >= 4 or spec.theme == "classic"
    assert spec.checks, "outcomes are backed by checks"
    marks = [tr["class"] for tr in soup.select("tr.check")]
    assert marks == [["check", "passed"]] * len(spec.checks)
    assert soup.select("img.math-display"), "the theory states the cell equations"
    for program in spec.programs:
        block = soup.select_one(f'pre.output[data-program="{program.code}"]')
        assert block is not None and block.get_text().strip(), program.code
    assert len(soup.select("figure.run-figure")) >= len(spec.programs)
    assert not soup.select(".run-error")


def test_numpy_lstm_gradients_agree(built: Path) -> None:
    soup = BeautifulSoup((built / "build/exp12.html").read_text(), "html.parser")
    text = soup.get_text(" ", strip=True)
    checks = {li.get_text(" ", strip=True) for li in soup.select("tr.check.passed")}
    assert any("results.grad_check_max_rel_error < 1e-6" in c for c in checks)
    assert any("results.max_abs_diff_forward < 1e-12" in c for c in checks)
    assert "torch.nn.LSTM" in text


@needs_browser
@pytest.mark.parametrize("exp", UNIT)
def test_nothing_scrolls_sideways_at_phone_width(built: Path, exp: str, tmp_path: Path) -> None:
    """At 360 px in a real browser (#16 point 7): exp12-14's checks tables carry long
    measured values, which once pushed the page 7-27 px wider than the phone."""
    layout = phone_layout(built / "build" / f"{exp}.html", tmp_path)
    assert layout["scroll"] <= layout["width"] and layout["wide"] == [], layout
