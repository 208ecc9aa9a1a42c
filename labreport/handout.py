"""The handout: what a student gets before the lab, made from the same spec as the record.

A handout shows the aim, the theory, the questions and the tasks, and the program listings or
skeletons the spec marks (a program's ``handout:``), and leaves ruled space where the record
has answers and results. It is made before any program has run, on any machine (no torch), so
nothing here runs a program or reads the run cache.

Answers cannot leak through a theme: the theme renders a context made from a copy of the spec
that has lost them (:func:`handout_spec`), so no template, built-in or the teacher's own, has
an answer, a result, a recorded value or a check to show, even by ``{{ spec.viva[0].answer }}``.
"""

from __future__ import annotations

import re
from dataclasses import replace

from labreport.errors import RenderError
from labreport.listing import ListingOptions
from labreport.project import Project
from labreport.render import (
    ProgramView,
    RecordContext,
    build_context,
    listing_markup,
    program_listing,
)
from labreport.results import RunResult
from labreport.skeleton import skeleton_source
from labreport.spec import Experiment, ExperimentSource, Program

# A recorded value in a prose field the handout shows: said so, with what to do instead.
_NO_RESULTS = re.compile(r", which no program recorded \(recorded: .*\)$")
_NO_RESULTS_WHAT = ": a handout is made before any program runs, so it has no recorded values"
_NO_RESULTS_FIX = (
    "write the value into the text, or move the sentence to result:, or a program's data: or "
    "analysis:, which the handout leaves out"
)


def handout_spec(spec: Experiment) -> Experiment:
    """``spec`` without what only the teacher or a run knows: the answers, the result and each
    program's data, result, analysis, inferences and figure captions, the checks, and the marks
    obtained and comments of the rubric."""
    return spec.model_copy(
        update={
            "prelab": [qa.model_copy(update={"answer": ""}) for qa in spec.prelab],
            "viva": [qa.model_copy(update={"answer": ""}) for qa in spec.viva],
            "result": None,
            "checks": [],
            "rubric": [
                row.model_copy(update={"marks_obtained": None, "comments": ""})
                for row in spec.rubric
            ],
            "programs": [
                program.model_copy(
                    update={
                        "data": None,
                        "result": None,
                        "analysis": None,
                        "inferences": None,
                        "figures": [],
                    }
                )  # fmt: skip
                for program in spec.programs
            ],
        }
    )


def handout_context(project: Project, source: ExperimentSource, display: str) -> RecordContext:
    """What the theme's ``handout.html`` renders: the record's context made from
    :func:`handout_spec`, with no run behind it and each program's listing as its ``handout:``
    says (``show`` is ``none`` where the handout shows none of it)."""
    stripped = replace(source, spec=handout_spec(source.spec))
    # Nothing ran: an empty result per program, so that the views can be built as for a record.
    unrun = [RunResult(program.code, "ok", "") for program in stripped.spec.programs]
    try:
        context = build_context(project, stripped, unrun, display)
    except RenderError as exc:
        problems = [
            replace(p, what=_NO_RESULTS.sub(_NO_RESULTS_WHAT, p.what), fix=_NO_RESULTS_FIX)
            if _NO_RESULTS.search(p.what) else p
            for p in exc.problems
        ]  # fmt: skip
        raise RenderError(problems=problems) from exc
    views = {
        id(view): _handout_view(stripped, program, view)
        for program, view in zip(stripped.spec.programs, context.programs, strict=True)
    }
    return replace(
        context,
        programs=[views[id(p)] for p in context.programs],
        inlab=[views[id(p)] for p in context.inlab],
        postlab=[views[id(p)] for p in context.postlab],
        doc_title=f"{context.doc_title} (handout)",
        handout=True,
    )


def _handout_view(source: ExperimentSource, program: Program, view: ProgramView) -> ProgramView:
    """``view`` with the listing the handout shows: the record's (an appendix listing in
    place), a skeleton, or none."""
    mode = program.handout_shows
    if mode == "none":
        return replace(view, show="none")
    if mode == "listing":
        return replace(view, show="all" if view.show == "appendix" else view.show)
    if program.skeleton is not None:
        text = (source.folder / program.skeleton).read_text(encoding="utf-8", errors="replace")
    else:  # load_experiment checked the markers
        text = skeleton_source(source.program_path(program).read_text("utf-8", "replace"))
    listing = program_listing(text)
    return replace(
        view, show="all", listing=listing, source_html=listing_markup(listing, ListingOptions())
    )
