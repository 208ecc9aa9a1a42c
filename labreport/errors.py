"""One family of user-facing errors; the CLI shows each as one line and exits with its code.

Everything a user can get wrong (a spec, the project file, a template, a failing program) raises a
subclass of :class:`LabreportError`, whose message names the file, the field and the fix. Anything
else escaping to the CLI is a bug in labreport itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import click

# The exit status of every command: one table, shown by `labreport --help` and in the README
# (tests/test_exit_codes.py runs the installed script for each row and compares the README).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "all built, up to date or valid (warnings, such as a failed check without "
     "--strict, allowed)"),
    (EXIT_FAILED, "a program failed; a record could not be rendered, laid out or written; a "
     "check failed under --strict (verify: on some seed); the book could not be bound; `list` "
     "found a broken spec"),
    (EXIT_USAGE, "a bad experiment.yaml or labreport.toml, an unknown experiment or theme, a "
     "wrong command-line option or argument (such as a folder that is a project already)"),
    (EXIT_INTERNAL, "an internal error, a bug in labreport (--debug shows the traceback)"),
    (EXIT_INTERRUPTED, "interrupted: Ctrl-C, or SIGTERM/SIGHUP while building"),
)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """One mistake in parts: where it is, which field, what is wrong, how to fix it.

    Every user-facing error carries its problems (a spec with three typos carries three), so
    ``labreport validate`` lists them and a program can sort, count or show them without
    parsing a message. Shown as ``experiment: where: field: what (fix)``, each part when known.
    """

    where: str  # a file (with :line where known), or the option that named something
    what: str
    field: str | None = None  # a spec field such as programs[0].seed, or a prose field
    fix: str | None = None
    experiment: str | None = None  # the experiment's id, where ``where`` does not say it
    exit_code: int = EXIT_FAILED  # what a build that hit it ends with

    def __str__(self) -> str:
        what = f"{self.what} ({self.fix})" if self.fix else self.what
        return ": ".join(p for p in (self.experiment, self.where, self.field, what) if p)


class LabreportError(click.ClickException):
    """Base class: a problem the user can fix; exit code 1 unless a subclass says otherwise.

    Raise it with the parts (``SpecError("unknown key", where=..., field=...)``), or with
    ``problems=`` for several at once; a bare message is one problem with no known place.
    """

    exit_code = EXIT_FAILED

    def __init__(
        self,
        what: str = "",
        *,
        where: str = "",
        field: str | None = None,
        fix: str | None = None,
        experiment: str | None = None,
        problems: Sequence[Problem] = (),
        detail: str | None = None,
    ) -> None:
        """``detail``: more than the one line, for ``--debug`` (a failed program's traceback)."""
        self.detail = detail
        code = self.exit_code
        self.problems: tuple[Problem, ...] = tuple(problems) or (
            Problem(where, what, field, fix, experiment, code),
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def for_experiment(self, exp_id: str) -> LabreportError:
        """The same error, said of ``exp_id`` (for messages that do not name it already)."""
        from dataclasses import replace

        problems = [replace(p, experiment=p.experiment or exp_id) for p in self.problems]
        return type(self)(problems=problems, detail=self.detail)


class ProjectError(LabreportError):
    """No ``labreport.toml`` found, or it is invalid."""

    exit_code = EXIT_USAGE


class SpecError(LabreportError):
    """An ``experiment.yaml`` that cannot be read or does not validate."""

    exit_code = EXIT_USAGE


class UnknownExperimentError(LabreportError):
    """An experiment id that the project does not have."""

    exit_code = EXIT_USAGE


class RunError(LabreportError):
    """A program failed (exception, timeout, crash) and its spec does not allow errors."""


class RenderError(LabreportError):
    """A template or a piece of prose could not be rendered."""


class OutputError(LabreportError):
    """An output file could not be written."""


class UsageError(LabreportError):
    """A command-line option that names something the project does not have."""

    exit_code = EXIT_USAGE


class CheckFailed(LabreportError):
    """Under ``--strict``, a claim (spec ``checks:``) that the run did not bear out."""


class ValidationFailed(LabreportError):
    """``labreport validate`` found problems (each already printed on its own line); it exits
    with the status the worst of them would give a build."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click's class default, per instance
