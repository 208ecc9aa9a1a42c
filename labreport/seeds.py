"""Seeds of a student's own: one stable number per student, experiment and program.

A course handed out unchanged gives every student the same runs, so two records can be copied
from one another and nobody can tell. With ``seed: student`` in a program's spec, or
``[student] seeds = "student"`` in ``labreport.toml`` (every program of the project), a program
runs with a seed derived from the student ID instead: two students get different runs, and one
student gets the same run on every machine, every time. The derivation is SHA-256 (never
Python's ``hash()``, which is salted per process), so the build, ``verify``, the provenance line
and the teacher's tools all agree on it.

Imports nothing of labreport but :mod:`labreport.errors` (a leaf).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING

from labreport.errors import ProjectError

if TYPE_CHECKING:
    from labreport.spec import ExperimentSource, Program

STUDENT = "student"  # the word in a program's ``seed:`` and in ``[student] seeds``
SEED_MODES = ("spec", STUDENT)  # ``[student] seeds``: "spec" (the default) or "student"
SEED_LIMIT = 2**31  # derived seeds lie in [0, SEED_LIMIT): any generator takes them
# Where a missing student ID can be given; one sentence, shared by every message that needs it.
STUDENT_ID_FIX = (
    "set id under [student] in labreport.toml, the LABREPORT_STUDENT_ID environment variable "
    "or --student-id"
)


def normal_student_id(student_id: str) -> str:
    """The ID as seeds see it: ``" AB12 "`` and ``"ab12"`` are one student."""
    return student_id.strip().casefold()


def student_seed(student_id: str, exp_id: str, code: str) -> int:
    """The seed of program ``code`` (its path in the spec) of experiment ``exp_id`` for this
    student: the first 8 bytes of SHA-256 over the three, modulo 2**31. Each program gets its
    own, so two programs of one experiment do not draw the same numbers."""
    material = "\0".join((normal_student_id(student_id), exp_id, code)).encode("utf-8")
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big") % SEED_LIMIT


def _keyed_by(program: Program, first_with: dict[int | str, str]) -> str:
    """The code path a program's student seed is derived from: its own for ``seed: student``,
    else that of the first program the spec gives the same seed."""
    return program.code if program.seed == STUDENT else first_with[program.seed]


def resolve_seeds(source: ExperimentSource, student_id: str, mode: str) -> ExperimentSource:
    """``source`` with every program's seed a number: derived from ``student_id`` where the
    program says ``seed: student`` or ``mode`` is ``"student"`` (then an integer ``seed:`` only
    says which programs share a seed), else the spec's own. A derived seed without a student
    ID is a ProjectError (exit 2) naming where to set one."""
    derived = tuple(mode == STUDENT or p.seed == STUDENT for p in source.spec.programs)
    if not any(derived):
        return source
    if not student_id.strip():
        if mode == STUDENT:
            where, field = "labreport.toml", "[student] seeds"
            what = 'is "student": every program\'s seed comes from the student'
        else:
            root = source.folder.parent.parent  # the project's: experiments/<id>/ is below it
            where = str(source.spec_path.relative_to(root))
            field, what = f"programs[{derived.index(True)}].seed", "is student"
        raise ProjectError(
            f"{what}, but no student ID is set",
            where=where,
            field=field,
            experiment=source.id if mode == STUDENT else None,
            fix=STUDENT_ID_FIX,
        )
    # Programs the spec gives one integer seed share it on purpose (a post-lab program that
    # retrains the in-lab model), so under the switch they share one student seed too: the one
    # of the first program with that seed. ``seed: student`` is each program's own.
    first_with: dict[int | str, str] = {}
    for p in source.spec.programs:
        first_with.setdefault(p.seed, p.code)
    programs = [
        p.model_copy(update={"seed": student_seed(student_id, source.id, _keyed_by(p, first_with))})
        if own
        else p
        for p, own in zip(source.spec.programs, derived, strict=True)
    ]
    spec = source.spec.model_copy(update={"programs": programs})
    return replace(source, spec=spec, student_id=student_id.strip(), student_seeded=derived)
