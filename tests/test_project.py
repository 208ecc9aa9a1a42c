"""labreport.toml: found from any subfolder, validated, and shown in the worksheet furniture."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from labreport.cli import cli
from labreport.errors import ProjectError
from labreport.project import PLACEHOLDER, find_project

CONFIG = """\
[course]
title = "MACHINE LEARNING"
codes = "ML101"
academic_year = "2025-26"

[student]
name = "Asha Rao"
id = ""

[dates]
ws = "2025-03-01"
"""

SPEC = """\
number: 3
title: Furniture
theme: worksheet
aim: To check the header and footer.
{extra}programs:
  - code: prog.py
    task: Print something.
"""


def make_project(root: Path, config: str = CONFIG, extra: str = "") -> Path:
    (root / "labreport.toml").write_text(config)
    folder = root / "experiments" / "ws"
    folder.mkdir(parents=True)
    (folder / "experiment.yaml").write_text(SPEC.format(extra=extra))
    (folder / "prog.py").write_text("print('hello')\n")
    return root


def build_html(
    root: Path, monkeypatch: pytest.MonkeyPatch, cwd: Path | None = None
) -> BeautifulSoup:
    monkeypatch.chdir(cwd or root)
    result = CliRunner().invoke(cli, ["build", "ws", "--format", "html"])
    assert result.exit_code == 0, result.output
    return BeautifulSoup((root / "build" / "ws.html").read_text(), "html.parser")


def furniture(soup: BeautifulSoup) -> dict[str, str]:
    cells = [
        c.get_text(" ", strip=True) for c in soup.select("table.furniture th, table.furniture td")
    ]
    pairs = {}
    for table in soup.select("table.furniture"):
        for row in table.select("tr"):
            texts = [c.get_text(" ", strip=True) for c in row.find_all(["th", "td"])]
            for label, value in zip(texts[::2], texts[1::2], strict=False):
                pairs[label] = value
    assert cells
    return pairs


def test_found_from_a_subfolder(tmp_path: Path) -> None:
    make_project(tmp_path)
    project = find_project(tmp_path / "experiments" / "ws")
    assert project.root == tmp_path.resolve()
    assert project.config.course.title == "MACHINE LEARNING"


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"no labreport.toml in .* or any folder above it"):
        find_project(tmp_path)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "labreport.toml").write_text("[course\ntitle = 1\n")
    with pytest.raises(ProjectError, match=r"labreport.toml: invalid TOML"):
        find_project(tmp_path)


def test_unknown_config_key(tmp_path: Path) -> None:
    (tmp_path / "labreport.toml").write_text("[course]\ntitel = 'x'\n")
    with pytest.raises(ProjectError, match=r"labreport.toml: course.titel: unknown key"):
        find_project(tmp_path)


def test_furniture_from_the_config_and_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path)
    soup = build_html(tmp_path, monkeypatch, cwd=tmp_path / "experiments")
    cells = furniture(soup)
    assert cells["Experiment #"] == "3"
    assert cells["Student Name"] == "Asha Rao"
    assert cells["Student ID"] == PLACEHOLDER
    assert cells["Date"] == "2025-03-01"
    assert cells["Course Title"] == "MACHINE LEARNING"
    assert cells["Course Code(s)"] == "ML101"
    assert "ACADEMIC YEAR: 2025-26" in soup.select_one("footer").get_text(" ", strip=True)


def test_blank_config_prints_placeholders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path, config="")
    cells = furniture(build_html(tmp_path, monkeypatch))
    for label in ("Student Name", "Student ID", "Date", "Course Title", "Course Code(s)"):
        assert cells[label] == PLACEHOLDER


def test_spec_overrides_course_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path, extra="course:\n  title: DEEP LEARNING LAB\ndate: '2025-04-02'\n")
    cells = furniture(build_html(tmp_path, monkeypatch))
    assert cells["Course Title"] == "DEEP LEARNING LAB"
    assert cells["Course Code(s)"] == "ML101"
    assert cells["Date"] == "2025-04-02"


def test_html_shows_header_at_top_and_footer_at_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soup = build_html(make_project(tmp_path), monkeypatch)
    assert len(soup.select("header.page-header")) == 1
    assert len(soup.select("footer.page-footer")) == 1
    style = soup.find("style").get_text()
    # On screen the footer is moved after the body; in print both become running elements.
    assert "footer.page-footer { order: 99" in style
    assert "position: running(page-footer)" in style
