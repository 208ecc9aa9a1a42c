"""exp11 (the longest training of the course) builds with --strict and every check holds; a file
of its own so that it builds beside the rest of the unit (test_unit_experiments.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_page_furniture import needs_browser, phone_layout
from test_unit_experiments import assert_complete, build_unit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_unit(tmp_path_factory, ("exp11",))


def test_exp11_is_complete_and_every_check_passes(built: Path) -> None:
    assert_complete(built, "exp11")


@needs_browser
def test_nothing_scrolls_sideways_at_phone_width(built: Path, tmp_path: Path) -> None:
    layout = phone_layout(built / "build" / "exp11.html", tmp_path)
    assert layout["scroll"] <= layout["width"] and layout["wide"] == [], layout
