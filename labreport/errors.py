"""One family of user-facing errors; the CLI shows each as one line and exits with its code.

Everything a user can get wrong (a spec, the project file, a template, a failing program) raises a
subclass of :class:`LabreportError`, whose message names the file, the field and the fix. Anything
else escaping to the CLI is a bug in labreport itself.
"""

from __future__ import annotations

import click


class LabreportError(click.ClickException):
    """Base class: a problem the user can fix; exit code 1 unless a subclass says otherwise."""

    exit_code = 1


class ProjectError(LabreportError):
    """No ``labreport.toml`` found, or it is invalid."""

    exit_code = 2


class SpecError(LabreportError):
    """An ``experiment.yaml`` that cannot be read or does not validate."""

    exit_code = 2


class UnknownExperimentError(LabreportError):
    """An experiment id that the project does not have."""

    exit_code = 2


class RunError(LabreportError):
    """A program failed (exception, timeout, crash) and its spec does not allow errors."""


class RenderError(LabreportError):
    """A template or a piece of prose could not be rendered."""


class OutputError(LabreportError):
    """An output file could not be written."""


class UsageError(LabreportError):
    """A command-line option that names something the project does not have."""

    exit_code = 2


class CheckFailed(LabreportError):
    """Under ``--strict``, a claim (spec ``checks:``) that the run did not bear out."""


class ValidationFailed(LabreportError):
    """``labreport validate`` found problems (each already printed on its own line)."""
