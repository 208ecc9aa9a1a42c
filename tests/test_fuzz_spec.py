"""Fuzzing the spec loader: whatever the text, a valid model or a SpecError, never anything else.

Three sources of hostile input: YAML documents of random shape, arbitrary text, and exp5's real
spec mutated at random (as text, and as data at a random field). Every error message must also
keep its promise: each line starts with the spec's path, so the CLI shows where to look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labreport.errors import SpecError
from labreport.spec import Experiment, parse_spec

from conftest import REPO, json_paths, mutated

EXP5 = (REPO / "experiments" / "exp5" / "experiment.yaml").read_text(encoding="utf-8")
EXP5_DATA = yaml.safe_load(EXP5)
PATH = Path("experiments/fuzz/experiment.yaml")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_keys = st.sampled_from(
    ["number", "title", "aim", "programs", "code", "seed", "timeout", "tools", "viva", "rubric",
     "memory_limit", "output_limit", "figure_limit", "checks", "claim", "expr", "date", "course"]
) | st.text(max_size=12)  # fmt: skip
_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=30) | st.dates()
)  # fmt: skip
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=25,
)


def check(text: str) -> None:
    """The loader's whole contract, for one input."""
    try:
        spec = parse_spec(text, PATH)
    except SpecError as exc:
        lines = exc.format_message().splitlines()
        assert lines, "an empty error message"
        for line in lines:
            assert line.startswith(str(PATH)), line
        return
    assert isinstance(spec, Experiment)
    assert spec.programs and spec.title is not None


@FUZZ
@given(_documents)
def test_random_yaml_documents(document: Any) -> None:
    check(yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check(text)


@st.composite
def _text_mutations(draw: st.DrawFn) -> str:
    """exp5's spec with a few random edits: deletions, insertions, swapped or repeated lines."""
    text = EXP5
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "swap", "repeat"]))
        lines = text.splitlines(keepends=True)
        if kind == "delete":
            start = draw(st.integers(0, len(text)))
            text = text[:start] + text[start + draw(st.integers(1, 40)) :]
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            piece = draw(st.text(alphabet=":-[]{}&*!|>'\"#% \n\tab0", max_size=12))
            text = text[:at] + piece + text[at:]
        elif kind == "swap" and len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
        elif lines:
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: i + 1] + lines[i:])
    return text


@FUZZ
@given(_text_mutations())
def test_mutations_of_exp5_text(text: str) -> None:
    check(text)


_PATHS = json_paths(EXP5_DATA)[1:]


@FUZZ
@given(st.sampled_from(_PATHS), _documents, st.booleans())
def test_mutations_of_exp5_data(path: tuple[Any, ...], value: Any, delete: bool) -> None:
    data = mutated(yaml.safe_load(EXP5), path, value, delete)
    check(yaml.safe_dump(data, allow_unicode=True))


def test_exp5_itself_is_valid() -> None:
    check(EXP5)
    assert parse_spec(EXP5, PATH).number == 5
