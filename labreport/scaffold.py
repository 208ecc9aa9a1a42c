"""``labreport init`` and ``labreport new``: start a project or an experiment from a template.

The starting files live in ``labreport/scaffolds/`` as real files (a TOML, YAML specs, Python
programs) rather than strings in code, so they are linted by eye, shipped in the wheel, and a
test can prove that what ``init`` writes builds at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from labreport.errors import OutputError, SpecError, UsageError
from labreport.project import CONFIG_NAME, Project
from labreport.spec import ID_PATTERN, SPEC_NAME, discover, load_experiment

SCAFFOLDS = Path(__file__).resolve().parent / "scaffolds"
# The built-in themes a new experiment can start from: scaffolds/experiment/<theme>.yaml each.
THEMES = ("classic", "worksheet")

__all__ = ["THEMES", "init_project", "new_experiment"]


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    return text


def _write_new(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError as exc:
        raise UsageError(f"{path} already exists; labreport never overwrites it") from exc
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc


def init_project(target: Path, course: str, force: bool = False) -> list[Path]:
    """Create a lab project in ``target`` (which may exist but must not be a project yet, nor
    lie inside one unless ``force``: commands run in it would no longer see the outer one)."""
    if (target / CONFIG_NAME).exists():
        raise UsageError(f"{target / CONFIG_NAME} already exists: {target} is a project already")
    enclosing = _enclosing_config(target)
    if enclosing is not None and not force:
        raise UsageError(
            f"is inside another project, whose labreport.toml is {enclosing}",
            where=str(target.resolve() if target == Path() else target),
            fix="create the new project outside it, or pass --force to nest one in it",
        )
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} is a file; give a folder for the new project")
    source = SCAFFOLDS / "project"
    values = {"COURSE": course.replace('"', "'")}
    written: list[Path] = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        if "__pycache__" in relative.parts:
            continue
        name = ".gitignore" if relative.as_posix() == "gitignore" else relative.as_posix()
        destination = target / name
        _write_new(destination, _fill(path.read_text(encoding="utf-8"), values))
        written.append(destination)
    return written


def _enclosing_config(target: Path) -> Path | None:
    """The ``labreport.toml`` of the project that ``target`` would be nested in, if any."""
    for folder in target.resolve().parents:
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    return None


def _title_from_id(exp_id: str) -> str:
    words = re.sub(r"[-_]+", " ", exp_id).strip()
    return words[:1].upper() + words[1:] if words else exp_id


def new_experiment(
    project: Project, exp_id: str, theme: str, title: str | None = None
) -> list[Path]:
    """Scaffold ``experiments/<exp_id>/`` with a commented spec for ``theme`` and a program.

    The number is one more than the highest existing one, so a new experiment sorts last.
    """
    if not ID_PATTERN.match(exp_id):
        raise SpecError(
            f"experiment id {exp_id!r}: use letters, digits, '-' and '_' (up to 64, starting "
            "with a letter or digit), e.g. exp11"
        )
    if theme not in THEMES:
        raise UsageError(f"--theme {theme!r}: a new experiment starts from {' or '.join(THEMES)}")
    folder = project.experiments_dir / exp_id
    if (folder / SPEC_NAME).exists():
        raise UsageError(f"{folder / SPEC_NAME} already exists; choose another id")
    numbers = [0]
    for other in discover(project.experiments_dir):
        try:
            numbers.append(load_experiment(project.experiments_dir / other).spec.number)
        except SpecError:
            continue  # a broken neighbour must not stop a new experiment
    program = f"{exp_id.replace('-', '_')}.py"
    values = {
        "ID": exp_id,
        "NUMBER": str(max(numbers) + 1),
        "TITLE": (title or _title_from_id(exp_id)).replace("\n", " "),
        "PROGRAM": program,
    }
    spec_text = _fill((SCAFFOLDS / "experiment" / f"{theme}.yaml").read_text("utf-8"), values)
    # The title goes into YAML: quote it so that a colon or a '#' in it cannot break the spec.
    spec_text = spec_text.replace(
        f"title: {values['TITLE']}", f"title: {_yaml_string(values['TITLE'])}", 1
    )
    program_text = _fill((SCAFFOLDS / "experiment" / "program.py").read_text("utf-8"), values)
    spec_path, program_path = folder / SPEC_NAME, folder / program
    _write_new(spec_path, spec_text)
    _write_new(program_path, program_text)
    return [spec_path, program_path]


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
