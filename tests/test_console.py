"""Every command through the installed ``labreport`` script, as a user runs it: a new project
from ``init``, an experiment from ``new``, the themes, the schema, the list and a live preview.
(build, book, validate and verify have their own files: test_exit_codes.py, test_verify.py.)"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labreport import __version__
from labreport.cli import cli, templates

SCRIPT = Path(sys.executable).with_name("labreport")


def labreport(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made by ``labreport init``, with one experiment added by ``labreport new``."""
    root = tmp_path_factory.mktemp("console") / "mylab"
    made = labreport(root.parent, "init", "mylab", "--course", "NEURAL NETWORKS")
    assert made.returncode == 0, made.stderr
    assert "labreport.toml" in made.stdout and "Next: cd mylab && labreport build example" in (
        made.stderr
    )
    added = labreport(root, "new", "exp2", "--format", "worksheet", "--title", "Second")
    assert added.returncode == 0, added.stderr
    return root


def test_every_command_is_covered_here_or_in_its_own_file() -> None:
    covered = {"init", "new", "list", "templates", "schema", "serve"}
    # test_exit_codes.py, test_verify.py, test_class.py, test_housekeeping.py
    elsewhere = {"build", "book", "validate", "verify", "class", "cache", "doctor"}
    assert set(cli.commands) == covered | elsewhere


def test_version_and_help() -> None:
    version = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"labreport, version {__version__}"
    commands = [[], *([name] for name in sorted(cli.commands))]
    commands += [["templates", name] for name in sorted(templates.commands)]
    for command in commands:
        shown = subprocess.run([str(SCRIPT), *command, "--help"], capture_output=True, text=True)
        assert shown.returncode == 0, command
        assert shown.stdout.startswith("Usage: labreport"), command
        # --debug works before the command and after it, for every command.
        assert re.search(r"^  --debug +Show Python tracebacks for errors\.$", shown.stdout, re.M), (
            command
        )


def test_debug_is_accepted_after_any_command(lab: Path) -> None:
    for args in (["list"], ["templates", "list"], ["schema"], ["validate", "exp2"]):
        after = labreport(lab, *args, "--debug")
        assert after.returncode == 0, (args, after.stderr)
        before = labreport(lab, "--debug", *args)
        assert (before.returncode, before.stdout) == (0, after.stdout), args


def test_init_makes_a_project_that_builds_at_once(lab: Path) -> None:
    config = (lab / "labreport.toml").read_text(encoding="utf-8")
    assert 'title = "NEURAL NETWORKS"' in config
    built = labreport(lab, "build", "example", "--format", "html", "--strict")
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "build/example.html"
    again = labreport(lab.parent, "init", "mylab")
    assert again.returncode == 2 and "is a project already" in again.stderr


def test_init_refuses_to_nest_a_project_unless_forced(tmp_path: Path) -> None:
    assert labreport(tmp_path, "init", "outer").returncode == 0
    outer = (tmp_path / "outer").resolve()
    fix = "(create the new project outside it, or pass --force to nest one in it)"
    nested = labreport(outer, "init", "inner")
    assert nested.returncode == 2
    assert nested.stdout == ""
    assert nested.stderr == (
        f"Error: inner: is inside another project, whose labreport.toml is "
        f"{outer / 'labreport.toml'} {fix}\n"
    )
    assert not (outer / "inner").exists()
    here = labreport(outer / "experiments", "init")
    assert here.returncode == 2
    assert here.stderr == (
        f"Error: {outer / 'experiments'}: is inside another project, whose labreport.toml is "
        f"{outer / 'labreport.toml'} {fix}\n"
    )
    assert not (outer / "experiments" / "labreport.toml").exists()
    forced = labreport(outer, "init", "inner", "--force")
    assert forced.returncode == 0, forced.stderr
    assert (outer / "inner" / "labreport.toml").is_file()
    listed = labreport(outer / "inner", "list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["example"]
    again = labreport(outer, "init", "inner", "--force")
    assert again.returncode == 2 and "is a project already" in again.stderr, "never overwritten"


def test_new_scaffolds_a_spec_that_validates(lab: Path) -> None:
    assert (lab / "experiments" / "exp2" / "experiment.yaml").is_file()
    checked = labreport(lab, "validate", "exp2")
    assert checked.returncode == 0, checked.stderr
    assert re.fullmatch(
        r"1 experiment\(s\) and \d template folder\(s\): ok", checked.stdout.strip()
    )
    duplicate = labreport(lab, "new", "exp2")
    assert duplicate.returncode == 2 and "exp2" in duplicate.stderr


def test_list_shows_both_experiments(lab: Path) -> None:
    listed = labreport(lab, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert rows == ["example", "exp2"]
    assert listed.stdout.splitlines()[0].split() == ["ID", "NO.", "TITLE", "THEME"]


def test_templates_list_and_eject(lab: Path) -> None:
    listed = labreport(lab, "templates", "list")
    assert listed.returncode == 0, listed.stderr
    themes = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert themes["classic"] == "built-in" and themes["worksheet"] == "built-in"
    ejected = labreport(lab, "templates", "eject", "classic", "--to", str(lab / "ejected"))
    assert ejected.returncode == 0, ejected.stderr
    assert (lab / "ejected" / "classic" / "record.html").is_file()
    refused = labreport(lab, "templates", "eject", "classic", "--to", str(lab / "ejected"))
    assert refused.returncode == 2 and "--force" in refused.stderr
    unknown = labreport(lab, "templates", "eject", "fancy")
    assert unknown.returncode == 2, unknown.stderr


def test_schema_is_json_that_knows_the_spec_fields(lab: Path) -> None:
    shown = labreport(lab, "schema")
    assert shown.returncode == 0, shown.stderr
    schema = json.loads(shown.stdout)
    assert {"number", "title", "aim", "programs", "checks"} <= set(schema["properties"])


def test_serve_previews_and_ctrl_c_exits_130(lab: Path) -> None:
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "example", "--port", "0"], cwd=lab, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"Serving (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)", line)
        assert match, line
        deadline = time.monotonic() + 120  # a bound on a hang, not a measurement
        page = ""
        while "Experiment" not in page and time.monotonic() < deadline:
            time.sleep(0.2)
            with urllib.request.urlopen(match.group(1) + "example.html", timeout=10) as answer:
                page = answer.read().decode("utf-8")
        assert "Experiment" in page
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr


def test_old_spellings_of_theme_still_work_for_one_release_with_a_warning(
    tmp_path: Path, lab: Path
) -> None:
    """0.2 calls the look of a record its theme everywhere: spec key `theme:`, `build --theme`,
    `new --theme`. The 0.1 spellings (`template:`, `--template`, `new --format`) still work."""
    root = tmp_path / "lab"
    shutil.copytree(lab, root)
    made = labreport(root, "new", "old", "--format", "worksheet")
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines()[0] == (
        "Warning: --format is deprecated and will stop working in the next release; use --theme"
    )
    spec = root / "experiments/old/experiment.yaml"
    assert "theme: worksheet" in spec.read_text()
    spec.write_text(spec.read_text().replace("theme: worksheet", "template: worksheet"))
    built = labreport(root, "build", "old", "--format", "html", "--template", "classic")
    assert built.returncode == 0, built.stderr
    warnings = [line for line in built.stderr.splitlines() if "deprecated" in line]
    assert warnings[0] == (
        "Warning: --template is deprecated and will stop working in the next release; use --theme"
    )
    assert re.search(
        r"experiments/old/experiment.yaml:\d+: template: is deprecated and will stop working "
        r"in the next release; call it theme:",
        warnings[1],
    ), warnings
    page = (root / "build/old.html").read_text()
    assert 'class="record classic"' in page  # the option won over the spec, as --theme does
    listed = labreport(root, "list")
    assert "old" in listed.stdout and "worksheet" in listed.stdout.split("old", 1)[1]
    both = spec.read_text().replace("template: worksheet", "template: worksheet\ntheme: classic")
    spec.write_text(both)
    clash = labreport(root, "validate", "old")
    assert clash.returncode == 2
    assert "template: is the old name of theme: give only theme:" in clash.stderr


@pytest.mark.parametrize(
    "name", ["../../../tmp/x", "/tmp/x", "..", ".", "a/b", "", "-x", "classic/../classic",
             "../templates/classic"],
)  # fmt: skip
def test_eject_refuses_a_theme_name_that_is_a_path(lab: Path, name: str) -> None:
    outside = lab.parent / "outside"
    (outside / "keep").mkdir(parents=True, exist_ok=True)
    for force in ((), ("--force",)):
        args = ("templates", "eject", "--to", str(lab / "ejected2" / "deep"), *force, "--", name)
        refused = labreport(lab, *args)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr == (
            f"Error: {name!r} is not a theme name: a theme is the name of a folder (letters, "
            "digits, '-' and '_'), never a path; see `labreport templates list`\n"
        )
    assert (outside / "keep").is_dir() and not (lab / "ejected2").exists()
