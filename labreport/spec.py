"""``experiment.yaml`` → a frozen, validated :class:`Experiment`; every problem named by file:line.

YAML is composed to nodes first so that each validation error can point at the line it came from;
the same nodes are then constructed into plain data, so the file is parsed once. Anchors and
aliases are allowed but their expansion is bounded, so an alias bomb is refused, not expanded; a
file over :data:`MAX_SPEC_BYTES` or nested deeper than Python can recurse is refused too. Whatever
the text, the loader returns a valid model or raises :class:`SpecError` (a fuzz test holds it to
that), and every message is one line per problem.
"""

from __future__ import annotations

import collections
import datetime
import difflib
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from labreport.errors import EXIT_USAGE, Problem, SpecError
from labreport.ids import ID_PATTERN, SPEC_NAME, discover, resolve_ids  # noqa: E402
from labreport.listing import ShowError, parse_ranges, shown_lines, source_lines
from labreport.seeds import STUDENT
from labreport.skeleton import END, HIDE, SkeletonError, hidden_regions

__all__ = ["ID_PATTERN", "SPEC_NAME", "discover", "resolve_ids"]
MAX_NODES = 20_000  # far above any real spec, far below what an alias bomb expands to
# Real specs nest four levels; a recursive alias (&a [*a]) nests forever, and field paths that
# long would cost gigabytes before MAX_NODES is reached.
MAX_DEPTH = 32
MAX_SPEC_BYTES = 1024 * 1024  # a spec is prose and settings; data belongs in files beside it
_SHOWN_INPUT = 60  # characters of a wrong value quoted in an error message


def _str_to_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _date_to_str(value: Any) -> Any:
    """YAML reads an unquoted ``2025-02-10`` as a date; the record prints it as written."""
    return value.isoformat() if isinstance(value, datetime.date) else value


StrList = Annotated[list[str], BeforeValidator(_str_to_list)]
DateText = Annotated[str | None, BeforeValidator(_date_to_str)]
# A size such as 4 GiB, 500 MB or a number of bytes.
Bytes = Annotated[ByteSize, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class QA(_Model):
    """A pre-lab or viva question with its answer (Markdown)."""

    question: str
    answer: str = ""
    lines: int = Field(
        4, ge=0, le=40,
        description="Ruled lines the handout leaves for the answer (the answer is never shown).",
    )  # fmt: skip


class ShowLines(_Model):
    """``show: {lines: "10-40"}``: only these lines of the program are listed."""

    lines: str


class ShowRegion(_Model):
    """``show: {region: NAME}``: only the lines between ``# region NAME`` and ``# endregion``."""

    region: str


Show = Literal["all", "none", "appendix"] | ShowLines | ShowRegion
HandoutShow = Literal["listing", "skeleton", "none"]
_SHOW_FIX = 'write all, none, appendix, {lines: "10-40"} or {region: NAME}'


class Program(_Model):
    """One program of the experiment: what to run, and the prose around its results."""

    code: str = Field(description="Path of the program, relative to the experiment folder.")
    title: str | None = None
    task: str | None = Field(None, description="The task statement ('Program N: ...').")
    part: Literal["in-lab", "post-lab"] = "in-lab"
    args: list[str] = Field(
        [],
        description=(
            "Command-line arguments of the program; {seed} in one is replaced by the seed it "
            'runs with (its seed, or verify\'s), e.g. ["--seed", "{seed}"].'
        ),
    )
    timeout: float = Field(600.0, gt=0, description="Seconds before the program is killed.")
    seed: Annotated[int, Field(ge=0)] | Literal["student"] = Field(
        0,
        description=(
            "Seed for random, NumPy and PyTorch: a whole number, or student for one derived "
            "from the student ID (see labreport.seeds)."
        ),
    )
    allow_errors: bool = Field(False, description="Render a failure instead of failing the build.")
    memory_limit: Bytes | None = Field(
        None, description="Memory the program may hold, e.g. 8 GiB (default: [limits] memory)."
    )
    output_limit: Bytes | None = Field(
        None, description="Output kept, e.g. 1 MB; the rest is dropped with a marker."
    )
    figure_limit: int | None = Field(
        None, ge=0, description="Figures captured; later ones are dropped with a marker."
    )
    pass_env: StrList = Field(
        [],
        description=(
            "Variables of labreport's environment the program receives by name, e.g. DATA_DIR "
            "(beyond PATH, HOME, the locale and thread settings; nothing else crosses over)."
        ),
    )
    show_files: StrList = Field(
        [],
        description=(
            "Files the program writes (relative to the working folder) that the record shows: "
            "a .csv as a table, an image as a figure, other text as written."
        ),
    )
    record: list[str | dict[str, str]] = Field(
        [],
        description=(
            "Global variables recorded when the program ends, as record() would record them: "
            "a name, e.g. test_mse, or name: VARIABLE to record a variable under another name, "
            "e.g. epochs: EPOCHS. A name the program does not define fails its run."
        ),
    )
    show: Show = Field(
        "all",
        description=(
            "What the record lists of the program (the whole program runs whatever it says): "
            'all, none, appendix (listed in an appendix at the end), {lines: "1-5, 20-40"} '
            "or {region: NAME} (the lines between '# region NAME' and '# endregion')."
        ),
    )
    figures: StrList = Field(
        [],
        description=(
            "Captions of the program's figures, in the order it makes them (prose with {{ }}); "
            "a figure without one is captioned with its own title."
        ),
    )
    handout: HandoutShow | None = Field(
        None,
        description=(
            "What the handout (build --handout) shows of the program: listing (the lines show: "
            "lists), skeleton (the file skeleton: names, else the program with each region "
            "between '# handout: hide' and '# handout: end' replaced by one line) or none "
            "(the default: a handout never gives a solution away unless asked)."
        ),
    )
    skeleton: str | None = Field(
        None,
        description=(
            "A file of the experiment folder that the handout lists in place of the program, "
            "e.g. rnn_skeleton.py (implies handout: skeleton); it is never run."
        ),
    )
    data: str | None = None
    result: str | None = None
    analysis: str | None = None
    inferences: str | None = None

    @property
    def handout_shows(self) -> HandoutShow:
        """What the handout shows: ``handout:``, else skeleton where a file is named, else
        nothing."""
        if self.handout is not None:
            return self.handout
        return "skeleton" if self.skeleton is not None else "none"

    @field_validator("seed", mode="before")
    @classmethod
    def _check_seed(cls, value: Any) -> Any:
        """One message for both shapes a seed may take (a union's errors would be two)."""
        if isinstance(value, str) and value.strip() == STUDENT:
            return STUDENT
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise PydanticCustomError(
            "seed",
            "expected a whole number (integer) of 0 or more, or the word student",
        )

    @field_validator("show", mode="before")
    @classmethod
    def _check_show(cls, value: Any) -> Any:
        """One clear message for each wrong shape (a union's errors would be three)."""
        if isinstance(value, str) and value.strip() in ("all", "none", "appendix"):
            return value.strip()
        if isinstance(value, dict) and len(value) == 1:
            ((key, item),) = value.items()
            if key == "lines" and isinstance(item, str | int):
                try:
                    parse_ranges(str(item))
                except ValueError as exc:
                    raise PydanticCustomError(
                        "show", f'lines: {exc}: write ranges such as "1-5, 20-40"'
                    ) from exc
                return {"lines": str(item)}
            if key == "region" and isinstance(item, str) and item.strip():
                return value
        raise PydanticCustomError(
            "show", f"{_shown(value)} is not a way to show a listing: " + _SHOW_FIX
        )

    @field_validator("record", mode="before")
    @classmethod
    def _check_record(cls, value: Any) -> Any:
        """Every entry a variable name or one ``name: VARIABLE`` pair, each name once: found
        when the spec is read (and by ``validate``), not after an hour of training."""
        entries = [value] if isinstance(value, str | dict) else value
        if not isinstance(entries, list):
            return value  # not a list: pydantic says so
        seen: set[str] = set()
        for entry in entries:
            pairs = list(entry.items()) if isinstance(entry, dict) else [(entry, entry)]
            if len(pairs) != 1:
                raise PydanticCustomError(
                    "record_entry",
                    f"the entry {_shown(entry)} gives {len(pairs)} names: write each "
                    "name: VARIABLE as an entry of its own",
                )
            name, variable = pairs[0]
            for part in (name, variable):
                if not (isinstance(part, str) and part.isidentifier()) or keyword.iskeyword(part):
                    raise PydanticCustomError(
                        "record_entry",
                        f"the entry {_shown(part)} is not a variable name: list the "
                        "program's global variables by name, e.g. [test_mse, epochs: EPOCHS]",
                    )
            if name in seen:
                raise PydanticCustomError(
                    "record_entry", f"the name {name} is recorded twice: name it once"
                )
            seen.add(name)
        return entries

    @property
    def run_seed(self) -> int:
        """The seed the program runs with. A build resolves ``seed: student`` to a number
        (:func:`labreport.seeds.resolve_seeds`) before anything runs; meeting the word here is
        a bug in labreport, never a user's mistake."""
        if isinstance(self.seed, str):
            raise RuntimeError(f"{self.code}: seed: student was not resolved to a number")
        return self.seed

    @property
    def run_args(self) -> list[str]:
        """``args`` as the program receives them: each ``{seed}`` replaced by ``run_seed``."""
        return [arg.replace("{seed}", str(self.run_seed)) for arg in self.args]

    @property
    def recorded_globals(self) -> tuple[tuple[str, str], ...]:
        """``(name, variable)`` for each entry of ``record``: the global ``variable`` is
        recorded as ``name`` (the same name unless the entry maps one to the other)."""
        return tuple(
            next(iter(entry.items())) if isinstance(entry, dict) else (entry, entry)
            for entry in self.record
        )


class RubricRow(_Model):
    """A row of the assessment table; marks stay blank unless given."""

    criterion: str
    total_marks: float | None = None
    marks_obtained: float | None = None
    comments: str = ""


class Check(_Model):
    """A claim of the record that the run must bear out, e.g. "LSTM outperforms RNN"."""

    claim: str = Field(description="The sentence the check supports, shown beside its outcome.")
    expr: str = Field(
        description=(
            "A Jinja expression over recorded values, e.g. results.lstm_mse < results.rnn_mse"
        )
    )
    shows: str | None = Field(
        None,
        description=(
            "What the record shows as the measured evidence, in place of the values the "
            "expression reads (prose with {{ }}), e.g. {{ results.initial_loss }} → "
            "{{ results.final_loss }}"
        ),
    )


class CourseOverride(_Model):
    """Course fields that replace the project's for this experiment only."""

    title: str | None = None
    codes: str | None = None
    academic_year: str | None = None


DEFAULT_RUBRIC = (
    RubricRow(criterion="Concept (A)"),
    RubricRow(criterion="Implementation (B)"),
    RubricRow(criterion="Performance (C)"),
)


class Experiment(_Model):
    """Everything either record format shows, as written by the teacher."""

    number: int = Field(ge=0)
    title: str
    theme: str = Field("classic", description="The look of the record: a theme's folder name.")
    workdir: Literal["separate", "shared"] = Field(
        "separate",
        description=(
            "separate: each program runs in a fresh copy of the experiment folder. shared: the "
            "programs run in order in one copy, so a later one reads what an earlier one wrote."
        ),
    )
    aim: str
    tools: StrList = []
    theory: str | None = None
    description: str | None = None
    prerequisites: StrList = []
    prelab: list[QA] = []
    viva: list[QA] = []
    programs: list[Program] = Field(min_length=1)
    result: str | None = None
    checks: list[Check] = []
    rubric: list[RubricRow] = list(DEFAULT_RUBRIC)
    course: CourseOverride = CourseOverride()
    date: DateText = None
    marks_out_of: int = Field(
        50, gt=0, description="The evaluator's total ('Marks Secured ___ out of N')."
    )


# The fields rendered as Markdown prose, each with whether it is one line (inline) or a block.
# The renderer fills them in and `labreport validate` checks them: both walk these lists, so a
# new prose field is added here once.
EXPERIMENT_PROSE: tuple[tuple[str, bool], ...] = (
    ("aim", True), ("theory", False), ("description", False), ("result", False),
)  # fmt: skip
PROGRAM_PROSE: tuple[tuple[str, bool], ...] = (
    ("task", True), ("data", False), ("result", False), ("analysis", False),
    ("inferences", False),
)  # fmt: skip


# The fields a theme may have no place for (every theme uses the others: number, title, aim,
# theme, a program's code and run settings). Each built-in theme lists in its theme.toml which
# of these it shows; build and validate warn about a field a spec fills that its theme drops.
THEMED_FIELDS = (
    "tools", "theory", "description", "prerequisites", "prelab", "viva", "result", "checks",
    "rubric", "date", "course", "marks_out_of",
    "programs.task", "programs.data", "programs.result", "programs.analysis",
    "programs.inferences",
)  # fmt: skip


def filled_fields(spec: Experiment) -> list[str]:
    """The :data:`THEMED_FIELDS` the author wrote (set, and not empty), in that order."""
    given = {name for name in spec.model_fields_set if getattr(spec, name) not in (None, "", [])}
    for program in spec.programs:
        given |= {
            f"programs.{name}" for name in program.model_fields_set
            if getattr(program, name) not in (None, "", [])
        }  # fmt: skip
    return [name for name in THEMED_FIELDS if name in given]


def unshown_notices(
    spec: Experiment, theme: str, shown: frozenset[str] | None, display: str
) -> list[str]:
    """A warning for each field the author wrote that ``theme`` (which shows ``shown``; None:
    unknown, say nothing) has no place for."""
    if shown is None:
        return []
    return [
        f"{display}: {name}: the {theme} theme has no place for it, so the record does not "
        "show it (choose a theme that shows it, or remove it)"
        for name in filled_fields(spec) if name not in shown
    ]  # fmt: skip


def prose_fields(spec: Experiment) -> Iterator[tuple[str, str]]:
    """``(field path, text)`` of every non-empty prose field of ``spec``, in spec order."""
    for name, _ in EXPERIMENT_PROSE:
        text = getattr(spec, name)
        if text:
            yield name, text
    for i, item in enumerate(spec.prerequisites):
        yield f"prerequisites[{i}]", item
    for group in ("prelab", "viva"):
        for i, qa in enumerate(getattr(spec, group)):
            yield f"{group}[{i}].question", qa.question
            if qa.answer:
                yield f"{group}[{i}].answer", qa.answer
    for i, program in enumerate(spec.programs):
        for name, _ in PROGRAM_PROSE:
            text = getattr(program, name)
            if text:
                yield f"programs[{i}].{name}", text
        for j, caption in enumerate(program.figures):
            yield f"programs[{i}].figures[{j}]", caption
    for i, check in enumerate(spec.checks):
        yield f"checks[{i}].claim", check.claim
        if check.shows:
            yield f"checks[{i}].shows", check.shows


@dataclass(frozen=True)
class ExperimentSource:
    """A validated spec together with where it lives."""

    id: str
    folder: Path
    spec_path: Path
    spec: Experiment
    notices: tuple[str, ...] = ()  # warnings a build shows but that do not stop it
    # Set by labreport.seeds.resolve_seeds: the student ID the derived seeds come from, and
    # for each program whether its seed is derived (the provenance line says which).
    student_id: str | None = None
    student_seeded: tuple[bool, ...] = ()

    def program_path(self, program: Program) -> Path:
        return self.folder / program.code


# --------------------------------------------------------------------------- YAML with positions

Path_ = tuple[str | int, ...]


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses ``[``/``{`` nested deeper than :data:`MAX_DEPTH` as it scans them:
    PyYAML's scanner takes time quadratic in that depth, so a megabyte of ``[`` would take hours."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 - PyYAML's name
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"brackets nested more than {MAX_DEPTH} levels deep", self.get_mark()
            )
        super().fetch_flow_collection_start(TokenClass)


def _yaml_error(exc: yaml.YAMLError, text: str, path: Path, kind: str) -> SpecError:
    """One line, ``file:line:col: YAML syntax error: what (fix)``, whatever PyYAML raised; the
    usual slips (a key without ':', a tab, ': ' in a value) in words of our own, at their line."""
    where, problem, fix = str(path), " ".join(str(exc).split()), None
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            where = f"{path}:{mark.line + 1}:{mark.column + 1}"
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or problem
        slip = _diagnose(exc, text)
        if slip is not None:
            line, column, problem, fix = slip
            where = f"{path}:{line + 1}:{column + 1}"
    elif isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        where = f"{path}:{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        problem = f"character {shown} is not allowed in YAML ({exc.reason})"
    return SpecError(f"{kind}: {problem}", where=where, fix=fix)


# A slip: the 0-based line and column it is at, what it is, how to fix it.
_Slip = tuple[int, int, str, str]
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # where PyYAML counts lines


def _line(lines: list[str], number: int) -> str:
    return lines[number] if 0 <= number < len(lines) else ""


def _diagnose(exc: yaml.MarkedYAMLError, text: str) -> _Slip | None:
    """The usual slip behind a PyYAML error, found where it is (PyYAML's "mapping values are not
    allowed here" comes a line or more after a key without ':'); None for anything else."""
    mark = exc.problem_mark
    if mark is None:
        return None
    lines = _YAML_LINE_BREAK.split(text)
    if exc.problem == "found character '\\t' that cannot start any token":
        before = _line(lines, mark.line)[: mark.column]
        if not before.strip(" -"):
            return (mark.line, mark.column, "a tab used for indentation",
                    "YAML indents with spaces only: replace the tab with spaces")  # fmt: skip
        return mark.line, mark.column, "a tab character", "replace it with a space"
    if exc.problem == "could not find expected ':'" and exc.context_mark is not None:
        return _missing_colon(lines, exc.context_mark.line, exc.context_mark.column)
    if exc.problem != "mapping values are not allowed here":
        return None
    scalar, after_value = _plain_scalar_before(text)
    if scalar is None:
        return None
    start = scalar.start_mark
    if not after_value:  # a key position: the words before the ':' run on from that key
        return _missing_colon(lines, start.line, start.column)
    key = _line(lines, start.line)[: start.column].strip()
    if start.line == mark.line:
        value = re.split(r"\s#", _line(lines, mark.line)[start.column :], maxsplit=1)[0].strip()
        return (mark.line, mark.column, "': ' inside an unquoted value",
                f"quote the value: {key} {_quoted(value)}")  # fmt: skip
    what = f"': ' inside an unquoted value that begins on line {start.line + 1}"
    word = _line(lines, mark.line)[: mark.column].strip()
    if _WORD.fullmatch(word):
        like = f"indent it like {key.lstrip('- ')}" if key else "line it up with its neighbours"
        fix = f"if {word}: is a key, {like}; else quote the value"
    else:
        block = f"{key} |" if key else "| after its key"
        fix = f"quote the value, or write it as a block: {block}, then the text on the lines below"
    return mark.line, mark.column, what, fix


def _quoted(value: str) -> str:
    """``value`` as a YAML string in quotes: single ones unless it holds one."""
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _missing_colon(lines: list[str], line: int, column: int) -> _Slip | None:
    """A key written without its ':' at ``line``: ``title T`` for ``title: T``."""
    match = re.match(r"(\S+)(.*)", _line(lines, line)[column:])
    if match is None:
        return None
    key, rest = match[1], match[2].strip()
    lead = _line(lines, line)[:column].strip()
    written = " ".join(part for part in (lead, f"{key}:", rest) if part)
    return line, column + len(key), f"missing ':' after the key '{key}'", f"write {written}"


def _plain_scalar_before(text: str) -> tuple[yaml.ScalarToken | None, bool]:
    """The plain scalar the scanner read last before it failed, and whether it is a value
    (it follows a ``key:``): scanned again, with the same bounds, to find where it began."""
    loader = _BoundedLoader(text)
    recent: collections.deque[yaml.Token] = collections.deque(maxlen=4)
    try:
        while loader.check_token():
            recent.append(loader.get_token())  # type: ignore[no-untyped-call]  # stubs lack it
    except (yaml.YAMLError, RecursionError):
        recent.extend(loader.tokens)
    finally:
        loader.dispose()
    tokens = list(recent)
    for i in range(len(tokens) - 1, -1, -1):
        token = tokens[i]
        if isinstance(token, yaml.ScalarToken):
            if not token.plain:
                return None, False
            return token, i > 0 and isinstance(tokens[i - 1], yaml.ValueToken)
    return None, False


def _too_deep(path: Path) -> SpecError:
    return SpecError(
        f"the document is nested too deeply (more than {MAX_DEPTH} levels, or a recursive "
        "alias): a spec needs a few levels only", where=str(path),
    )  # fmt: skip


def _compose(text: str, path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_BoundedLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path, "YAML syntax error") from exc
    except RecursionError as exc:
        raise _too_deep(path) from exc


def _index_marks(
    root: yaml.Node, path: Path, bare: dict[Path_, yaml.ScalarNode] | None = None
) -> dict[Path_, yaml.Mark]:
    """Map every field path to the line of its value; refuse alias bombs and duplicate keys.
    Each unquoted value that YAML reads as no string (``No``, ``0.1``, ``~``) goes to ``bare``."""
    marks: dict[Path_, yaml.Mark] = {}
    stack: list[tuple[Path_, yaml.Node]] = [((), root)]
    visited = 0
    while stack:
        where, node = stack.pop()
        visited += 1
        if len(where) > MAX_DEPTH:
            raise _too_deep(path)
        if visited > MAX_NODES:
            raise SpecError(
                f"the document expands to more than {MAX_NODES} nodes (an alias bomb?): use "
                "fewer anchors/aliases",
                where=str(path),
            )
        marks.setdefault(where, node.start_mark)
        if isinstance(node, yaml.ScalarNode) and node.style is None and node.tag != _STR_TAG:
            if bare is not None:
                bare.setdefault(where, node)
        elif isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    raise SpecError(
                        "a key must be a plain word, not a list or a mapping",
                        where=f"{path}:{line}",
                        field=_dotted(where),
                    )
                key = str(key_node.value)
                if key in seen:
                    line = key_node.start_mark.line + 1
                    raise SpecError(
                        "duplicate key", where=f"{path}:{line}", field=_dotted((*where, key))
                    )
                seen.add(key)
                marks[(*where, key)] = key_node.start_mark
                stack.append(((*where, key), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append(((*where, i), item))
    return marks


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _dotted(loc: Path_) -> str:
    """``programs[0].seed``; a key that is not a plain word is quoted, so that no character of
    it (a newline, a control code) can break the one-line message."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(str(part)):
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(error: Any, known: list[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind.startswith("byte_size"):
        return f"expected a size such as 4 GiB or 500 MB, got {_shown(error.get('input'))}"
    message = str(error["msg"]) or kind
    message = message[0].lower() + message[1:]
    if "input" in error and not isinstance(error["input"], dict | list):
        message += f", got {_shown(error['input'])}"
    return message


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_INPUT else text[: _SHOWN_INPUT - 3] + "..."


def _fields_at(loc: Path_) -> list[str]:
    """The known keys of the model that owns the last element of ``loc``."""
    model: Any = Experiment
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields) if model is not None else []


def _problems(
    exc: ValidationError,
    marks: dict[Path_, yaml.Mark],
    path: Path,
    bare: dict[Path_, yaml.ScalarNode] | None = None,
) -> list[Problem]:
    """One problem per validation error, at the line of the field (or of its nearest parent)."""
    problems = []
    for error in exc.errors():
        loc: Path_ = tuple(error["loc"])
        probe = loc
        while probe and probe not in marks:
            probe = probe[:-1]
        mark = marks.get(probe)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        what = _describe(error, _fields_at(loc))
        node = (bare or {}).get(loc) if error["type"] == "string_type" else None
        fix = _quote_it(node) if node is not None else None
        problems.append(Problem(where, what, _dotted(loc), fix, exit_code=SpecError.exit_code))
    return problems


_STR_TAG = "tag:yaml.org,2002:str"
# What YAML makes of an unquoted word where a string is wanted, by the tag it resolves to.
_READINGS = {
    "tag:yaml.org,2002:int": "a number", "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "null", "tag:yaml.org,2002:timestamp": "a date",
}  # fmt: skip


def _quote_it(node: yaml.ScalarNode) -> str | None:
    """How to make YAML read ``node``, an unquoted value, as the string it looks like."""
    raw = str(node.value)
    if not raw:
        return "give it a value after the ':'"
    if node.tag == "tag:yaml.org,2002:bool":
        reading = "true" if raw.lower() in ("yes", "true", "on") else "false"
    elif node.tag in _READINGS:
        reading = _READINGS[node.tag]
    else:
        return None
    return f"YAML reads {raw} without quotes as {reading}: quote it, {_quoted(raw)}"


# Keys renamed in 0.2, still read for one release (with a warning): old name -> new name.
RENAMED_KEYS = {"template": "theme"}


def _renamed(data: dict[str, Any], marks: dict[Path_, yaml.Mark], path: Path) -> list[str]:
    """Move each old spelling of a key to its new name; a warning per key moved."""
    notices = []
    for old, new in RENAMED_KEYS.items():
        if old not in data:
            continue
        mark = marks.get((old,))
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        if new in data:
            raise SpecError(f"is the old name of {new}: give only {new}:", where=where, field=old)
        data[new] = data.pop(old)
        if mark is not None:  # errors in the value point at the old key's line
            marks[(new,)] = mark
        notices.append(
            f"{where}: {old}: is deprecated and will stop working in the next release; "
            f"call it {new}:"
        )
    return notices


def parse_spec(text: str, path: Path, notices: list[str] | None = None) -> Experiment:
    """Validate the text of one ``experiment.yaml``; ``path`` is only used in messages.
    Warnings that do not stop a build (a deprecated key) are appended to ``notices``."""
    root = _compose(text, path)
    if root is None:
        raise SpecError("empty file: a spec needs number, title, aim and programs", where=str(path))
    bare: dict[Path_, yaml.ScalarNode] = {}
    marks = _index_marks(root, path, bare)
    loader = yaml.SafeLoader("")
    try:
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path, "YAML error") from exc
    except RecursionError as exc:
        raise _too_deep(path) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SpecError(
            "the top level must be a mapping of keys (aim:, programs:, ...)", where=f"{path}:1"
        )
    found = _renamed(data, marks, path)
    if notices is not None:
        notices += found
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems=_problems(exc, marks, path, bare)) from exc
    except RecursionError as exc:
        raise _too_deep(path) from exc


def _check_programs(source: ExperimentSource, display: Path) -> None:
    """Every program is a file inside the experiment folder: no ``..``, no absolute path, no
    symlink leading out (the folder is what gets copied, hashed and shown)."""
    for i, program in enumerate(source.spec.programs):
        _check_file(source, display, program.code, f"programs[{i}].code")


def _check_file(source: ExperimentSource, display: Path, name: str, field: str) -> None:
    """``name`` is a file inside the experiment folder (a program, a skeleton)."""
    folder = source.folder.resolve()
    shown = _shown(name)
    raw = Path(name)
    if raw.is_absolute() or ".." in raw.parts or "\0" in name or not name:
        raise SpecError(
            f"{shown} must be a path inside the experiment folder, relative to it "
            "(e.g. train.py)", where=str(display), field=field,
        )  # fmt: skip
    try:
        target = (source.folder / raw).resolve()
        is_file = target.is_file()
    except (OSError, RuntimeError) as exc:  # too long a name, a symlink loop
        raise SpecError(f"{shown} cannot be used: {exc}", where=str(display), field=field) from exc
    if not target.is_relative_to(folder):
        raise SpecError(
            f"{display}: {field}: {shown} points outside the experiment folder "
            f"(a symlink to {target}): copy the file into {source.folder.name}/"
        )
    if not is_file:
        close = _nearest_file(name, _files_in(source.folder))
        hint = f"; did you mean '{close}'?" if close else ""
        raise SpecError(
            f"no such file {shown} in {source.folder.name}/{hint}",
            where=str(display), field=field,
        )  # fmt: skip


def _nearest_file(code: str, files: list[str]) -> str | None:
    """The file ``code`` most likely meant, compared without suffixes (``.py`` alike would
    make ``train.py`` look like ``gru_sine.py``); one of the same suffix first."""
    suffix = PurePosixPath(code).suffix
    by_stem: dict[str, str] = {}
    for name in sorted(files, key=lambda f: PurePosixPath(f).suffix not in (suffix, ".py")):
        if suffix and PurePosixPath(name).suffix != suffix:
            continue
        by_stem.setdefault(name[: len(name) - len(PurePosixPath(name).suffix)], name)
    stem = code[: len(code) - len(suffix)]
    close = difflib.get_close_matches(stem, list(by_stem), n=1)
    return by_stem[close[0]] if close else None


_MAX_LISTED = 1000  # files of an experiment folder compared with a mistyped program path


def _files_in(folder: Path) -> list[str]:
    """The files of ``folder`` as paths relative to it (the first :data:`_MAX_LISTED`, no hidden
    ones or caches), for a did-you-mean on a program path."""
    found: list[str] = []
    try:
        for path in folder.rglob("*"):
            relative = path.relative_to(folder)
            hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
            if not hidden and path.is_file():
                found.append(relative.as_posix())
                if len(found) >= _MAX_LISTED:
                    break
    except OSError:
        pass
    return sorted(found)


def _check_folder(folder: Path, display: Path) -> None:
    """An experiment folder that is a symlink must stay inside the experiments folder."""
    if not folder.is_symlink():
        return
    parent = folder.parent.resolve()
    target = folder.resolve()
    if not target.is_relative_to(parent):
        raise SpecError(
            f"the experiment folder {folder.name}/ is a symlink to {target}, outside "
            f"{folder.parent.name}/: move the experiment into the project", where=str(display),
        )  # fmt: skip


def load_experiment(folder: Path, *, display_root: Path | None = None) -> ExperimentSource:
    """Load and check ``folder/experiment.yaml``, including that every program file exists."""
    spec_path = folder / SPEC_NAME
    display = spec_path.relative_to(display_root) if display_root else spec_path
    _check_folder(folder, display)
    try:
        size = spec_path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(
                f"{size} bytes is too large for a spec (at most {MAX_SPEC_BYTES}): keep data in "
                "files beside it", where=str(display),
            )  # fmt: skip
        text = spec_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(
            f"not found: each experiment folder needs an {SPEC_NAME}", where=str(display)
        ) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"not UTF-8 text (byte {exc.start}): save the file as UTF-8", where=str(display)
        ) from exc
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", where=str(display)) from exc
    notices: list[str] = []
    spec = parse_spec(text, display, notices)
    source = ExperimentSource(folder.name, folder, spec_path, spec, tuple(notices))
    _check_programs(source, display)
    _check_shows(source, display)
    _check_handouts(source, display)
    return source


def _check_shows(source: ExperimentSource, display: Path) -> None:
    """Each ``show:`` fits its program: its lines exist, its region is marked. Found when the
    spec is read, so ``validate`` says it as ``build`` does."""
    problems = []
    for i, program in enumerate(source.spec.programs):
        show = program.show
        if isinstance(show, str):
            continue
        text = source.program_path(program).read_text(encoding="utf-8", errors="replace")
        ranges = show.lines if isinstance(show, ShowLines) else None
        region = show.region if isinstance(show, ShowRegion) else None
        try:
            shown_lines(source_lines(text), ranges, region)
        except ShowError as exc:
            what = f"{program.code}: {exc.what}"
            field = f"programs[{i}].show"
            problems.append(Problem(str(display), what, field, exc.fix, exit_code=EXIT_USAGE))
    if problems:
        raise SpecError(problems=problems)


def _check_handouts(source: ExperimentSource, display: Path) -> None:
    """What each program's ``handout:`` asks for can be made: its skeleton file exists, its
    ``# handout: hide`` regions pair up, a listing lists something. Found when the spec is
    read, so ``validate`` and a record's build say it as the handout's build would."""
    problems = []
    for i, program in enumerate(source.spec.programs):
        field = f"programs[{i}]"
        mode = program.handout_shows
        if program.skeleton is not None:
            if program.handout not in (None, "skeleton"):
                problems.append(Problem(
                    str(display), f"a skeleton file is listed only with handout: skeleton, "
                    f"not with handout: {program.handout}", f"{field}.skeleton",
                    "write handout: skeleton, or remove skeleton:", exit_code=EXIT_USAGE,
                ))  # fmt: skip
                continue
            _check_file(source, display, program.skeleton, f"{field}.skeleton")
        elif mode == "skeleton":
            text = source.program_path(program).read_text(encoding="utf-8", errors="replace")
            try:
                regions = hidden_regions(text)
            except SkeletonError as exc:
                where = f"{display.parent / program.code}:{exc.line}"
                problems.append(Problem(
                    where, exc.what, f"{field}.handout", exc.fix, exit_code=EXIT_USAGE
                ))  # fmt: skip
                continue
            if not regions:
                problems.append(Problem(
                    str(display), f"skeleton, but {program.code} marks no region to leave out",
                    f"{field}.handout", f"mark the student's part with '{HIDE}' … "
                    f"'{END}', name a file with skeleton:, or write handout: listing",
                    exit_code=EXIT_USAGE,
                ))  # fmt: skip
        elif mode == "listing" and program.show == "none":
            problems.append(Problem(
                str(display), "listing, but show: none lists no line of the program",
                f"{field}.handout", "write handout: none, or choose the lines with show:",
                exit_code=EXIT_USAGE,
            ))  # fmt: skip
    if problems:
        raise SpecError(problems=problems)
