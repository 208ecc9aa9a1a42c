"""``validate --json`` and ``list --json`` (issue 18 point 4), through the installed script: the
fields of docs/report.md, the same exit status as without ``--json``, and nothing but the JSON
on stdout. Nothing is built: one copy of the faulty project plus a spec with a typo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labreport.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE

from conftest import copy_project

SCRIPT = Path(sys.executable).with_name("labreport")
PROBLEM_FIELDS = ["where", "field", "what", "fix", "exit_status"]


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project("faulty", tmp_path_factory.mktemp("specjson") / "faulty")
    typo = root / "experiments" / "typo"
    typo.mkdir()
    (typo / "experiment.yaml").write_text(
        "number: 4\ntitle: T\naim: A\nprograms:\n  - cod: x.py\n", encoding="utf-8"
    )
    return root


@pytest.fixture(scope="module")
def runs(root: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    return {
        "validate": _run(root, "validate"),
        "validate --json": _run(root, "validate", "--json"),
        "validate --json crash": _run(root, "validate", "--json", "crash"),
        "list": _run(root, "list"),
        "list --json": _run(root, "list", "--json"),
    }


def _json(run: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(run.stdout)  # the whole of stdout is the JSON


def test_validate_json_says_each_experiment_and_its_problems(runs: dict[str, Any]) -> None:
    report = _json(runs["validate --json"])
    assert list(report) == [
        "command", "labreport", "exit_status", "experiments", "problems", "version",
    ]  # fmt: skip
    assert report["command"] == "validate" and report["version"] == 1
    by_id = {e["id"]: e for e in report["experiments"]}
    assert list(by_id) == ["allowed", "crash", "typo", "undefined"]
    assert by_id["crash"] == {"id": "crash", "ok": True, "problems": []}
    typo = by_id["typo"]
    assert typo["ok"] is False
    assert all(list(p) == PROBLEM_FIELDS for p in typo["problems"])
    assert {p["field"] for p in typo["problems"]} == {"programs[0].code", "programs[0].cod"}
    assert all(p["where"] == "experiments/typo/experiment.yaml:5" for p in typo["problems"])
    assert all(p["exit_status"] == EXIT_USAGE for p in typo["problems"])
    [undefined] = by_id["undefined"]["problems"]
    assert undefined["field"] == "result" and "test_mse" in undefined["what"]
    assert undefined["fix"] == "recorded: train_mse" and undefined["exit_status"] == EXIT_FAILED
    assert report["problems"] == []


def test_validate_json_exits_as_validate_does(runs: dict[str, Any]) -> None:
    plain, as_json = runs["validate"], runs["validate --json"]
    assert plain.returncode == as_json.returncode == EXIT_USAGE == _json(as_json)["exit_status"]
    assert "Traceback" not in as_json.stderr
    # The problems are in the JSON; stderr keeps the one summary line.
    assert as_json.stderr.strip().splitlines() == ["Error: 3 problem(s) in 4 experiment(s)"]
    ok = runs["validate --json crash"]
    assert ok.returncode == EXIT_OK
    assert _json(ok)["experiments"] == [{"id": "crash", "ok": True, "problems": []}]
    assert _json(ok)["exit_status"] == EXIT_OK
    assert "ok" in ok.stderr


def test_list_json_lists_broken_ones_with_their_errors(runs: dict[str, Any]) -> None:
    plain, as_json = runs["list"], runs["list --json"]
    assert plain.returncode == as_json.returncode == EXIT_FAILED
    report = _json(as_json)
    assert report["command"] == "list" and report["exit_status"] == EXIT_FAILED
    by_id = {e["id"]: e for e in report["experiments"]}
    assert by_id["crash"] == {
        "id": "crash", "number": 1, "title": "A program that crashes", "theme": "classic",
        "status": "ok", "errors": [],
    }  # fmt: skip
    typo = by_id["typo"]
    assert typo["status"] == "broken" and typo["number"] is None and typo["title"] is None
    assert [p["field"] for p in typo["errors"]] == ["programs[0].code", "programs[0].cod"]
    assert all(list(p) == PROBLEM_FIELDS for p in typo["errors"])
    # The text listing shows the same experiments.
    assert [line.split()[0] for line in plain.stdout.splitlines()[1:]] == list(by_id)


def test_list_json_of_a_sound_project_exits_0(tmp_path: Path, root: Path) -> None:
    sound = tmp_path / "sound"
    copy_project("faulty", sound)
    result = _run(sound, "list", "--json")
    assert result.returncode == EXIT_OK, result.stderr
    assert _json(result)["exit_status"] == EXIT_OK
    assert all(e["status"] == "ok" for e in _json(result)["experiments"])
