"""The record's checked claims: each check's verdict and the measured values that bear it out.

A check is a claim in words (``claim:``) and a Jinja expression over the recorded values
(``expr:``). The record shows the claim, the values the expression read (``name = value``, in
the order the expression reads them, found by walking its syntax tree) and the verdict; the
expression itself only on demand (on hover in HTML, in an appendix where the theme asks for it).
A check may say what to show instead (``shows:``, prose with ``{{ }}`` like every prose field).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from markupsafe import Markup

from labreport.errors import RenderError
from labreport.prose import ProseRenderer, _sandbox
from labreport.spec import ExperimentSource


@dataclass(frozen=True)
class CheckView:
    """A claim of the record and whether this run bears it out. ``measured`` is what the
    record shows as the evidence: the spec's ``shows:`` rendered, or the ``values`` the
    expression read as ``name = value`` pairs."""

    number: int
    claim: Markup
    expr: str
    passed: bool
    values: tuple[tuple[str, str], ...] = ()
    measured: Markup = Markup("")


_ONE_LINE = 32  # characters of a measured value that fit the column's width at print size


def evaluate_checks(
    source: ExperimentSource, prose: ProseRenderer, results: Mapping[str, Any]
) -> list[CheckView]:
    """Each check's expression over the recorded values; an expression that cannot be evaluated
    (a value no program recorded, a typo) or that is not true or false is a build error naming
    ``checks[i].expr``."""
    views = []
    for i, check in enumerate(source.spec.checks):
        claim = prose.inline(check.claim, f"checks[{i}].claim", results)
        field = f"checks[{i}].expr"
        passed = _truth(prose, check.expr, field, results)
        values = tuple(
            (label, format_value(value)) for label, value in measured_values(check.expr, results)
        )
        if check.shows:
            measured = prose.inline(check.shows, f"checks[{i}].shows", results)
        else:
            # "name = value" stays on one line, unless it is a list too long for the column
            measured = Markup(", ").join(
                Markup('<span class="{}">{} = {}</span>').format(
                    "measure long" if len(label) + len(value) > _ONE_LINE else "measure",
                    label,
                    value,
                )
                for label, value in values
            )
        views.append(CheckView(i + 1, claim, check.expr, passed, values, measured))
    return views


_SHORT = reprlib.Repr()  # a value in one line of an error: a recorded string may be long
_SHORT.maxstring = _SHORT.maxother = 40


def _truth(prose: ProseRenderer, expr: str, field: str, results: Mapping[str, Any]) -> bool:
    """A check's verdict. Only true or false is one: a bare value (``results.name``) would pass
    for any non-empty string or list and for every number but 0, whatever the run measured."""
    value = prose.expression(expr, field, results)
    if isinstance(value, bool):
        return value
    raise RenderError(
        f"the expression gives {_SHORT.repr(value)} (a {type(value).__name__}), not true or false",
        where=str(prose.spec_path), field=field,
        fix="compare the value, e.g. results.loss < 0.1 or results.name == 'adam'",
    )  # fmt: skip


# ------------------------------------------------------------------------ the values it read


def _recorded_name(node: nodes.Node) -> str | None:
    """NAME for ``results.NAME`` or ``results["NAME"]``, else None."""
    if isinstance(node, nodes.Getattr) and _is_results(node.node):
        return node.attr
    if (
        isinstance(node, nodes.Getitem) and _is_results(node.node)
        and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)
    ):  # fmt: skip
        return node.arg.value
    return None


def _is_results(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "results"


def _index(node: nodes.Node) -> int | None:
    """The integer of a constant index: ``[3]`` or ``[-1]``."""
    if isinstance(node, nodes.Const) and type(node.value) is int:
        return node.value
    if isinstance(node, nodes.Neg) and isinstance(node.node, nodes.Const):
        value = node.node.value
        return -value if type(value) is int else None
    return None


def _reads(tree: nodes.Node) -> Iterator[tuple[str, str, int | None]]:
    """``(label, name, index)`` of each recorded value the expression reads, in reading order
    (left to right: Jinja's nodes list their children in source order). An element read by a
    constant index (``results.errors[0]``) is its own value; any other use, the whole value.
    Walked with a stack: an expression may nest deeper than Python recurses."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Getitem):
            name = _recorded_name(node.node)
            index = _index(node.arg)
            if name is not None and index is not None:
                yield f"{name}[{index}]", name, index
                continue
        name = _recorded_name(node)
        if name is not None:
            yield name, name, None
            continue
        stack.extend(reversed(list(node.iter_child_nodes())))


def measured_values(expr: str, results: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(label, value)`` of each recorded value ``expr`` reads, each once, in reading order; a
    value it cannot read (an index out of range) is left out: the verdict says the rest."""
    tree = _sandbox.parse("{{ " + expr + " }}")
    found: dict[str, Any] = {}
    for label, name, index in _reads(tree):
        if label in found or name not in results:
            continue
        value = results[name]
        if index is not None:
            try:
                value = value[index]
            except (TypeError, LookupError):
                continue
        found[label] = value
    return list(found.items())


# ------------------------------------------------------------------------- values in few characters

SIGNIFICANT = 4  # digits of a measured value shown
# a longer list shows its first and last items and how many (7: one per temperature of exp13)
LIST_ITEMS = 7


def format_value(value: Any, depth: int = 0) -> str:
    """A measured value in few characters: 4 significant digits, scientific notation for tiny
    and huge numbers (``6.7e-6``), a long list shortened (``[0.1, 0.2, 0.3, …, 0.9] (12
    values)``), a long text cut."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:39] + "…")
    if isinstance(value, Mapping):
        return _SHORT.repr(dict(value))
    if isinstance(value, Sequence) and depth < 2:
        return _sequence(value, depth + 1)
    return _SHORT.repr(value)


def _number(x: float) -> str:
    if not math.isfinite(x) or x == 0:
        return str(x)
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{SIGNIFICANT}g}"
    if 1e4 <= abs(x) < 1e6 and x == round(x):
        return str(round(x))
    mantissa, exponent = f"{x:.{SIGNIFICANT - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _sequence(items: Sequence[Any], depth: int) -> str:
    if len(items) <= LIST_ITEMS:
        return "[" + ", ".join(format_value(item, depth) for item in items) + "]"
    head = ", ".join(format_value(item, depth) for item in items[:3])
    tail = ", ".join(format_value(item, depth) for item in items[-2:])
    return f"[{head}, …, {tail}] ({len(items)} values)"
