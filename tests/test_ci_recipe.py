"""The CI and editor recipes users copy: docs/ci.md's GitHub Actions workflow and
.pre-commit-hooks.yaml. Neither can run here (no GitHub runner, no pre-commit install); what can
be checked is that they parse and that each labreport command they give is one the CLI accepts.
In process and cheap: the commands are parsed by click, not run.
"""

from __future__ import annotations

import re
import shlex
import warnings
from typing import Any

import click
import yaml

from labreport.cli import cli

from conftest import REPO


def _workflow() -> dict[str, Any]:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 1, "docs/ci.md holds one workflow"
    workflow = yaml.safe_load(blocks[0])
    assert isinstance(workflow, dict)
    return workflow


def _accepted(line: str) -> None:
    """Parse ``labreport ...`` as the CLI would, without running it: unknown commands, options
    or bad values raise click's usage errors."""
    words = shlex.split(line)
    assert words[0] == "labreport"
    group: click.Command = cli
    ctx = group.make_context("labreport", words[1:], resilient_parsing=False)
    while isinstance(group, click.Group):
        with warnings.catch_warnings():  # click >= 8.2 moves protected_args into args
            warnings.simplefilter("ignore", DeprecationWarning)
            words = [*ctx.protected_args, *ctx.args]
        name, command, rest = group.resolve_command(ctx, words)
        assert command is not None, f"{line}: no command {name}"
        ctx = command.make_context(str(name), rest, parent=ctx)
        group = command


def test_the_workflow_parses_and_its_commands_are_accepted() -> None:
    workflow = _workflow()
    steps = workflow["jobs"]["records"]["steps"]
    runs = [line.strip() for step in steps for line in str(step.get("run", "")).splitlines()]
    commands = [line for line in runs if line.startswith("labreport ")]
    assert "labreport -v build --all --strict" in commands
    for line in commands:
        _accepted(line)
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"
    assert uses["actions/cache"]["with"]["path"] == ".labreport/cache"
    assert "hashFiles('experiments/**'" in uses["actions/cache"]["with"]["key"]
    assert uses["actions/upload-artifact"]["with"]["path"] == "build/"
    installs = " ".join(runs)
    # The CPU torch before labreport[course], or pip would fetch the CUDA build.
    assert installs.index("download.pytorch.org/whl/cpu") < installs.index("labreport[course]")


def test_accepted_refuses_what_the_cli_refuses() -> None:
    for bad in ("labreport build --no-such-option", "labreport nosuchcommand"):
        try:
            _accepted(bad)
        except click.UsageError:
            continue
        raise AssertionError(f"{bad} was accepted")


def test_pre_commit_hook_runs_validate_on_the_project_s_inputs() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    _accepted(hook["entry"])
    assert hook["entry"] == "labreport validate"
    files = re.compile(hook["files"])
    for path in ("experiments/exp5/experiment.yaml", "experiments/exp5/a.py", "labreport.toml",
                 "templates/classic/record.html"):  # fmt: skip
        assert files.search(path), path
    for path in ("README.md", "docs/ci.md", "labreport.toml.bak"):
        assert not files.search(path), path
