"""exp11 (the longest training of the course) builds with --strict and every check holds; a file
of its own so that it builds beside the rest of the unit (test_unit_experiments.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_unit_experiments import assert_complete, build_unit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_unit(tmp_path_factory, ("exp11",))


def test_exp11_is_complete_and_every_check_passes(built: Path) -> None:
    assert_complete(built, "exp11")
