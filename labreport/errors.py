"""One family of user-facing errors; the CLI shows each as one line and exits with its code.

Everything a user can get wrong (a spec, the project file, a template, a failing program) raises a
subclass of :class:`LabreportError`, whose message names the file, the field and the fix. Anything
else escaping to the CLI is a bug in labreport itself.
"""

from __future__ import annotations

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
     "check failed under --strict (verify: on some seed); the book could not be bound"),
    (EXIT_USAGE, "a bad experiment.yaml or labreport.toml, an unknown experiment or theme, a "
     "wrong command-line option or argument (such as a folder that is a project already)"),
    (EXIT_INTERNAL, "an internal error, a bug in labreport (--debug shows the traceback)"),
    (EXIT_INTERRUPTED, "interrupted: Ctrl-C, or SIGTERM/SIGHUP while building"),
)  # fmt: skip


class LabreportError(click.ClickException):
    """Base class: a problem the user can fix; exit code 1 unless a subclass says otherwise."""

    exit_code = EXIT_FAILED


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
