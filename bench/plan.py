"""The rows of the benchmark (issue 7, point 1, items a–g): what each runs, against what, and
the target it must meet.

Each row is one command, run once per repetition, preceded by an untimed ``prepare`` that puts
the project copy in the state the row needs (a fresh scratch folder, an edited sentence, an
up-to-date build) and returns the working directory. Floors are other rows, summed per
repetition, so a row and its floor are measured under the same noise.
"""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workspace import Program, Workspace, WorkspaceError

#: The experiments of items (a)–(c); (d) and (f) take every experiment of the project.
FOCUS = ("exp5", "exp10")
#: The experiment whose theory and theme the rebuild rows (c) edit.
EDITED = "exp10"
#: nbconvert's re-execution time over the raw run, lower bound measured on this machine
#: (shared/FACTS.md: 1.6× for an exp10-like program, 2.4× for an exp5-like one).
NBCONVERT_FACTOR = 1.6


@dataclass(frozen=True)
class Target:
    """``value ≤ limit``, the value being a ratio to the floor, seconds or MiB."""

    limit: float
    unit: str  # "x", "s" or "MiB"

    def text(self) -> str:
        if self.unit == "x":
            return f"≤ {self.limit:.2f}×"
        if self.unit == "s":
            return f"≤ {self.limit:.2f} s"
        return f"≤ {self.limit:.0f} MiB"


@dataclass(frozen=True)
class Floor:
    """The sum of other rows' times in the same repetition, times ``factor``."""

    keys: tuple[str, ...]
    label: str
    factor: float = 1.0


@dataclass(frozen=True)
class Expect:
    """Output files that the command must rewrite (``changed``) or leave alone; a row whose
    command did not do what it stands for (an edit not rebuilt, a no-op that wrote) is invalid."""

    paths: Callable[[], list[Path]]
    changed: bool


@dataclass(frozen=True)
class Row:
    """One line of the table: a command, how to prepare each run of it, what it is judged by."""

    key: str
    group: str  # the item of issue 7: a–g
    label: str
    argv: tuple[str, ...]
    prepare: Callable[[int], Path]  # revision number → working directory
    env: Mapping[str, str] = field(default_factory=dict)
    floor: Floor | None = None
    target: Target | None = None
    expect: Expect | None = None
    peak_checked: bool = False  # counts for (g), the parent's peak memory
    theme: str | None = None  # edits the project's copy of this theme: eject it first
    needs_cache: bool = False  # rebuilds from the run cache: fill it before the first repetition


@dataclass
class Context:
    """How to run labreport and programs against the project copy."""

    workspace: Workspace
    labreport: tuple[str, ...]  # the command, e.g. the ``labreport`` script next to python
    env: dict[str, str]  # for every command: the caller's, MPLBACKEND=Agg, PYTHONPATH if --source
    timeout: float
    raw_threads: int | None = None  # thread count forced on raw runs; None: libraries' default
    log_dir: Path | None = None  # with --keep: the end of each command's output, one file a run

    def raw_env(self, *, keep_backend: bool = True) -> dict[str, str]:
        """The environment of a raw run (or a notebook run: ``keep_backend=False`` lets the
        kernel draw figures inline, as it does for a user)."""
        env = dict(self.env)
        if not keep_backend:
            env.pop("MPLBACKEND", None)
        if self.raw_threads is not None:
            for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                env[name] = str(self.raw_threads)
        return env

    def lr(self, *args: str) -> tuple[str, ...]:
        return (*self.labreport, *args)

    def settle(self, *args: str) -> None:
        """Run a labreport command untimed (setup, not measurement); raise if it fails."""
        try:
            done = subprocess.run(
                self.lr(*args),
                cwd=self.workspace.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WorkspaceError(f"`labreport {' '.join(args)}`: {exc}") from exc
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            message = " / ".join(tail) or f"exit {done.returncode}"
            raise WorkspaceError(f"`labreport {' '.join(args)}` failed: {message}")


def _at(folder: Path) -> Callable[[int], Path]:
    """A prepare step with nothing to prepare."""
    return lambda _rev: folder


def _editing(edit: Callable[[int], None], folder: Path) -> Callable[[int], Path]:
    """A prepare step that makes a new edit (revision ``rev``) before the timed rebuild."""

    def prepare(rev: int) -> Path:
        edit(rev)
        return folder

    return prepare


def _scratch(ws: Workspace, experiment: str) -> Callable[[int], Path]:
    """A prepare step for a raw run: a fresh copy of the experiment folder."""
    return lambda _rev: ws.scratch_copy(experiment)


def _outputs(ws: Workspace, experiment: str, suffixes: Sequence[str]) -> Callable[[], list[Path]]:
    return lambda: [ws.output(experiment, suffix) for suffix in suffixes]


def _raw_rows(ctx: Context, programs: Sequence[Program], nbconvert: bool) -> list[Row]:
    """(a): ``python prog.py`` of every program, the floor. Other experiments' programs run too,
    as the floor of (f); with nbconvert, so do the edited experiment's notebooks, floor of (c)."""
    ws, rows = ctx.workspace, []
    for program in programs:
        focus = program.experiment in FOCUS
        rows.append(
            Row(
                key=f"raw:{program.key}",
                group="a",
                label=f"`python {program.code}` ({program.experiment})"
                + ("" if focus else ", floor of (f)"),
                argv=(sys.executable, program.code, *program.args),
                prepare=_scratch(ws, program.experiment),
                env=ctx.raw_env(),
            )
        )
        if nbconvert and program.experiment == EDITED:
            rows.append(_nbconvert_row(ctx, program))
    return rows


def _nbconvert_row(ctx: Context, program: Program) -> Row:
    ws = ctx.workspace

    def prepare(_rev: int) -> Path:
        folder = ws.scratch_copy(program.experiment)
        ws.notebook(program, folder)
        return folder

    env = ctx.raw_env(keep_backend=False)
    notebook = Path(program.code).stem + ".ipynb"
    return Row(
        key=f"nbconvert:{program.key}",
        group="c",
        label=f"`jupyter nbconvert --execute --to html` {notebook}, floor of (c)",
        argv=(
            sys.executable, "-c", "from nbconvert.nbconvertapp import main; main()",
            "--execute", "--to", "html", notebook,
        ),
        prepare=prepare,
        env=env,
    )  # fmt: skip


def _cold_rows(ctx: Context, experiment: str, raw: Floor) -> list[Row]:
    """(b): ``build EXP --force``, HTML and HTML+PDF; the parent's peak memory is (g)."""
    rows = []
    for fmt, limit, what in (("html", 1.10, "HTML"), ("all", 1.30, "HTML+PDF")):
        rows.append(
            Row(
                key=f"cold-{fmt}:{experiment}",
                group="b",
                label=f"cold {what} build of {experiment} (`--format {fmt} --force`)",
                argv=ctx.lr("build", experiment, "--format", fmt, "--force"),
                prepare=_at(ctx.workspace.root),
                floor=raw,
                target=Target(limit, "x"),
                peak_checked=True,
                needs_cache=True,  # built once before, as a user's project is: formulas drawn
            )
        )
    return rows


def _edit_rows(ctx: Context, floor: Floor) -> list[Row]:
    """(c): rebuild after one sentence of the theory, or one rule of the theme's CSS, changed."""
    ws = ctx.workspace
    theme = ws.theme(EDITED)
    edits: dict[str, tuple[str, Callable[[int], None]]] = {
        "theory": ("one sentence of its theory", lambda rev: ws.edit_theory(EDITED, rev)),
        "css": (f"one rule of {theme}/style.css", lambda rev: ws.edit_css(theme, rev)),
    }
    rows = []
    for name, (what, edit) in edits.items():
        for fmt, suffixes, shown in (
            ("html", ("html",), "HTML"),
            ("all", ("html", "pdf"), "HTML+PDF"),
        ):
            rows.append(
                Row(
                    key=f"edit-{name}-{fmt}:{EDITED}",
                    group="c",
                    label=f"{shown} rebuild of {EDITED} after changing {what}",
                    argv=ctx.lr("build", EDITED, "--format", fmt),
                    prepare=_editing(edit, ws.root),
                    floor=floor,
                    target=Target(0.2, "x"),
                    expect=Expect(_outputs(ws, EDITED, suffixes), True),
                    theme=theme if name == "css" else None,
                    needs_cache=True,
                )
            )
    return rows


def _edit_floor(programs: Sequence[Program], nbconvert: bool) -> Floor:
    keys = tuple(p.key for p in programs if p.experiment == EDITED)
    if nbconvert:
        return Floor(tuple(f"nbconvert:{k}" for k in keys), f"nbconvert {EDITED}")
    label = f"nbconvert {EDITED} est. {NBCONVERT_FACTOR}× raw"
    return Floor(tuple(f"raw:{k}" for k in keys), label, NBCONVERT_FACTOR)


def _project_rows(ctx: Context, everything: Floor) -> list[Row]:
    """(d) no-op ``build --all``, (e) ``--help``, (f) cold ``build --all``."""
    ws = ctx.workspace

    def settled(_rev: int) -> Path:
        ctx.settle("build", "--all", "-q")
        return ws.root

    return [
        Row("noop:all", "d", "no-op `build --all` (everything up to date)",
            ctx.lr("build", "--all"), settled, target=Target(0.3, "s"),
            expect=Expect(ws.outputs, False), needs_cache=True),
        Row("help", "e", "`labreport --help`", ctx.lr("--help"), _at(ws.root),
            target=Target(0.15, "s")),
        Row("cold-all:j1", "f", "cold `build --all --force --jobs 1` (no target: what the "
            "warm interpreter alone gives)", ctx.lr("build", "--all", "--force", "--jobs", "1"),
            _at(ws.root), floor=everything),
        Row("cold-all:jobs", "f", "cold `build --all --force`, default jobs",
            ctx.lr("build", "--all", "--force"), _at(ws.root), floor=everything,
            target=Target(0.6, "x")),
    ]  # fmt: skip


def build_rows(ctx: Context, nbconvert: bool) -> list[Row]:
    """Every row, in the order of issue 7; rows of experiments missing from the project are
    left out."""
    ws = ctx.workspace
    experiments = ws.experiments()
    programs = [p for exp in experiments for p in ws.programs(exp)]
    rows = _raw_rows(ctx, programs, nbconvert)
    for experiment in (e for e in FOCUS if e in experiments):
        keys = tuple(f"raw:{p.key}" for p in programs if p.experiment == experiment)
        rows += _cold_rows(ctx, experiment, Floor(keys, f"raw {experiment}"))
    if EDITED in experiments:
        rows += _edit_rows(ctx, _edit_floor(programs, nbconvert))
    everything = Floor(tuple(f"raw:{p.key}" for p in programs), "raw, all programs")
    return rows + _project_rows(ctx, everything)


def select(rows: Sequence[Row], patterns: Sequence[str]) -> list[Row]:
    """The rows named by ``--only`` (keys, shell patterns such as ``cold-*``, or the item letters
    a–g), plus the rows their floors need; all rows when no pattern is given."""
    if not patterns:
        return list(rows)
    letters = {p for p in patterns if len(p) == 1 and p in "abcdefg"}
    if "g" in letters:
        letters.add("b")
    chosen = {
        r.key
        for r in rows
        if r.group in letters or any(fnmatch.fnmatchcase(r.key, p) for p in patterns)
    }
    for row in rows:
        if row.key in chosen and row.floor is not None:
            chosen.update(row.floor.keys)
    return [r for r in rows if r.key in chosen]
