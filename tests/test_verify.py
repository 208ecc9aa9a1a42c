"""``labreport verify`` and the record's provenance: claims over seeds, and what made a record."""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from labreport import __version__
from labreport.fingerprint import installed_version

SCRIPT = Path(sys.executable).with_name("labreport")

_SPEC = """\
number: 1
title: Seeds
aim: To vary with the seed.
programs:
  - code: draw.py
    seed: {seed}
result: The program drew {{{{ results.drawn }}}} from seed {{{{ results.seed_value }}}}.
checks:
  - claim: The seed is small.
    expr: results.seed_value < 2
  - claim: NumPy was seeded with the run's seed.
    expr: results.drawn == results.expected
"""

# run_seed() is the run's seed; NumPy's global generator is seeded with it by labreport.
_PROGRAM = """\
import numpy as np
from labreport.record import record, run_seed

seed = run_seed()
record("seed_value", seed)
record("drawn", int(np.random.randint(0, 1000)))
record("expected", int(np.random.RandomState(seed).randint(0, 1000)))
print("seed", seed)
"""


def make_project(root: Path, seed: int = 0) -> Path:
    (root / "experiments" / "seeds").mkdir(parents=True)
    (root / "labreport.toml").write_text("", encoding="utf-8")
    (root / "experiments" / "seeds" / "experiment.yaml").write_text(
        _SPEC.format(seed=seed), encoding="utf-8"
    )
    (root / "experiments" / "seeds" / "draw.py").write_text(_PROGRAM, encoding="utf-8")
    return root


def labreport(cwd: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """The installed script; ``NAME=None`` removes a variable from its environment."""
    environment = {**os.environ, **env}
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in environment.items() if v is not None}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def verified(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = make_project(tmp_path_factory.mktemp("verify"))
    return root, labreport(root, "verify", "--seeds", "4")


def test_verify_reports_each_claim_over_the_seeds_and_exits_1(
    verified: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = verified
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "seeds: 2 check(s), 4 seeds (0, 1, 2, 3): 1 held on every seed, 1 did not"
    assert lines[1] == (
        "  FAILED 2/4  The seed is small.  -- failed on seed(s) 2, 3: results.seed_value < 2"
    )
    assert lines[2] == "  held 4/4  NumPy was seeded with the run's seed."
    assert result.stderr.splitlines()[-1].startswith(
        "Error: seeds: not every claim held on every seed"
    )


def test_verify_shows_mean_sd_and_range_of_each_recorded_number(
    verified: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = verified
    values = {
        line.split()[0]: line.split()[1:]
        for line in result.stdout.splitlines()
        if line.startswith("    ")
    }
    # seed_value is 0, 1, 2, 3: mean 1.5, sample sd 1.29
    assert values["seed_value"] == ["1.5", "±", "1.3", "[0,", "3]"]
    assert set(values) == {"seed_value", "drawn", "expected"}


def test_verify_runs_through_the_cache(
    verified: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, first = verified
    assert first.stderr.count("running draw.py") == 4
    again = labreport(root, "verify", "--seeds", "4")
    assert again.stdout == first.stdout
    assert "running" not in again.stderr and again.stderr.count("from cache") == 4
    more = labreport(root, "verify", "--seeds", "5")  # only seed 4 is new
    assert more.stderr.count("running draw.py") == 1


def test_verify_starts_at_the_spec_seed_and_passes_when_every_claim_holds(tmp_path: Path) -> None:
    root = make_project(tmp_path, seed=7)
    spec = root / "experiments" / "seeds" / "experiment.yaml"
    spec.write_text(spec.read_text().replace("seed_value < 2", "seed_value >= 7"))
    result = labreport(root, "verify", "seeds", "--seeds", "2", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "seeds: 2 check(s), 2 seeds (7, 8): 2 held on every seed"
    )


_ARGS_SPEC = """\
number: 1
title: Arguments
aim: To take the seed on the command line.
programs:
  - code: argv.py
    seed: 7
    args: ["--seed", "{seed}", "x{seed}y"]
    record: [argv_seed, suffix, drawn, expected]
checks:
  - claim: The seed on the command line is the seed NumPy runs with.
    expr: results.drawn == results.expected and results.suffix == "x" ~ results.argv_seed ~ "y"
"""

# No labreport import: the seed arrives as a command-line argument, like any script's option.
_ARGS_PROGRAM = """\
import sys

import numpy as np

print(sys.argv[1:])
argv_seed = int(sys.argv[2])
suffix = sys.argv[3]
drawn = int(np.random.randint(0, 1000))
expected = int(np.random.RandomState(argv_seed).randint(0, 1000))
"""


def test_seed_in_args_is_the_seed_the_program_runs_with(tmp_path: Path) -> None:
    folder = tmp_path / "experiments" / "args"
    folder.mkdir(parents=True)
    (tmp_path / "labreport.toml").write_text("", encoding="utf-8")
    (folder / "experiment.yaml").write_text(_ARGS_SPEC, encoding="utf-8")
    (folder / "argv.py").write_text(_ARGS_PROGRAM, encoding="utf-8")

    built = labreport(tmp_path, "build", "args", "--format", "html", "--strict", "-q")
    assert built.returncode == 0, built.stderr
    soup = BeautifulSoup(
        (tmp_path / "build" / "args.html").read_text(encoding="utf-8"), "html.parser"
    )
    [output] = soup.select("pre.output")
    assert output.get_text().strip() == "['--seed', '7', 'x7y']"

    # verify's seeds 7 and 8 reach the command line too (8: the cache key changed with the seed).
    verified = labreport(tmp_path, "verify", "args", "--seeds", "2", "-q")
    assert verified.returncode == 0, verified.stderr
    lines = verified.stdout.splitlines()
    assert lines[0] == "args: 1 check(s), 2 seeds (7, 8): 1 held on every seed"
    values = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("    ")}
    assert values["argv_seed"] == ["7.5", "±", "0.71", "[7,", "8]"]


def test_verify_with_a_broken_spec_exits_2(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    spec = root / "experiments" / "seeds" / "experiment.yaml"
    spec.write_text(spec.read_text().replace("aim:", "aims:"))
    result = labreport(root, "verify", "--seeds", "2")
    assert result.returncode == 2, result.stderr
    assert "seeds: not verified: experiments/seeds/experiment.yaml" in result.stdout


# ------------------------------------------------------------------------------ provenance


def provenance(html: Path) -> str:
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
    [found] = soup.select("p.provenance")
    return " ".join(found.get_text().split())


def test_the_record_says_what_made_it(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    assert labreport(root, "build", "seeds", "--format", "html").returncode == 0
    text = provenance(root / "build" / "seeds.html")
    date = datetime.datetime.fromtimestamp(
        int(os.environ["SOURCE_DATE_EPOCH"]), datetime.UTC
    ).date()
    assert text.startswith(f"Generated by labreport {__version__} on {date.isoformat()} ")
    for part in (
        f"Python {platform.python_version()}",
        f"NumPy {installed_version('numpy')}",
        f"PyTorch {installed_version('torch')} (not used)",
        f"matplotlib {installed_version('matplotlib')}",
        "1 thread per program, seed 0",
    ):
        assert part in text, part
    assert re.search(r", on .+, 1 thread", text)
    assert "cache" not in text

    # A prose edit re-renders from the cached run, and the record says so.
    spec = root / "experiments" / "seeds" / "experiment.yaml"
    spec.write_text(spec.read_text().replace("The program drew", "It drew"))
    assert labreport(root, "build", "seeds", "--format", "html").returncode == 0
    assert provenance(root / "build" / "seeds.html").endswith(
        "; the results of the program were taken from the run cache."
    )


def test_other_numeric_kernels_are_another_run_and_are_named(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    first = labreport(root, "build", "seeds", "--format", "html", OPENBLAS_CORETYPE=None)
    assert first.returncode == 0
    assert "OPENBLAS_CORETYPE" not in provenance(root / "build" / "seeds.html")
    other = labreport(root, "build", "seeds", "--format", "html", OPENBLAS_CORETYPE="Haswell")
    assert other.returncode == 0 and "running draw.py" in other.stderr  # not the cached run
    assert "OPENBLAS_CORETYPE=Haswell" in provenance(root / "build" / "seeds.html")


def test_a_seed_whose_program_fails_is_reported_and_exits_1(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    program = root / "experiments" / "seeds" / "draw.py"
    program.write_text(
        program.read_text() + "if seed == 1:\n    raise ValueError('unlucky seed')\n"
    )
    result = labreport(root, "verify", "--seeds", "3", "-q")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "seeds: 2 check(s), 3 seeds (0, 1, 2): 1 seed(s) FAILED; "
        "of the 2 other(s): 1 held on every seed, 1 did not"
    )
    assert lines[1].startswith("  seed 1: FAILED: seeds: draw.py failed at line ")
    assert "ValueError: unlucky seed" in lines[1]
    assert (
        lines[2]
        == "  FAILED 1/2  The seed is small.  -- failed on seed(s) 2: results.seed_value < 2"
    )


def test_a_theme_can_hide_the_provenance(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "templates" / "classic").mkdir(parents=True)
    (root / "templates" / "classic" / "record.html").write_text(
        '{% extends "builtin/classic/record.html" %}{% block provenance %}{% endblock %}',
        encoding="utf-8",
    )
    assert labreport(root, "build", "seeds", "--format", "html").returncode == 0
    html = (root / "build" / "seeds.html").read_text(encoding="utf-8")
    assert "The program drew" in html and 'class="provenance"' not in html
