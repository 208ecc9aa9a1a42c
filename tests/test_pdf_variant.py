"""Archival PDFs (``--pdf-variant``, ``[build] pdf_variant``; issue 18 point 7), through the
installed script: what the PDF declares (its XMP metadata, read with pypdf), that switching the
variant rebuilds, that the archival bytes are reproducible, that the bound book is archival too,
and that an unknown variant is refused with exit status 2.

One tiny standard-library project, built four times (the fourth a book) in one module fixture.
"""

from __future__ import annotations

import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pypdf
import pytest

from labreport.errors import EXIT_USAGE
from labreport.pdfvariant import VARIANTS

SCRIPT = Path(sys.executable).with_name("labreport")
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
PDFUAID = "{http://www.aiim.org/pdfua/ns/id/}"

_SPEC = """\
number: 1
title: Hello
aim: To print a line.
programs:
  - code: hello.py
"""
_TOML = """\
[course]
title = "ARCHIVE COURSE"
codes = "A101"
academic_year = "2025-26"
"""


@dataclass(frozen=True)
class Builds:
    root: Path
    plain: bytes
    archival: bytes
    again: bytes
    archival_out: subprocess.CompletedProcess[str]
    book_out: subprocess.CompletedProcess[str]
    record_ua: bytes
    book_ua: bytes


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    root = tmp_path_factory.mktemp("pdfa") / "archive"
    exp = root / "experiments" / "hello"
    exp.mkdir(parents=True)
    (exp / "experiment.yaml").write_text(_SPEC, encoding="utf-8")
    (exp / "hello.py").write_text('print("hello, archive")\n', encoding="utf-8")
    (root / "labreport.toml").write_text(_TOML, encoding="utf-8")
    pdf = root / "build" / "hello.pdf"

    assert _run(root, "build", "hello", "-q").returncode == 0
    plain = pdf.read_bytes()
    archival_out = _run(root, "build", "hello", "-q", "--pdf-variant", "PDF/A-3u")
    archival = pdf.read_bytes()
    # Into a second folder: a rebuild from the same cached run (--force would run the program
    # again, and the record says where its results came from).
    again_out = _run(root, "build", "hello", "-q", "--out", "again", "--pdf-variant", "pdf/a-3u")
    assert again_out.returncode == 0, again_out.stderr
    again = (root / "again" / "hello.pdf").read_bytes()
    (root / "labreport.toml").write_text(
        _TOML + '\n[build]\npdf_variant = "pdf/ua-1"\n', encoding="utf-8"
    )
    book_out = _run(root, "book", "-q")
    return Builds(
        root, plain, archival, again, archival_out, book_out,
        pdf.read_bytes(), (root / "build" / "lab-record.pdf").read_bytes(),
    )  # fmt: skip


def _declared(pdf: bytes) -> dict[str, str]:
    """The conformance attributes of the PDF's XMP metadata (pdfaid:*, pdfuaid:*)."""
    root = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    if "/Metadata" not in root:
        return {}
    xmp = ET.fromstring(root["/Metadata"].get_object().get_data())
    found = {}
    for element in xmp.iter():
        for name, value in element.attrib.items():
            for prefix, ns in (("pdfaid:", PDFAID), ("pdfuaid:", PDFUAID)):
                if name.startswith(ns):
                    found[prefix + name[len(ns) :]] = value
    return found


def test_the_default_pdf_declares_no_conformance(builds: Builds) -> None:
    assert builds.plain.startswith(b"%PDF-")
    assert _declared(builds.plain) == {}


def test_pdf_a_3u_declares_part_3_level_u_and_rebuilds(builds: Builds) -> None:
    assert builds.archival_out.returncode == 0, builds.archival_out.stderr
    assert builds.archival_out.stdout.split() == ["build/hello.html", "build/hello.pdf"]
    assert _declared(builds.archival) == {"pdfaid:part": "3", "pdfaid:conformance": "U"}
    assert builds.archival != builds.plain


def test_archival_bytes_are_the_same_across_builds(builds: Builds) -> None:
    assert builds.again == builds.archival


def test_pdf_ua_1_from_the_toml_reaches_the_records_and_the_book(builds: Builds) -> None:
    assert builds.book_out.returncode == 0, builds.book_out.stderr
    assert _declared(builds.record_ua) == {"pdfuaid:part": "1"}
    assert _declared(builds.book_ua) == {"pdfuaid:part": "1"}
    catalog = pypdf.PdfReader(io.BytesIO(builds.book_ua)).trailer["/Root"]
    assert "/StructTreeRoot" in catalog  # PDF/UA is tagged


def test_an_unknown_variant_is_a_usage_error_listing_the_accepted(builds: Builds) -> None:
    result = _run(builds.root, "build", "hello", "--pdf-variant", "pdf/a-9z")
    assert result.returncode == EXIT_USAGE
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "--pdf-variant" in lines[0] and "'pdf/a-9z'" in lines[0]
    assert all(variant in lines[0] for variant in VARIANTS)
    assert {"pdf/a-3u", "pdf/ua-1"} <= set(VARIANTS)


def test_an_unknown_variant_in_the_toml_is_exit_2_naming_the_key(builds: Builds) -> None:
    toml = builds.root / "labreport.toml"
    kept = toml.read_text(encoding="utf-8")
    try:
        toml.write_text(_TOML + '\n[build]\npdf_variant = "pdf/x-4"\n', encoding="utf-8")
        result = _run(builds.root, "book")
    finally:
        toml.write_text(kept, encoding="utf-8")
    assert result.returncode == EXIT_USAGE
    line = result.stderr.strip()
    assert "\n" not in line and "build.pdf_variant" in line and "'pdf/x-4'" in line
    assert "pdf/a-3u" in line
