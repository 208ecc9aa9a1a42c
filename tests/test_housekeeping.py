"""The cache's housekeeping and what users see of it, through the installed console script:
``-v`` naming each cache decision and why, ``cache info|prune|clear``, shell completion of ids
and themes, and ``doctor``.

One tiny project of standard-library programs (the cheap ``plain`` warm path), built twice,
HTML only; every other command reads what those two builds left.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import REPO

SCRIPT = Path(sys.executable).with_name("labreport")

_SPEC = """\
number: 1
title: Two plain programs
aim: To be cached.
programs:
  - code: first.py
  - code: second.py
"""


def labreport(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed console script, running this checkout's code; never a traceback."""
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    done = subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths), **(env or {})},
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    assert "Traceback" not in shown and "internal error" not in shown, shown[:2000]
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A project built twice: once fresh (``-v`` after the command), once after first.py
    changed (``-v`` before it); then its cache is listed, pruned and listed again."""
    root = tmp_path_factory.mktemp("housekeeping") / "course"
    folder = root / "experiments" / "one"
    folder.mkdir(parents=True)
    (root / "labreport.toml").write_text('[course]\ntitle = "T"\n', encoding="utf-8")
    (folder / "experiment.yaml").write_text(_SPEC, encoding="utf-8")
    (folder / "first.py").write_text("print('first')\n", encoding="utf-8")
    (folder / "second.py").write_text("print('second')\n", encoding="utf-8")
    steps: dict[str, object] = {"root": root}
    steps["fresh"] = labreport(root, "build", "one", "--format", "html", "-v")
    (folder / "first.py").write_text("print('first, edited')\n", encoding="utf-8")
    steps["edited"] = labreport(root, "-v", "build", "one", "--format", "html")
    steps["info"] = labreport(root, "cache", "info")
    steps["prune"] = labreport(root, "cache", "prune")
    steps["info_after"] = labreport(root, "cache", "info")
    return steps


def _result(project: dict[str, object], step: str) -> subprocess.CompletedProcess[str]:
    done = project[step]
    assert isinstance(done, subprocess.CompletedProcess)
    return done


def test_verbose_names_each_cache_decision_and_why(project: dict[str, object]) -> None:
    fresh, edited = _result(project, "fresh"), _result(project, "edited")
    assert fresh.returncode == 0 and edited.returncode == 0, fresh.stderr + edited.stderr
    assert "one: first.py: ran (no cached run of it)" in fresh.stderr.splitlines()
    assert "one: second.py: ran (no cached run of it)" in fresh.stderr.splitlines()
    assert "one: first.py: ran (its source changed)" in edited.stderr.splitlines()
    assert "one: second.py: cached" in edited.stderr.splitlines()
    root = project["root"]
    assert isinstance(root, Path)
    page = BeautifulSoup((root / "build" / "one.html").read_text(encoding="utf-8"), "html.parser")
    assert "first, edited" in page.get_text()  # the edited program's output, not the cached one


def test_verbose_is_in_help_of_the_group_and_of_commands(tmp_path: Path) -> None:
    for args in (["--help"], ["build", "--help"], ["cache", "prune", "--help"]):
        done = subprocess.run(
            [str(SCRIPT), *args], cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert done.returncode == 0 and "-v, --verbose" in done.stdout, done.stderr


def test_cache_info_counts_runs_per_experiment(project: dict[str, object]) -> None:
    info = _result(project, "info")
    assert info.returncode == 0, info.stderr
    first = info.stdout.splitlines()[0]
    assert first.startswith(".labreport/cache: 3 run(s)"), info.stdout  # first.py twice
    row = next(line.split() for line in info.stdout.splitlines() if line.startswith("  one"))
    assert row[:3] == ["one", "3", "run(s)"]
    assert "formula drawings: 0" in info.stdout


def test_cache_prune_removes_only_the_runs_no_spec_uses(project: dict[str, object]) -> None:
    prune, after = _result(project, "prune"), _result(project, "info_after")
    assert prune.returncode == 0, prune.stderr
    assert prune.stdout.startswith("removed 1 run(s)")
    assert after.stdout.startswith(".labreport/cache: 2 run(s)")
    root = project["root"]
    assert isinstance(root, Path)
    rebuilt = labreport(root, "-v", "build", "one", "--format", "html", "--fresh")
    # Up to date: nothing runs; the kept runs are the ones a build reads.
    assert "ran" not in rebuilt.stderr and rebuilt.returncode == 0


def test_cache_clear_asks_then_removes_only_labreport_s_folders(
    project: dict[str, object], tmp_path: Path
) -> None:
    root = project["root"]
    assert isinstance(root, Path)
    unasked = labreport(root, "cache", "clear")
    assert unasked.returncode == 2
    assert "add --yes" in unasked.stderr and "Traceback" not in unasked.stderr
    assert (root / ".labreport" / "cache").is_dir()
    # A cache folder that is a link: the link goes, never what it points to.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.json").write_text("{}", encoding="utf-8")
    (root / ".labreport" / "formulas").mkdir(exist_ok=True)
    (root / ".labreport" / "formulas").rmdir()
    (root / ".labreport" / "formulas").symlink_to(elsewhere)
    cleared = labreport(root, "cache", "clear", "--yes")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.startswith("removed ")
    assert not (root / ".labreport" / "cache").exists()
    assert not (root / ".labreport" / "formulas").exists()
    assert (elsewhere / "keep.json").is_file()
    assert (root / "experiments" / "one" / "first.py").is_file()
    assert (root / "build" / "one.html").is_file()
    info = labreport(root, "cache", "info")
    assert info.stdout.startswith(".labreport/cache: 0 run(s)")


def _complete(root: Path, words: str) -> list[str]:
    env = {
        "_LABREPORT_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    done = labreport(root, env=env)
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


def test_completion_of_ids_and_themes(project: dict[str, object]) -> None:
    root = project["root"]
    assert isinstance(root, Path)
    extra = root / "experiments" / "other"
    extra.mkdir(exist_ok=True)
    (extra / "experiment.yaml").write_text(_SPEC, encoding="utf-8")
    for command in ("build", "verify", "validate", "serve"):
        assert _complete(root, f"labreport {command} o") == ["one", "other"]
    assert _complete(root, "labreport build on") == ["one"]
    assert _complete(root, "labreport build --theme w") == ["worksheet"]
    assert "classic" in _complete(root, "labreport build --theme ")
    # Outside a project: nothing to complete, and no error on the shell.
    assert _complete(root.parent.parent, "labreport build o") == []


def test_doctor_reports_and_fails_on_what_a_build_needs(tmp_path: Path) -> None:
    done = labreport(tmp_path, "doctor")
    lines = {line.split()[1]: line.split()[0] for line in done.stdout.splitlines()}
    for piece in ("Python", "WeasyPrint", "Pango", "torch", "numpy", "matplotlib", "Landlock"):
        assert piece in lines, done.stdout
    assert lines["WeasyPrint"] == "ok" and lines["Pango"] == "ok"
    assert "no project here" in done.stdout
    assert done.returncode == (0 if "MISSING" not in done.stdout else 1)
    # Without fontconfig on PATH the fonts cannot be found: a build would lack them.
    blind = labreport(tmp_path, "doctor", env={"PATH": str(tmp_path)})
    assert blind.returncode == 1
    assert "MISSING" in blind.stdout and "fix:" in blind.stdout
    assert blind.stderr.startswith("Error: this machine lacks something a build needs")
