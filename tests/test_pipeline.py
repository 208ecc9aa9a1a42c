"""Programs that form a pipeline (`workdir: shared`), and files the record shows (`show_files:`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_console import SCRIPT

from conftest import copy_project

SPEC = "experiments/chain/experiment.yaml"


def labreport(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=300
    )


def summary(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project("pipeline", tmp_path_factory.mktemp("pipeline") / "pipeline")
    done = labreport(root, "build", "chain")
    assert done.returncode == 0, done.stderr
    return root


def test_a_later_program_reads_what_an_earlier_one_wrote(built: Path) -> None:
    soup = BeautifulSoup((built / "build/chain.html").read_text(), "html.parser")
    assert "The fitted slope is 2." in soup.select_one("section.result").get_text()
    table = soup.select_one('figure.run-file[data-file="points.csv"] table.csv')
    rows = [[cell.get_text() for cell in tr.select("th, td")] for tr in table.select("tr")]
    assert rows == [["x", "y"], ["0", "1"], ["1", "3"], ["2", "5"], ["3", "7"], ["4", "9"]]
    text = soup.select_one('figure.run-file[data-file="fit.txt"] pre').get_text()
    assert text == "slope = 2\n"
    (image,) = soup.select("figure.run-figure img")  # residuals.png, shown as a figure
    assert image["src"].startswith("data:image/png;base64,")
    assert "residuals.png, written by fit.py" in image["alt"]
    pdf = " ".join(page.extract_text() for page in PdfReader(built / "build/chain.pdf").pages)
    assert "points.csv, written by prepare.py" in pdf and "slope = 2" in pdf


def test_the_cache_keys_a_later_program_by_the_one_before_it(built: Path, tmp_path: Path) -> None:
    root = copy_project("pipeline", tmp_path / "pipeline")
    assert "(2 runs, 0 from cache)" in summary(
        labreport(root, "build", "chain", "--format", "html")
    )
    prose = root / SPEC
    prose.write_text(prose.read_text().replace("fitted slope", "measured slope"))
    assert "(0 runs, 2 from cache)" in summary(
        labreport(root, "build", "chain", "--format", "html")
    )
    # The first program changes what it writes: the second must run again on the new file.
    prepare = root / "experiments/chain/prepare.py"
    prepare.write_text(prepare.read_text().replace("2 * x + 1", "3 * x + 1"))
    assert "(2 runs, 0 from cache)" in summary(
        labreport(root, "build", "chain", "--format", "html")
    )
    page = (root / "build/chain.html").read_text()
    assert "The measured slope is 3." in page


def test_without_a_shared_workdir_each_program_starts_from_the_folder(tmp_path: Path) -> None:
    root = copy_project("pipeline", tmp_path / "pipeline")
    spec = root / SPEC
    spec.write_text(spec.read_text().replace("workdir: shared\n", ""))
    done = labreport(root, "build", "chain", "--format", "html")
    assert done.returncode == 1
    assert "fit.py failed at line 7: FileNotFoundError" in done.stderr, done.stderr
    assert "points.csv" in done.stderr


def test_a_file_the_program_did_not_write_is_a_warning(tmp_path: Path) -> None:
    root = copy_project("pipeline", tmp_path / "pipeline")
    spec = root / SPEC
    spec.write_text(spec.read_text().replace("[fit.txt, residuals.png]", "[fit.txt, fit.csv]"))
    done = labreport(root, "build", "chain", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert (
        "chain: warning: fit.py: show_files: fit.csv was not written, or is over 2 MiB: the "
        "record does not show it"
    ) in done.stderr.splitlines()
