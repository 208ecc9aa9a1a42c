"""Spec prose → HTML: measured values filled in (sandboxed Jinja), then Markdown.

Prose may say ``{{ results.test_mse | round(4) }}``. It is rendered in a sandbox that sees only
the recorded values and the spec, with undefined names as errors, so a sentence can never silently
lose its number. Markdown is rendered with raw HTML disabled: ``<script>`` in a spec is text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from labreport.errors import RenderError


class Results(dict[str, Any]):
    """The recorded values, as prose sees them: ``results.name``."""


class _Undefined(jinja2.StrictUndefined):
    """Says which recorded value is missing, instead of "'dict object' has no attribute"."""

    @property
    def _undefined_message(self) -> str:
        if isinstance(self._undefined_obj, Results):
            recorded = ", ".join(sorted(self._undefined_obj)) or "nothing"
            return (
                f"uses results.{self._undefined_name}, which no program recorded "
                f"(recorded: {recorded})"
            )
        return str(super()._undefined_message)


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_sandbox = SandboxedEnvironment(undefined=_Undefined, autoescape=False)


class ProseRenderer:
    """Renders the prose fields of one spec; ``spec_path`` and field names appear in errors."""

    def __init__(self, spec_path: Path, spec: Mapping[str, Any]) -> None:
        self.spec_path = spec_path
        self.spec = spec

    def fill(self, text: str, field: str, results: Mapping[str, Any]) -> str:
        """Substitute recorded values into ``text``."""
        if "{{" not in text and "{%" not in text and "{#" not in text:
            return text
        try:
            template = _sandbox.from_string(text)
            return template.render(results=Results(results), spec=self.spec)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(
                f"{self.spec_path}: {field}: line {exc.lineno} of the text: {exc.message}"
            ) from exc
        except jinja2.UndefinedError as exc:
            raise RenderError(f"{self.spec_path}: {field}: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise RenderError(f"{self.spec_path}: {field}: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise RenderError(f"{self.spec_path}: {field}: {type(exc).__name__}: {exc}") from exc

    def block(self, text: str | None, field: str, results: Mapping[str, Any]) -> Markup:
        """Paragraphs, lists and tables."""
        if not text:
            return Markup("")
        return Markup(_markdown.render(self.fill(text, field, results)))

    def inline(self, text: str | None, field: str, results: Mapping[str, Any]) -> Markup:
        """A single line: emphasis and code, no paragraph around it."""
        if not text:
            return Markup("")
        return Markup(_markdown.renderInline(self.fill(text, field, results)))
