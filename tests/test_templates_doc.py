"""docs/templates.md's worked example, built exactly as the page shows it (so it cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from pypdf import PdfReader

from labreport.cli import cli

from conftest import REPO, copy_project

DOC = REPO / "docs" / "templates.md"
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)\n```", re.DOTALL)


def doc_files() -> dict[str, str]:
    return {m["path"]: m["body"] + "\n" for m in FILE_BLOCK.finditer(DOC.read_text())}


def test_doc_has_the_three_files() -> None:
    assert sorted(doc_files()) == [
        "templates/worksheet/record.html",
        "templates/worksheet/riverside-logo.svg",
        "templates/worksheet/riverside.css",
    ]


def test_worked_example_builds_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project("mini", tmp_path / "mini")
    for relative, body in doc_files().items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(body)
    monkeypatch.chdir(root)
    runner = CliRunner()
    listing = runner.invoke(cli, ["templates", "list"]).output
    assert re.search(r"^worksheet\s+project\s+templates/worksheet\s+\(hides the built-in one\)$",
                     listing, re.MULTILINE), listing  # fmt: skip
    result = runner.invoke(cli, ["build", "beta"])
    assert result.exit_code == 0, result.output

    soup = BeautifulSoup((root / "build/beta.html").read_text(), "html.parser")
    header = soup.select_one("header.page-header")
    assert header.select_one(".college-name").get_text() == "Riverside Institute of Technology"
    assert header.select_one("img.college-logo")["src"].startswith("data:image/svg+xml;base64,")
    labels = [h.get_text(strip=True) for h in soup.select("h2.label")]
    assert "Objective of the Experiment:" in labels and "Aim/Objective:" not in labels
    assert labels.index("Student Declaration:") == labels.index("Post-Lab:") - 1
    assert soup.select_one("section.declaration") is not None

    reader = PdfReader(root / "build/beta.pdf")
    pages = [page.extract_text() for page in reader.pages]
    assert all("Riverside Institute of Technology" in text for text in pages)
    assert all("Experiment #" in text for text in pages), "the rest of the header stays"
    whole = "\n".join(pages)
    assert "Objective of the Experiment:" in whole and "Student Declaration:" in whole
