"""Issue 5: template overrides, themes on the command line, init/new/validate/schema.
(serve: tests/test_serve.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from bs4 import BeautifulSoup
from click.testing import CliRunner

from labreport.cli import cli

from conftest import REPO, copy_project


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def mini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_project("mini", tmp_path / "mini")
    monkeypatch.chdir(root)
    return root


def heading(root: Path, exp: str = "beta") -> str:
    soup = BeautifulSoup((root / "build" / f"{exp}.html").read_text(), "html.parser")
    return soup.select_one("h1").get_text(" ", strip=True)


def override(folder: Path, text: str) -> None:
    (folder / "worksheet").mkdir(parents=True, exist_ok=True)
    (folder / "worksheet" / "record.html").write_text(
        '{% extends "builtin/worksheet/record.html" %}\n'
        "{% block heading %}<h1>" + text + "</h1>{% endblock %}\n"
    )


# ------------------------------------------------------------------------------ search path


def test_cli_folder_wins_over_project_folder_over_builtin(mini: Path, tmp_path: Path) -> None:
    assert invoke("build", "beta", "--format", "html")[0] == 0
    assert heading(mini) == "Experiment 2: Two programs on a worksheet"  # built-in

    override(mini / "templates", "from the project")
    assert invoke("build", "beta", "--format", "html")[0] == 0
    assert heading(mini) == "from the project"

    cli_dir = tmp_path / "cli-templates"
    override(cli_dir, "from --templates")
    code, output = invoke("build", "beta", "--format", "html", "--templates", str(cli_dir))
    assert code == 0, output
    assert heading(mini) == "from --templates"


def test_extends_keeps_every_block_not_overridden(mini: Path) -> None:
    override(mini / "templates", "overridden")
    assert invoke("build", "beta", "--format", "html")[0] == 0
    soup = BeautifulSoup((mini / "build/beta.html").read_text(), "html.parser")
    labels = [h.get_text(strip=True) for h in soup.select("h2.label")]
    assert labels[:2] == ["Aim/Objective:", "Pre-Lab:"]
    assert soup.select_one("header.page-header table.furniture") is not None


def test_templates_list_shows_origins(mini: Path, tmp_path: Path) -> None:
    override(mini / "templates", "x")
    (tmp_path / "cli" / "fancy").mkdir(parents=True)
    (tmp_path / "cli" / "fancy" / "record.html").write_text("<p>{{ title }}</p>")
    code, output = invoke("templates", "list", "--templates", str(tmp_path / "cli"))
    assert code == 0, output
    rows = {line.split()[0]: line.split()[1] for line in output.splitlines()[1:]}
    assert rows == {"classic": "built-in", "fancy": "--templates", "worksheet": "project"}
    assert "(hides the built-in one)" in output.splitlines()[-1]


def test_a_new_theme_is_selected_by_name(mini: Path) -> None:
    (mini / "templates" / "plain").mkdir(parents=True)
    (mini / "templates" / "plain" / "record.html").write_text(
        "<html><body><h1>{{ number }}. {{ title }}</h1>{{ aim }}</body></html>"
    )
    code, output = invoke("build", "alpha", "--format", "html", "--theme", "plain")
    assert code == 0, output
    assert heading(mini, "alpha") == "1. A line and a number"


def test_template_syntax_error_names_file_and_line(mini: Path) -> None:
    (mini / "templates" / "worksheet").mkdir(parents=True)
    (mini / "templates" / "worksheet" / "record.html").write_text(
        '{% extends "builtin/worksheet/record.html" %}\n\n{% block aim %}{% if %}{% endblock %}\n'
    )
    code, output = invoke("build", "beta", "--format", "html")
    assert code == 1
    assert re.search(r"templates/worksheet/record\.html:3: template syntax error: ", output)
    assert "Traceback" not in output
    code, output = invoke("validate")
    assert code == 1
    assert re.search(r"Error: templates/worksheet/record\.html:3: ", output), output


def test_asset_is_inlined_as_data_uri(mini: Path) -> None:
    theme = mini / "templates" / "worksheet"
    theme.mkdir(parents=True)
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
    (theme / "logo.svg").write_text(svg)
    (theme / "record.html").write_text(
        '{% extends "builtin/worksheet/record.html" %}'
        "{% block heading %}<img id=logo src=\"{{ asset('worksheet/logo.svg') }}\">"
        "{% endblock %}"
    )
    assert invoke("build", "beta")[0] == 0
    soup = BeautifulSoup((mini / "build/beta.html").read_text(), "html.parser")
    assert soup.select_one("#logo")["src"].startswith("data:image/svg+xml;base64,")
    (theme / "record.html").write_text(
        '{% extends "builtin/worksheet/record.html" %}'
        "{% block heading %}{{ asset('../labreport.toml') }}{% endblock %}"
    )
    code, output = invoke("build", "beta", "--format", "html")
    assert code == 1 and "give a path inside the template folders" in output


def test_eject_then_build_is_identical_to_builtin(mini: Path, tmp_path: Path) -> None:
    assert invoke("build", "--all", "--out", str(tmp_path / "before"))[0] == 0
    code, output = invoke("templates", "eject", "worksheet")
    assert code == 0 and output.strip() == str(Path("templates") / "worksheet")
    assert (mini / "templates/worksheet/style.css").is_file()
    # --force: both records from fresh runs (a record says when its results came from the cache)
    assert invoke("build", "--all", "--force", "--out", str(tmp_path / "after"))[0] == 0
    for name in ("alpha.html", "alpha.pdf", "beta.html", "beta.pdf"):
        assert (tmp_path / "before" / name).read_bytes() == (tmp_path / "after" / name).read_bytes()
    code, output = invoke("templates", "eject", "worksheet")
    assert code == 2 and "already exists; pass --force" in output
    assert invoke("templates", "eject", "worksheet", "--force")[0] == 0
    code, output = invoke("templates", "eject", "nosuch")
    assert code == 2 and "built-in themes: classic, worksheet" in output


# ------------------------------------------------------------------------------ init, new, validate


def test_init_then_build_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = invoke("init", "lab", "--course", "NEURAL NETS")
    assert code == 0, output
    assert (tmp_path / "lab/templates/README.md").is_file()
    assert "build/" in (tmp_path / "lab/.gitignore").read_text()
    monkeypatch.chdir(tmp_path / "lab")
    code, output = invoke("build", "--all")
    assert code == 0, output
    soup = BeautifulSoup((tmp_path / "lab/build/example.html").read_text(), "html.parser")
    assert [tr.get("class") for tr in soup.select("tr.check")] == [["check", "passed"]]
    assert soup.select("img.math-display"), "the theory's formula is drawn"
    code, output = invoke("init", ".")
    assert code == 2 and "is a project already" in output


def test_new_then_validate_then_build(mini: Path) -> None:
    for exp_id, fmt in (("gamma", "classic"), ("delta", "worksheet")):
        code, output = invoke("new", exp_id, "--theme", fmt, "--title", "A title: with # marks")
        assert code == 0, output
        spec = yaml.safe_load((mini / f"experiments/{exp_id}/experiment.yaml").read_text())
        assert spec["theme"] == fmt and spec["title"] == "A title: with # marks"
    assert yaml.safe_load((mini / "experiments/delta/experiment.yaml").read_text())["number"] == 4
    code, output = invoke("validate")
    assert code == 0, output
    assert output.strip() == "4 experiment(s) and 1 template folder(s): ok"
    code, output = invoke("build", "delta", "--format", "html")
    assert code == 0, output
    code, output = invoke("new", "delta")
    assert code == 2 and "already exists" in output


def test_validate_reports_every_problem_without_running(mini: Path) -> None:
    spec = mini / "experiments/alpha/experiment.yaml"
    text = spec.read_text()
    text = text.replace("aim:", "checks:\n  - claim: ok\n    expr: results.nope > 1\naim:", 1)
    text = text.replace("theory: A straight", "theory: A bad formula $\\frac{a$. A straight")
    text = text.replace("{{ results.slope }}", "{{ results.slope + }}")
    spec.write_text(text)
    code, output = invoke("validate", "alpha")
    assert code == 1
    errors = [line for line in output.splitlines() if line.startswith("Error: experiments")]
    assert len(errors) == 3, output
    assert "checks[0].expr: uses results.nope, which no program recorded (recorded: " in errors[2]
    assert "theory: cannot typeset $\\frac{a$" in output
    assert "result: line 1 of the text: unexpected 'end of print statement'" in output
    assert output.strip().splitlines()[-1] == "Error: 3 problem(s) in 1 experiment(s)"

    (mini / "experiments/alpha/line.py").write_text(
        (mini / "experiments/alpha/line.py").read_text() + "\ndef broken(:\n"
    )
    code, output = invoke("validate", "alpha")
    assert code == 1
    assert re.search(r"Error: experiments/alpha/line\.py:\d+: programs\[0\]: Python syntax", output)
    assert not (mini / ".labreport" / "cache").exists(), "validate runs nothing"


# ------------------------------------------------------------------------------ schema


def test_schema_accepts_course_specs_and_rejects_a_broken_one(in_repo: Path) -> None:
    code, output = invoke("schema")
    assert code == 0
    schema = json.loads(output)
    validator = jsonschema.Draft202012Validator(schema)
    for exp in ("exp5", "exp10"):
        document = yaml.safe_load((REPO / f"experiments/{exp}/experiment.yaml").read_text())
        assert not list(validator.iter_errors(document)), exp
    broken = yaml.safe_load((REPO / "experiments/exp5/experiment.yaml").read_text())
    broken["programs"][0]["sede"] = 1
    del broken["aim"]
    messages = sorted(e.message for e in validator.iter_errors(broken))
    assert any("'aim' is a required property" in m for m in messages)
    assert any("'sede' was unexpected" in m for m in messages)
