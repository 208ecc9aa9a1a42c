"""Spec prose → HTML: measured values filled in (sandboxed Jinja), formulas, then Markdown.

Prose may say ``{{ results.test_mse | round(4) }}``. It is rendered in a sandbox that sees only
the recorded values and the spec, with undefined names as errors, so a sentence can never silently
lose its number. Only placeholders over ``results`` and ``spec`` (and ``if``/``for`` around them)
are templating; any other ``{{ ... }}`` or ``{% ... %}`` — ``{{ 7*7 }}``, ``{% include %}`` — is
text and is shown as written. Markdown is rendered with raw HTML disabled: ``<script>`` in a spec
is text. ``$...$`` and ``$$...$$`` are LaTeX formulas, drawn by :mod:`labreport.formulas`.
A picture (``![a GRU cell](gru_cell.png)``) is a file of the experiment folder, embedded by
:mod:`labreport.embed`; one that is missing is an error naming the field. So is a file a link
names (``[the data](data.csv)``): the record carries it, and no path leaves the folder.

What the templating may compute is bounded (:mod:`labreport.bounded`): loop turns, calls and
sizes across all the prose of one record. So are its formulas (:class:`FormulaBudget`), and the
lines of its code blocks (:mod:`labreport.longlines`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from jinja2 import nodes
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin

from labreport import bounded
from labreport.bounded import BoundedSandbox, Budget, TooCostly, spending
from labreport.embed import EmbedError, embed_link, embed_picture
from labreport.errors import RenderError
from labreport.formulas import FormulaBudget, FormulaError, render_formula
from labreport.longlines import cut_long_lines
from labreport.units import keep_units

_T = TypeVar("_T")


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

    # Filters that call these (round, abs) would otherwise fail with "TypeError: type _Undefined
    # doesn't define __round__ method" instead of naming the value nobody recorded.
    __round__ = __abs__ = __index__ = jinja2.StrictUndefined._fail_with_undefined_error


def _formula_html(tex: str, options: Mapping[str, Any]) -> str:
    display = bool(options.get("display_mode"))  # $$...$$: display style, $...$: text style
    return render_formula(tex, display).img(display, tex)


# Pandoc's rules for `$`: no space just inside the dollars and no digit after the closing one,
# so "costs $5 and $10" stays text.
_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .enable("table")
    .use(
        dollarmath_plugin,
        renderer=_formula_html,
        allow_space=False,
        allow_digits=False,
        allow_labels=False,
        double_inline=True,
    )  # fmt: skip
)


def _picture(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """Markdown's image rule, with ``src`` passed through ``env["picture"]`` (embedding)."""
    token = tokens[idx]
    resolve = env.get("picture") if isinstance(env, dict) else None
    if resolve is not None:
        token.attrSet("src", resolve(str(token.attrGet("src") or "")))
    return str(self.image(tokens, idx, options, env))


def _link(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """Markdown's link rule, with ``href`` passed through ``env["link"]`` (a file of the
    experiment folder carried in the record, and the name to save it under)."""
    token = tokens[idx]
    resolve = env.get("link") if isinstance(env, dict) else None
    if resolve is not None:
        href, name = resolve(str(token.attrGet("href") or ""))
        token.attrSet("href", href)
        if name is not None:
            token.attrSet("download", name)
    return str(self.renderToken(tokens, idx, options, env))


def _code(rule: str) -> Any:
    """Markdown's rule for a code block, with its long lines cut (see labreport.longlines)."""

    def render(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].content = cut_long_lines(tokens[idx].content)
        return str(getattr(self, rule)(tokens, idx, options, env))

    return render


_markdown.add_render_rule("image", _picture)
_markdown.add_render_rule("link_open", _link)
_markdown.add_render_rule("fence", _code("fence"))
_markdown.add_render_rule("code_block", _code("code_block"))
_MATH = frozenset({"math_inline", "math_inline_double", "math_block", "math_block_label"})


def _formulas(tokens: Any) -> list[str]:
    """The TeX of every formula among Markdown's ``tokens`` (and their children), in order."""
    found = []
    for token in tokens:
        if token.type in _MATH:
            found.append(str(token.content))
        found += _formulas(token.children or ())
    return found


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>$!#|~])")
# A value UTF-8 cannot encode (a file name from os.listdir that is not UTF-8) is shown as U+FFFD.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _as_text(value: Any) -> str:
    """What a placeholder prints is data, not Markdown: a recorded "a*b" or a literal
    "{{ 7*7 }}" must not turn into emphasis or a formula. Digits, '.', '-' and '+' are left
    alone, so numbers read the same inside `code` and $math$."""
    bounded.printable(value)
    text = _LONE_SURROGATE.sub("\ufffd", "" if value is None else str(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


class _ProseEnvironment(BoundedSandbox):
    """The sandbox, where ``results.NAME`` is the value recorded as NAME even when NAME is also
    a method of dict (``items``, ``values``, ``keys``, ``count``...): Jinja would give the
    method, and the record would print "<built-in method items ...>"."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Results) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_sandbox = _ProseEnvironment(undefined=_Undefined, autoescape=False, finalize=_as_text)

#: The error of a prose text or check nested deeper than Jinja's parser can recurse (build and
#: ``validate`` say the same).
TOO_DEEP = "nested too deeply"
TOO_DEEP_FIX = "use fewer levels of parentheses, brackets and tags"
#: Names prose placeholders may use; a loop adds its own variables.
PROSE_NAMES = frozenset({"results", "spec", "loop"})
#: The statements prose may use: choosing a sentence by a measured value, listing values.
PROSE_STATEMENTS = frozenset({"if", "elif", "else", "endif", "for", "endfor"})
_OPEN = re.compile(r"\{\{|\{%|\{#")
_CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}")
_ENDRAW = re.compile(r"\{%-?\s*endraw\s*-?%\}")


def _tag_end(text: str, start: int, close: str) -> int:
    """Index just past ``close``, skipping quoted strings; -1 if the tag never closes."""
    i, quote = start, ""
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif text.startswith(close, i):
            return i + len(close)
        i += 1
    return -1


def _tags(text: str) -> Iterator[tuple[int, int, str]]:
    """Spans of ``{{ }}``, ``{% %}`` and ``{# #}`` tags; ``{% raw %}`` sections are skipped."""
    pos = 0
    while match := _OPEN.search(text, pos):
        end = _tag_end(text, match.end(), _CLOSE[match.group()])
        if end < 0:
            return
        if _RAW.fullmatch(text, match.start(), end):
            closing = _ENDRAW.search(text, end)
            if closing is None:
                return
            pos = closing.end()
            continue
        yield match.start(), end, match.group()
        pos = end


def _tokens(tag: str) -> list[tuple[str, str]]:
    try:
        return [(kind, value) for _, kind, value in _sandbox.lex(tag)]
    except jinja2.TemplateSyntaxError:
        return []


def _literal(tag: str) -> str:
    """A Jinja expression that prints ``tag`` as written, on as many lines as ``tag`` (so that
    line numbers in later error messages stay true)."""
    return "{{ " + json.dumps(tag, ensure_ascii=False) + "\n" * tag.count("\n") + " }}"


def prepare(text: str) -> str:
    """``text`` with every tag that is not a prose placeholder turned into literal text."""
    names = set(PROSE_NAMES)
    out: list[str] = []
    pos = 0
    for start, end, kind in _tags(text):
        tag = text[start:end]
        tokens = _tokens(tag)
        words = [value for token, value in tokens if token == "name"]
        if kind == "{%" and words and words[0] == "for" and "in" in words:
            names.update(words[1 : words.index("in")])
        keep = (
            kind == "{#"
            or (kind == "{{" and bool(names.intersection(words)))
            or (kind == "{%" and bool(words) and words[0] in PROSE_STATEMENTS)
        )
        out.append(text[pos:start])
        out.append(tag if keep else _literal(tag))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def results_used(text: str) -> set[str]:
    """The recorded values a prose text or check expression uses (``results.NAME``)."""
    tree = _sandbox.parse(prepare(text))
    used = {
        node.attr for node in tree.find_all(nodes.Getattr)
        if isinstance(node.node, nodes.Name) and node.node.name == "results"
    }  # fmt: skip
    for node in tree.find_all(nodes.Getitem):
        if (
            isinstance(node.node, nodes.Name) and node.node.name == "results"
            and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)
        ):  # fmt: skip
            used.add(node.arg.value)
    return used


def _targets(text: str, token_type: str, attribute: str) -> list[str]:
    found = []
    for token in _markdown.parse(text):
        for child in token.children or ():
            if child.type == token_type:
                found.append(str(child.attrGet(attribute) or ""))
    return found


def pictures_used(text: str) -> list[str]:
    """The ``src`` of every Markdown picture in a prose text, in order."""
    return _targets(text, "image", "src")


def links_used(text: str) -> list[str]:
    """The ``href`` of every Markdown link in a prose text, in order."""
    return _targets(text, "link_open", "href")


def check_expression(expr: str) -> None:
    """Raise jinja2.TemplateSyntaxError for a check's expression that cannot compile: as prose,
    an unbalanced ``(`` would be shown as text, but a check must be evaluated."""
    _sandbox.compile_expression(expr)


def check_prose(text: str) -> None:
    """Raise jinja2.TemplateSyntaxError or FormulaError for a text that cannot render; runs
    nothing, so ``labreport validate`` can use it before any program has run. A text with more
    formulas than a whole record may hold is refused before any is drawn."""
    _sandbox.parse(prepare(text))
    tokens = _markdown.parse(text)
    FormulaBudget().charge(_formulas(tokens))
    _markdown.renderer.render(tokens, _markdown.options, {})


_INLINE_MATH = ' <span class="math inline">'


def _breakable(html: str) -> str:
    """A zero-width space before inline math that follows a space: without it WeasyPrint (70)
    finds no break before the formula's image and breaks the line after its first word."""
    return html.replace(_INLINE_MATH, " &#8203;" + _INLINE_MATH[1:])


class ProseRenderer:
    """Renders the prose fields of one spec; ``spec_path`` and field names appear in errors."""

    def __init__(self, spec_path: Path, spec: Mapping[str, Any], folder: Path) -> None:
        """``folder``: the experiment's, where the prose's pictures and linked files are. One
        renderer renders one record: its fields share one budget of work and of formulas."""
        self.spec_path = spec_path
        self.spec = spec
        self.folder = folder
        self.budget = Budget()
        self.formulas = FormulaBudget()

    def _env(self, field: str) -> dict[str, Any]:
        return {
            "picture": self._embedding("picture", embed_picture, field),
            "link": self._embedding("link", embed_link, field),
        }

    def _embedding(
        self, kind: str, embed: Callable[[Path, str], _T], field: str
    ) -> Callable[[str], _T]:
        """``embed`` for Markdown's renderer: a file of the experiment folder carried in the
        record, any failure a RenderError naming the spec and ``field``."""

        def carried(target: str) -> _T:
            where = str(self.spec_path)
            try:
                return embed(self.folder, target)
            except EmbedError as exc:
                raise RenderError(exc.what, where=where, field=field, fix=exc.fix) from exc
            except ValueError as exc:  # a path no file can have: "%00.png" is a NUL byte
                what = f"{kind} {target!r} cannot be a file: {exc}"
                raise RenderError(what, where=where, field=field) from exc

        return carried

    def fill(self, text: str, field: str, results: Mapping[str, Any]) -> str:
        """Substitute recorded values into ``text``."""
        if "{{" not in text and "{%" not in text and "{#" not in text:
            return text
        with self._errors(field, syntax_line=True), spending(self.budget):
            template = _sandbox.from_string(prepare(text))
            return bounded.render(template, results=Results(results), spec=self.spec)
        raise AssertionError("unreachable")  # _errors re-raises every exception

    def block(self, text: str | None, field: str, results: Mapping[str, Any]) -> Markup:
        """Paragraphs, lists, tables and formulas."""
        if not text:
            return Markup("")
        return self._markdown(self.fill(text, field, results), field, inline=False)

    def inline(self, text: str | None, field: str, results: Mapping[str, Any]) -> Markup:
        """A single line: emphasis, code and inline formulas, no paragraph around it."""
        if not text:
            return Markup("")
        return self._markdown(self.fill(text, field, results), field, inline=True)

    def _markdown(self, text: str, field: str, inline: bool) -> Markup:
        env = self._env(field)
        try:
            tokens = _markdown.parseInline(text, env) if inline else _markdown.parse(text, env)
            self.formulas.charge(_formulas(tokens))
            html = _markdown.renderer.render(tokens, _markdown.options, env)
            return Markup(keep_units(_breakable(html)))
        except FormulaError as exc:  # too many, or one that cannot be typeset
            where = str(self.spec_path)
            raise RenderError(exc.what, where=where, field=field, fix=exc.fix) from exc
        except RecursionError as exc:
            where = str(self.spec_path)
            raise RenderError(TOO_DEEP, where=where, field=field, fix=TOO_DEEP_FIX) from exc

    def expression(self, expr: str, field: str, results: Mapping[str, Any]) -> Any:
        """Evaluate a check's expression over the recorded values. A value nobody recorded is
        an error here too, also used bare (``expr: results.nope``), where Jinja would hand back
        its Undefined and only fail when someone asks whether it is true."""
        with self._errors(field, syntax_line=False), spending(self.budget):
            compiled = _sandbox.compile_expression(expr, undefined_to_none=False)
            value = compiled(results=Results(results), spec=self.spec)
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()
            return value
        raise AssertionError("unreachable")  # _errors re-raises every exception

    @contextlib.contextmanager
    def _errors(self, field: str, syntax_line: bool) -> Iterator[None]:
        """Jinja's and Python's errors in a prose field → one RenderError naming the field."""
        where = f"{self.spec_path}: {field}"
        try:
            yield
        except TooCostly as exc:
            what, fix = exc.what, exc.fix
            raise RenderError(what, where=str(self.spec_path), field=field, fix=fix) from exc
        except jinja2.TemplateSyntaxError as exc:
            line = f"line {exc.lineno} of the text: " if syntax_line else ""
            raise RenderError(f"{where}: {line}{exc.message}") from exc
        except jinja2.UndefinedError as exc:
            raise RenderError(f"{where}: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise RenderError(f"{where}: {exc}") from exc
        except (RecursionError, SyntaxError) as exc:
            # Jinja's parser and compiler recurse per nesting level, and Python compiles at
            # most 20 nested blocks: "too many statically nested blocks" (21 nested for's).
            where = str(self.spec_path)
            raise RenderError(TOO_DEEP, where=where, field=field, fix=TOO_DEEP_FIX) from exc
        except MemoryError as exc:  # one allocation too large to make: 'a' | center(10**13)
            raise RenderError(f"{where}: too large to compute") from exc
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            # A filter given a value of the wrong kind (``results.n | dictsort``, ``| join`` on
            # a number): the spec's mistake, or a value the program recorded of another kind.
            raise RenderError(f"{where}: {type(exc).__name__}: {exc}") from exc
