"""Student seeds and student details (issue 17, points 1 and 2): a student's own numbers, and the
student's name, ID and section on every page of both themes and on the book's cover and index.

One tiny project of standard-library programs (the cheap warm path), bound once through the
installed script with the details coming from all three places (option > environment > toml).
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from labreport.errors import ProjectError
from labreport.project import PLACEHOLDER, StudentConfig, student_details
from labreport.provenance import Provenance
from labreport.seeds import SEED_LIMIT, resolve_seeds, student_seed
from labreport.spec import ExperimentSource, parse_spec

SCRIPT = Path(sys.executable).with_name("labreport")

# Prints enough lines for a record of three or more pages, and says which seed it ran with.
_PROGRAM = """\
import random
import sys

seed = int(sys.argv[sys.argv.index("--seed") + 1])
drawn = random.random()
print("seed", seed)
for i in range(130):
    print("line", i)
"""

_SPEC = """\
number: {number}
title: {title}
theme: {theme}
aim: To print many lines.
programs:
  - code: count.py
    seed: {seed}
    args: ["--seed", "{{seed}}"]
    record: [seed, drawn]
checks:
  - claim: The seed is one of a student's.
    expr: 0 <= results.seed < 2**31
"""

_TOML = """\
[course]
title = "TINY COURSE"

[student]
name = "Toml Name"
id = "TOML-ID"
section = "Toml Section"
{extra}
"""


def make_project(root: Path, extra: str = "", seed: str = "student") -> Path:
    for exp_id, number, theme in (("one", 1, "classic"), ("two", 2, "worksheet")):
        folder = root / "experiments" / exp_id
        folder.mkdir(parents=True)
        title = f"A {theme} record"
        spec = _SPEC.format(number=number, title=title, theme=theme, seed=seed)
        (folder / "experiment.yaml").write_text(spec, encoding="utf-8")
        (folder / "count.py").write_text(_PROGRAM, encoding="utf-8")
    (root / "labreport.toml").write_text(_TOML.format(extra=extra), encoding="utf-8")
    return root


def labreport(cwd: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """The installed script; ``NAME=None`` removes a variable from its environment."""
    environment = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600", **env}
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in environment.items() if v is not None}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


NO_STUDENT_ENV = dict.fromkeys(
    ("LABREPORT_STUDENT_NAME", "LABREPORT_STUDENT_ID", "LABREPORT_STUDENT_SECTION")
)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book, its name from the option, its ID from the environment, its section from
    labreport.toml."""
    root = make_project(tmp_path_factory.mktemp("students"))
    made = labreport(
        root, "book", "-q", "--student-name", "Cli Name",
        LABREPORT_STUDENT_NAME="Env Name", LABREPORT_STUDENT_ID="ENV-ID",
        LABREPORT_STUDENT_SECTION=None,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return root


def pages(pdf: Path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages]


# ------------------------------------------------------------------------------ the seeds


def test_a_student_seed_is_sha256_of_the_id_the_experiment_and_the_program() -> None:
    """Golden values: SHA-256 is exact, so these hold on every machine and in every process."""
    assert student_seed("2100031234", "exp5", "rnn_numpy.py") == 1409595606
    assert student_seed("ENV-ID", "one", "count.py") == 814686485
    # The ID is stripped and case-folded; the experiment and the program each change the seed.
    assert student_seed(" AB12 ", "exp1", "p.py") == student_seed("ab12", "exp1", "p.py")
    assert student_seed("ab12", "exp1", "q.py") != student_seed("ab12", "exp1", "p.py")
    assert student_seed("ab12", "exp2", "p.py") != student_seed("ab12", "exp1", "p.py")
    assert len({student_seed(f"S{k}", "exp1", "p.py") for k in range(50)}) == 50
    assert all(0 <= student_seed(f"S{k}", "e", "p.py") < SEED_LIMIT for k in range(50))


def _source(tmp_path: Path) -> ExperimentSource:
    programs = "".join(
        f"  - code: {code}\n    seed: {seed}\n"
        for code, seed in (("a.py", 0), ("b.py", 0), ("c.py", 1), ("d.py", "student"))
    )
    spec = parse_spec(f"number: 1\ntitle: T\naim: A\nprograms:\n{programs}", Path("e.yaml"))
    folder = tmp_path / "experiments" / "exp1"
    return ExperimentSource("exp1", folder, folder / "experiment.yaml", spec)


def test_which_programs_derive_and_which_share_a_seed(tmp_path: Path) -> None:
    source = _source(tmp_path)

    def seeds(resolved: ExperimentSource) -> list[int]:
        return [p.run_seed for p in resolved.spec.programs]

    own = {code: student_seed("X1", "exp1", code) for code in ("a.py", "c.py", "d.py")}
    # The switch off: integer seeds stay, seed: student derives from its own path.
    assert seeds(resolve_seeds(source, "X1", "spec")) == [0, 0, 1, own["d.py"]]
    # The switch on: programs the spec gives one seed share the first one's student seed (a
    # post-lab program retraining the in-lab model still retrains exactly it).
    switched = resolve_seeds(source, " X1 ", "student")
    assert seeds(switched) == [own["a.py"], own["a.py"], own["c.py"], own["d.py"]]
    assert switched.student_id == "X1" and switched.student_seeded == (True,) * 4
    with pytest.raises(ProjectError) as failed:
        resolve_seeds(source, "  ", "spec")
    assert failed.value.exit_code == 2
    assert failed.value.problems[0].field == "programs[3].seed"
    assert failed.value.problems[0].where == "experiments/exp1/experiment.yaml"


def test_the_derived_seed_runs_and_the_provenance_says_whose_it_is(book: Path) -> None:
    seed = student_seed("ENV-ID", "one", "count.py")
    soup = BeautifulSoup((book / "build" / "one.html").read_text(), "html.parser")
    provenance = " ".join(soup.select_one(".provenance").get_text().split())
    assert f"seed {seed} (from student ID ENV-ID)" in provenance
    # It reached the program's command line ({seed} in args:) and the check read it.
    assert "✓" in soup.select_one("tr.check").get_text()
    assert f"seed {seed}" in soup.select_one("pre.output").get_text()


def test_a_student_seed_without_a_student_id_exits_2_naming_where_to_set_it(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "noid", extra='seeds = "student"')
    toml = root / "labreport.toml"
    toml.write_text(toml.read_text().replace('id = "TOML-ID"', 'id = ""'))
    failed = labreport(root, "build", "--all", **NO_STUDENT_ENV)
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("Error: labreport.toml: ")
    assert "[student] in labreport.toml" in lines[0] and "LABREPORT_STUDENT_ID" in lines[0]
    assert "--student-id" in lines[0] and "Traceback" not in failed.stderr
    # seed: student in a spec, the switch off: the spec's field is named, by build and validate.
    toml.write_text(toml.read_text().replace('seeds = "student"', ""))
    field = "experiments/one/experiment.yaml: programs[0].seed: is student, but no student ID"
    failed = labreport(root, "build", "one", "--format", "html", **NO_STUDENT_ENV)
    assert failed.returncode == 2 and f"Error: {field}" in failed.stderr
    found = labreport(root, "validate", "one", **NO_STUDENT_ENV)
    assert found.returncode == 2 and f"Error: {field}" in found.stderr
    assert labreport(root, "validate", "one", "--student-id", "X").returncode == 0


def test_verify_students_runs_each_student_s_own_seeds(book: Path) -> None:
    result = labreport(book, "verify", "one", "--students", "2", "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "one: 1 check(s), 2 students (S001, S002): 1 held on every student"
    seed_line = next(line for line in lines if line.strip().startswith("seed "))
    seeds = sorted(student_seed(f"S00{k}", "one", "count.py") for k in (1, 2))
    mean = sum(seeds) / 2
    assert seed_line.split()[1] == f"{mean:.4g}", seed_line
    assert seed_line.split()[-1] == f"{seeds[-1]:.4g}]"
    both = labreport(book, "verify", "--students", "2", "--seeds", "2")
    assert both.returncode == 2 and "--seeds or --students" in both.stderr


# ---------------------------------------------------------------------- the student's details


def test_an_option_beats_the_environment_which_beats_labreport_toml() -> None:
    toml = StudentConfig(name="T", id="T-ID", section="T-S", seeds="student")
    chosen = student_details(
        toml,
        {"name": "Cli", "id": None, "section": None},
        {"LABREPORT_STUDENT_NAME": "Env", "LABREPORT_STUDENT_ID": "E-ID",
         "LABREPORT_STUDENT_SECTION": ""},
    )  # fmt: skip
    assert chosen == StudentConfig(name="Cli", id="E-ID", section="T-S", seeds="student")
    # An option given blank is blank (it prints the placeholder); an empty variable is unset.
    assert student_details(toml, {"id": ""}, {}).id == ""


@pytest.mark.parametrize("record", ["one", "two"])
def test_every_page_of_both_themes_carries_the_name_id_and_section(book: Path, record: str) -> None:
    texts = pages(book / "build" / f"{record}.pdf")
    assert len(texts) >= 2, "a record of several pages"
    for text in texts:
        assert "Cli Name" in text and "ENV-ID" in text and "Toml Section" in text, text
        assert "Env Name" not in text and "Toml Name" not in text and "TOML-ID" not in text


def test_the_book_s_cover_and_index_carry_the_student(book: Path) -> None:
    texts = pages(book / "build" / "lab-record.pdf")
    cover, index = texts[0], texts[1]
    assert "Name Cli Name" in cover and "Student ID ENV-ID" in cover
    assert "Section Toml Section" in cover
    assert "INDEX" in index
    assert "Name: Cli Name · Student ID: ENV-ID · Section: Toml Section" in index
    html = BeautifulSoup((book / "build" / "index.html").read_text(), "html.parser")
    line = html.select_one("p.student-line").get_text()
    assert line == "Name: Cli Name · Student ID: ENV-ID · Section: Toml Section"


def test_blank_details_print_the_placeholder_and_a_new_student_rebuilds(tmp_path: Path) -> None:
    root = make_project(tmp_path / "blank", seed="3")
    toml = root / "labreport.toml"
    toml.write_text('[course]\ntitle = "T"\n')
    built = labreport(root, "build", "--all", "--format", "html", "-q", **NO_STUDENT_ENV)
    assert built.returncode == 0, built.stderr
    classic = BeautifulSoup((root / "build" / "one.html").read_text(), "html.parser")
    line = classic.select_one("p.student-line").get_text()
    assert line == f"Name: {PLACEHOLDER} · Student ID: {PLACEHOLDER} · Section: {PLACEHOLDER}"
    worksheet = BeautifulSoup((root / "build" / "two.html").read_text(), "html.parser")
    header = worksheet.select_one("header.page-header")
    assert header.select_one("p.student-section").get_text() == f"Section: {PLACEHOLDER}"
    cells = [td.get_text() for td in header.select("td")]
    assert cells[0] == "2" and cells[1] == PLACEHOLDER and cells[3] == PLACEHOLDER
    # The switch off, an integer seed: stays the spec's seed. (The sentence goes on with the
    # numeric-kernel settings where any are set, as on a stranger's machine: "seed 3, ATEN_...")
    provenance = " ".join(worksheet.select_one(".provenance").get_text().split())
    assert re.search(r"per program, seed 3[.,]", provenance), provenance

    # The switch on and a student given: the record is rebuilt (the details are inputs), every
    # program's seed is the student's; the same student again is up to date.
    toml.write_text('[course]\ntitle = "T"\n[student]\nseeds = "student"\n')
    again = labreport(root, "build", "two", "--format", "html", "--student-id", "NEW")
    assert again.returncode == 0 and "up to date" not in again.stderr, again.stderr
    worksheet = BeautifulSoup((root / "build" / "two.html").read_text(), "html.parser")
    assert worksheet.select("header.page-header td")[1].get_text() == "NEW"
    seed = student_seed("new", "two", "count.py")
    provenance = " ".join(worksheet.select_one(".provenance").get_text().split())
    assert re.search(rf"per program, seed {seed} \(from student ID NEW\)[.,]", provenance)
    same = labreport(root, "build", "two", "--format", "html", "--student-id", "NEW")
    assert "up to date" in same.stderr


def test_the_provenance_names_spec_and_student_seeds_apart() -> None:
    made = Provenance(
        "0.1", {}, "cpu", (), ("1",), (0,), datetime.date(2026, 1, 1), 2, 0, {},
        student_seeds=(1234567,), student_id="2100031234",
    )  # fmt: skip
    assert made.seed_text == "seed 0, seed 1234567 (from student ID 2100031234)"
    assert "per program, seed 0, seed 1234567 (from student ID 2100031234)." in made.text
