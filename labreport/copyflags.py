"""Copy flags: pairs of submissions that a teacher should look at side by side.

Two kinds, each a hint for a person, never a verdict:

* **same output, different seeds**: one program of one experiment printed, recorded and drew
  exactly the same (the build report's output ``digest``) in two submissions although it ran
  with different seeds (as each run reported its seed). A run that ignores its seed and a
  copied output look alike here; both deserve a look.
* **same code up to names and layout**: one experiment's program, normalised
  (:func:`normalise`), is the same token stream in two submissions.

Not flagged: a group of identical programs or outputs that every submission of that program
shares when there are three or more (the teacher's own code, unchanged by everyone, or a
program whose output cannot depend on the seed), and programs of fewer than
:data:`MIN_TOKENS` tokens after normalising (``print("done")`` is the same everywhere).
"""

from __future__ import annotations

import ast
import hashlib
import io
import itertools
import keyword
import token
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

#: Programs shorter than this, normalised, are too short to tell copying from coincidence.
MIN_TOKENS = 25
FlagKind = Literal["same output, different seeds", "same code up to names and layout"]


@dataclass(frozen=True)
class CopyFlag:
    """Two submissions (by folder name) that share ``kind`` in ``experiment``'s ``program``."""

    kind: FlagKind
    experiment: str
    program: str
    first: str
    second: str
    detail: str


@dataclass(frozen=True)
class ProgramSighting:
    """One program of one submission, as copy detection sees it."""

    submission: str
    experiment: str
    program: str
    seed: int | None
    digest: str  # the output digest of the build report
    code: str | None  # the normalised code's digest; None if it cannot be parsed or is short


def _bound_names(tree: ast.AST) -> set[str]:
    """The names the program itself gives: variables, functions, classes, arguments, import
    aliases and attributes it assigns. Only those are renamed: a library's and a builtin's keep
    their names, so ``np.mean`` and ``np.median`` stay different."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            bound.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias) and node.asname:
            bound.add(node.asname)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def normalise(source: str) -> list[str] | None:
    """The program as a list of tokens with comments, docstrings, blank lines and layout
    dropped, every string literal one placeholder, and each name the program binds replaced by
    ``v1``, ``v2``... in order of first appearance; None if it does not parse."""
    try:
        bound = _bound_names(ast.parse(source))
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, tokenize.TokenError, ValueError):
        return None
    skipped = {token.COMMENT, token.NL, token.ENCODING, token.ENDMARKER}
    names: dict[str, str] = {}
    out: list[str] = []
    statement_start = True  # a string alone at the start of a statement is a docstring
    dropped_statement = False  # a docstring was left out: leave out its NEWLINE too
    for position, tok in enumerate(tokens):
        if tok.type in skipped:
            continue
        if dropped_statement and tok.type == token.NEWLINE:
            dropped_statement = False
            continue
        if tok.type == token.STRING:
            following = next(
                (t for t in tokens[position + 1 :] if t.type not in skipped | {token.STRING}), None
            )
            if (
                statement_start
                and following is not None
                and following.type in (token.NEWLINE, token.DEDENT, token.ENDMARKER)
            ):
                dropped_statement = True  # a docstring (or a string statement): a comment
                continue
            out.append("STR")
        elif tok.type == token.NAME and tok.string in bound and not keyword.iskeyword(tok.string):
            out.append(names.setdefault(tok.string, f"v{len(names) + 1}"))
        else:
            out.append(
                tok.string
                if tok.type not in (token.NEWLINE, token.INDENT, token.DEDENT)
                else token.tok_name[tok.type]
            )
        statement_start = tok.type in (token.NEWLINE, token.INDENT, token.DEDENT)
    return out


def code_digest(source: str) -> str | None:
    """sha256 of the normalised program; None when it does not parse or is too short."""
    tokens = normalise(source)
    if tokens is None or len(tokens) < MIN_TOKENS:
        return None
    return hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()


def find_flags(sightings: Iterable[ProgramSighting]) -> list[CopyFlag]:
    """Every flagged pair, by experiment, program and submission names."""
    by_program: dict[tuple[str, str], list[ProgramSighting]] = {}
    for sighting in sightings:
        by_program.setdefault((sighting.experiment, sighting.program), []).append(sighting)
    flags: list[CopyFlag] = []
    for (experiment, program), seen in sorted(by_program.items()):
        for group in _shared(seen, lambda s: s.digest):
            for a, b in itertools.combinations(group, 2):
                if a.seed is not None and b.seed is not None and a.seed != b.seed:
                    detail = f"identical output with seeds {a.seed} and {b.seed}"
                    flags.append(
                        CopyFlag(
                            "same output, different seeds",
                            experiment,
                            program,
                            a.submission,
                            b.submission,
                            detail,
                        )
                    )
        for group in _shared(seen, lambda s: s.code):
            for a, b in itertools.combinations(group, 2):
                detail = (
                    "identical once comments, docstrings, strings, layout and names are set aside"
                )
                flags.append(
                    CopyFlag(
                        "same code up to names and layout",
                        experiment,
                        program,
                        a.submission,
                        b.submission,
                        detail,
                    )
                )
    return flags


def _shared(
    seen: list[ProgramSighting], key: Callable[[ProgramSighting], str | None]
) -> list[list[ProgramSighting]]:
    """Groups of two or more sightings with the same key (None never groups), less a group
    that is every sighting of the program when there are three or more of them."""
    groups: dict[str, list[ProgramSighting]] = {}
    for sighting in seen:
        value = key(sighting)
        if value is not None:
            groups.setdefault(value, []).append(sighting)
    return [
        sorted(group, key=lambda s: s.submission)
        for group in groups.values()
        if len(group) >= 2 and not (len(seen) >= 3 and len(group) == len(seen))
    ]
