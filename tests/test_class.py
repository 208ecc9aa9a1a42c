"""`labreport class`: a small class of generated student projects, built once through the installed
console script, and the summary, flags, isolation and exit status checked on that one build.

Every program uses the standard library alone (the cheap warm path) and the class is built as
HTML only; the build reports of `build --report`/`--json` are checked on the same projects.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from labreport.copyflags import code_digest, normalise
from labreport.readjail import readable_paths
from labreport.report import load_report

SCRIPT = Path(sys.executable).with_name("labreport")

HONEST = """\
import random

# Draw some numbers and average them.
values = [random.random() for _ in range(20)]
mean = sum(values) / len(values)
spread = max(values) - min(values)
print(f"mean {mean:.6f} spread {spread:.6f}")
"""
# alice's program with its names changed, its comments and docstring rewritten, another layout
RENAMED = '''\
"""My own work."""
import random

numbers = [random.random()   for _ in range(20)]  # twenty of them
mean = sum(numbers) / len(numbers)
width = max(numbers) - min(numbers)
print(f"average {mean:.6f} width {width:.6f}")
'''
OTHER = """\
import random

total = 0.0
for step in range(30):
    total += random.gauss(0, 1)
mean = total / 30
print("sum of thirty draws:", round(total, 6))
"""


@dataclass(frozen=True)
class ClassBuild:
    subs: Path
    out: Path
    result: subprocess.CompletedProcess[str]
    rows: list[dict[str, str]]
    summary: dict[str, object]
    html: BeautifulSoup


def _project(
    root: Path,
    folder: str,
    student: str,
    program: str,
    seed: int = 0,
    extra: dict[str, str] | None = None,
) -> Path:
    project = root / folder
    exp = project / "experiments" / "lab1"
    exp.mkdir(parents=True)
    (project / "labreport.toml").write_text(student, encoding="utf-8")
    spec = f"""\
        number: 1
        title: Averages
        aim: To average.
        programs:
          - code: main.py
            seed: {seed}
            record: [mean]
        checks:
          - claim: The mean lies between 0 and 1 or is a sum.
            expr: results.mean > -100
        """
    (exp / "experiment.yaml").write_text(textwrap.dedent(spec), encoding="utf-8")
    (exp / "main.py").write_text(program, encoding="utf-8")
    for name, text in (extra or {}).items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return project


def _student(name: str, student_id: str) -> str:
    return f'[student]\nname = "{name}"\nid = "{student_id}"\n'


def _make_class(subs: Path) -> None:
    secret = subs / "alice" / "notes.txt"
    _project(subs, "alice", _student("Alice", "S-1"), HONEST, extra={"notes.txt": "ALICE-SECRET"})
    _project(subs, "bob", _student("Bob", "S-2"), OTHER)
    _project(subs, "carol", _student("Carol", "S-3"), RENAMED)
    # dave and erin: a program that ignores its seed, under different seeds: the same output
    fixed = "mean = 0.5\nprint('the mean is', mean)\n"
    _project(subs, "dave", _student("Dave", "S-4"), fixed, seed=1)
    _project(
        subs, "erin", _student("Erin", "S-5"), "mean = 1 / 2\nprint('the mean is', mean)\n", seed=2
    )
    # mallory shares bob's ID and tries to read alice's notes through their absolute path
    thief = f"""\
        import os
        mean = 0.0
        for path in ({str(secret)!r}, {str(secret.parent)!r}):
            try:
                with open(path) as f:
                    print("READ", f.read())
            except OSError as exc:
                print("DENIED", type(exc).__name__)
        """
    _project(subs, "mallory", _student("Mallory", "S-2"), textwrap.dedent(thief))
    # broken: no ID; one experiment's YAML is bad, another's program hangs past its timeout
    broken = _project(subs, "broken", _student("Broken", ""), OTHER)
    (broken / "experiments" / "lab1" / "experiment.yaml").write_text("number: [1\n")
    hang = broken / "experiments" / "lab2"
    hang.mkdir()
    (hang / "experiment.yaml").write_text(
        "number: 2\ntitle: Hang\naim: To wait.\nprograms:\n  - code: wait.py\n    timeout: 1\n"
    )
    (hang / "wait.py").write_text("import time\ntime.sleep(60)\n")
    # frank: a labreport.toml that is not valid
    _project(subs, "frank", "[student]\nnmae = 'Frank'\n", OTHER)
    (subs / "notes-not-a-project").mkdir()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ClassBuild:
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    _make_class(subs)
    roster = root / "class.csv"
    roster.write_text("ID,Name,Email\nS-1,Alice,a@x\ns-2,Bob,\nS-9,Nadia,\n", encoding="utf-8")
    out = root / "out"
    result = subprocess.run(
        [str(SCRIPT), "class", str(subs), "--roster", str(roster), "--out", str(out),
         "--format", "html", "-j", "2"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    rows = list(csv.DictReader((out / "summary.csv").read_text(encoding="utf-8").splitlines()))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    html = BeautifulSoup((out / "summary.html").read_text(encoding="utf-8"), "html.parser")
    return ClassBuild(subs, out, result, rows, summary, html)


def _row(built: ClassBuild, folder: str, experiment: str = "lab1") -> dict[str, str]:
    return next(r for r in built.rows if r["folder"] == folder and r["experiment"] == experiment)


def test_a_failed_submission_makes_exit_status_1_and_progress_counts_each_student(
    built: ClassBuild,
) -> None:
    assert built.result.returncode == 1, built.result.stderr
    lines = [line for line in built.result.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 8
    assert {line.split("]")[0] for line in lines} == {f"[{k}/8" for k in range(1, 9)}
    assert "Summary: 8 submission(s), 6 built, 2 failed" in built.result.stderr
    assert "Traceback" not in built.result.stderr
    assert set(built.result.stdout.split()) == {
        str(Path("out") / name) for name in ("summary.html", "summary.csv", "summary.json")
    }


def test_rows_say_what_each_student_built(built: ClassBuild) -> None:
    alice = _row(built, "alice")
    assert (alice["id"], alice["name"], alice["status"]) == ("S-1", "Alice", "built")
    assert (alice["checks_held"], alice["checks_total"], alice["programs_run"]) == ("1", "1", "1")
    assert float(alice["run_seconds"]) > 0
    record = BeautifulSoup((built.out / alice["record"]).read_text(), "html.parser")
    assert "mean" in record.get_text()
    report = load_report(built.out / "alice" / "report.json")
    (program,) = report.experiments[0].programs
    assert (program.code, program.seed, program.source, program.status) == (
        "main.py",
        0,
        "run",
        "ok",
    )
    assert len(program.digest) == 64
    assert json.loads((built.out / "summary.json").read_text())["rows"][0] == built.rows[0] | {
        "checks_held": 1, "checks_total": 1, "programs_run": 1, "programs_cached": 0,
        "run_seconds": float(built.rows[0]["run_seconds"]),
    }  # fmt: skip


def test_a_broken_submission_fails_alone_with_its_reasons(built: ClassBuild) -> None:
    assert _row(built, "broken", "lab1")["status"] == "failed"
    assert "experiment.yaml" in _row(built, "broken", "lab1")["error"]
    hang = _row(built, "broken", "lab2")
    assert hang["status"] == "failed" and "timeout" in hang["error"].lower()
    frank = _row(built, "frank", "")
    assert frank["status"] == "failed" and "nmae" in frank["error"]
    built_ok = {r["folder"] for r in built.rows if r["status"] == "built"}
    assert built_ok == {"alice", "bob", "carol", "dave", "erin", "mallory"}
    assert "notes-not-a-project" not in {r["folder"] for r in built.rows}


def test_roster_duplicates_and_missing_ids(built: ClassBuild) -> None:
    summary = built.summary
    assert summary["missing"] == [{"id": "S-9", "name": "Nadia"}]
    assert summary["duplicate_ids"] == [{"id": "S-2", "folders": ["bob", "mallory"]}]
    assert summary["missing_ids"] == ["broken", "frank"]
    assert set(summary["not_on_roster"]) == {"carol", "dave", "erin"}  # blank IDs: above
    assert summary["exit_status"] == 1
    text = built.html.get_text(" ")
    assert "S-9 (Nadia)" in text and "broken, frank" in text


def test_copy_flags_catch_renamed_code_and_seed_independent_output_only(built: ClassBuild) -> None:
    flags = {(f["kind"], f["first"], f["second"]) for f in built.summary["copy_flags"]}
    assert flags == {
        ("same code up to names and layout", "alice", "carol"),
        ("same output, different seeds", "dave", "erin"),
    }
    shown = [row.get_text(" ") for row in built.html.select("h2 + table tbody tr")]
    assert any("dave" in row and "erin" in row and "seeds 1 and 2" in row for row in shown)


def test_a_program_cannot_read_another_submission(built: ClassBuild) -> None:
    record = (built.out / _row(built, "mallory")["record"]).read_text()
    assert "ALICE-SECRET" not in record
    assert record.count("DENIED PermissionError") == 2
    assert "ALICE-SECRET" not in (built.out / "mallory" / "report.json").read_text()
    assert built.summary["confinement"] == ""  # hidden by Landlock here: the summary says so
    assert "unable to read the other submissions" in built.html.get_text(" ")


def test_summary_html_links_each_student_and_record(built: ClassBuild) -> None:
    links = {a["href"] for a in built.html.find_all("a")}
    assert "alice/lab1.html" in links and "alice/report.json" in links
    assert all((built.out / link).is_file() for link in links)
    students = {
        tr.find("td", class_="student").get_text(" ").split()[0]: tr
        for tr in built.html.select("table.grid")[0].select("tbody tr")
    }
    assert list(students) == ["Alice", "Bob", "Broken", "Carol", "Dave", "Erin", "frank", "Mallory"]
    assert "nmae" in students["frank"].find("td", class_="error").get_text()
    assert students["Alice"].select_one(".checks").get_text() == "checks 1/1"
    assert [b.get_text() for b in students["Broken"].select(".badge")] == ["failed", "failed"]
    header = [th.get_text() for th in built.html.select("table.grid thead th")][:3]
    assert header == ["Student", "lab1", "lab2"]


def test_usage_errors_exit_2(tmp_path: Path, built: ClassBuild) -> None:
    missing = subprocess.run(
        [str(SCRIPT), "class", str(tmp_path / "nowhere")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nAlice\n")
    roster = subprocess.run(
        [str(SCRIPT), "class", str(built.subs), "--roster", str(bad)], capture_output=True,
        text=True,
    )  # fmt: skip
    assert roster.returncode == 2 and "no id column" in roster.stderr
    executor = subprocess.run(
        [str(SCRIPT), "class", str(built.subs), "--executor", "dask://nowhere"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert executor.returncode == 2 and "not an executor: 'dask://nowhere'" in executor.stderr
    for done in (missing, roster, executor):
        assert len(done.stderr.splitlines()) == 1, done.stderr


def test_readable_paths_leave_out_hidden_folders_and_keep_own(tmp_path: Path) -> None:
    (tmp_path / "subs" / "a").mkdir(parents=True)
    (tmp_path / "scratch" / "mine").mkdir(parents=True)
    (tmp_path / "scratch" / "theirs").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "subs")
    allowed = readable_paths(
        [tmp_path / "subs", tmp_path / "scratch"], [tmp_path / "scratch" / "mine"], root=tmp_path
    )
    assert allowed == [tmp_path / "other", tmp_path / "scratch" / "mine"]


def test_normalising_sets_aside_names_comments_docstrings_and_layout() -> None:
    assert normalise(HONEST) == normalise(RENAMED)
    assert code_digest(HONEST) == code_digest(RENAMED) is not None
    assert code_digest(HONEST) != code_digest(HONEST.replace("max(", "min("))
    assert code_digest(HONEST.replace("random.random()", "random.gauss(0, 1)")) != code_digest(
        HONEST
    )
    assert code_digest("print('hi')\n") is None  # too short to tell
    assert normalise("def (:\n") is None


def test_build_report_and_json_on_one_project(built: ClassBuild, tmp_path: Path) -> None:
    """`build --report` and `--json` on a copy of alice's project: the same report twice."""
    import shutil

    project = tmp_path / "alice"
    shutil.copytree(built.subs / "alice", project)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    first = subprocess.run(
        [str(SCRIPT), "build", "--all", "--format", "html", "--report", "r.json", "-q"],
        cwd=project, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    report = load_report(project / "r.json")
    assert report.command == "build" and report.exit_status == 0
    assert report.student == {"name": "Alice", "id": "S-1", "section": "", "seeds": "spec"}
    (exp,) = report.experiments
    assert (exp.id, exp.status, exp.files) == ("lab1", "built", ("build/lab1.html",))
    assert [(c.claim, c.held) for c in exp.checks] == [
        ("The mean lies between 0 and 1 or is a sum.", True)
    ]
    second = subprocess.run(
        [str(SCRIPT), "build", "--all", "--format", "html", "--json"],
        cwd=project, capture_output=True, text=True, env=env,
    )  # fmt: skip
    again = json.loads(second.stdout)
    assert again["experiments"][0]["status"] == "up-to-date"
    assert again["experiments"][0]["checks"] == [
        {"claim": "The mean lies between 0 and 1 or is a sum.", "held": True}
    ]
    (program,) = again["experiments"][0]["programs"]
    assert program["source"] == "up-to-date"
    assert program["digest"] == exp.programs[0].digest and program["seed"] == 0
