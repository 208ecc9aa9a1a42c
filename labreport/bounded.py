"""The Jinja sandbox of spec prose, with a budget: how much one record's prose may compute.

Jinja's sandbox keeps prose away from Python's internals, not from time and memory: two nested
loops over ``range(100000)`` in a 90-byte ``theory:`` never finish, and ``spec.title * 30000000``
holds hundreds of MiB. So here every loop turn, call, filter, operator and comparison is counted
against a :class:`Budget` that all the prose fields of one record share (a spec of a thousand
fields gets no more than one of a single field). Where one operation could make a large value
from small ones (``*``, ``center``, ``replace``, ``join``, a width in ``format``...) its size is
worked out before it is made; every other value is measured once made. Going over is
:class:`TooCostly`, which :mod:`labreport.prose` turns into one error naming the file and the
field. The limits are counts, not a clock, so a spec is refused on every machine or on none.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, Template, nodes
from jinja2.compiler import CodeGenerator, Frame, operators
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Measured on the course's 2-core machines: a million loop turns take from 0.1 s (empty) to ~2 s
# (a filter and a comparison in each), so this keeps the worst prose of a record to seconds; a
# real record (a sentence per value, a table of a few hundred rows) takes a few thousand.
MAX_STEPS = 1_000_000
# Characters and items made, compared or printed in one record's prose. Each costs from a
# nanosecond (copying a text) to ~0.3 µs (reading a list item by item: measuring it, ``unique``),
# so 10 million take at most about three seconds. A real record handles thousands.
MAX_WORK = 10_000_000
# The largest text or list (items of nested lists counted) one operation may make: as much as a
# whole spec may hold (spec.MAX_SPEC_BYTES is 1 MiB). Anything larger is computed in the program.
MAX_SIZE = 1_000_000
# The most one prose field may print, for the same reason; also what Markdown and the PDF's
# layout are then given, so it bounds their time too.
MAX_OUTPUT = 1_000_000
# An integer of more bits than this is no measured value: 99999999 ** 99999999 would take hours.
MAX_INT_BITS = 1_000_000

_FIX_WORK = "loop over fewer values, or compute the result in the program and record() it"
_FIX_SIZE = "compute it in the program and record() a smaller value"


class TooCostly(Exception):
    """Prose that asked for more than its budget allows: ``what`` went over, and the ``fix``.

    Not a ValueError or TypeError: prose turns those into "ValueError: ..." messages, and
    Jinja's filters catch some of them."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what, self.fix = what, fix


def too_large() -> TooCostly:
    """The error of one value too large to make (it starts as prose's other "too large to
    compute" errors do: a power, an allocation that failed)."""
    return TooCostly(
        f"too large to compute: a text or list of more than {MAX_SIZE:,} characters or items",
        _FIX_SIZE,
    )


@dataclass
class Budget:
    """What the prose of one record has spent so far; every field of the record draws on it."""

    steps: int = 0
    work: int = 0

    def step(self) -> None:
        """One loop turn, call, filter, test or operator."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TooCostly(
                f"the prose does too much work: more than {MAX_STEPS:,} loop turns, calls and "
                "operations in all the prose of this record",
                _FIX_WORK,
            )

    def handle(self, amount: int) -> None:
        """``amount`` characters or items made, compared or printed."""
        self.work += amount
        if self.work > MAX_WORK:
            raise TooCostly(
                f"the prose does too much work: it handles more than {MAX_WORK:,} characters "
                "and items in all the prose of this record",
                _FIX_WORK,
            )

    def left(self) -> int:
        """How much more may be handled (measuring stops there: measuring costs too)."""
        return max(0, MAX_WORK - self.work) + 1


_spending: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "labreport_prose_budget", default=None
)


@contextlib.contextmanager
def spending(budget: Budget) -> Iterator[None]:
    """Within this block (and this thread), prose draws on ``budget``."""
    token = _spending.set(budget)
    try:
        yield
    finally:
        _spending.reset(token)


def _budget() -> Budget:
    """The budget in force. Outside any (a check compiled for ``validate``, where Jinja folds
    constants) a fresh one: nothing is counted, but every size is still bounded."""
    return _spending.get() or Budget()


_CONTAINERS = (dict, list, tuple, set, frozenset)


def size_of(value: Any, limit: int = MAX_SIZE) -> int:
    """Characters and items in ``value``; every item of nested lists, tuples, sets and dicts is
    counted each time it occurs, since printing or comparing ``[s, s]`` costs twice ``s``.
    Counting stops once past ``limit``, so measuring costs no more than the limit."""
    kind = type(value)
    if kind is str:  # the most frequent first: this runs at every operation of the prose
        return len(value)
    if kind is int:
        return int(value.bit_length() * 3 // 10 + 1)  # its decimal digits
    if kind is float or kind is bool or value is None:
        return 1
    if not isinstance(value, _CONTAINERS):
        return _scalar_size(value)
    total, pending = 0, [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, dict):
            total += len(item) + 1
            if total <= limit:
                pending += [*item.keys(), *item.values()]
        elif isinstance(item, _CONTAINERS):
            total += len(item) + 1
            if total <= limit:
                pending += item
        else:
            total += _scalar_size(item)
    return total


def _scalar_size(value: Any) -> int:
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() * 3 // 10 + 1  # its decimal digits
    return 1  # a float, None, a range or other lazy sequence (made as it is read)


def _made(value: Any) -> Any:
    """``value``, measured and paid for; too large to keep is an error."""
    size = size_of(value)
    if size > MAX_SIZE:
        raise too_large()
    _budget().handle(size)
    return value


def _check(size: int) -> None:
    """Refuse, before it is made, a value whose size is worked out to be ``size``."""
    if size > MAX_SIZE:
        raise too_large()


def _int(value: Any) -> int:
    """A count or width given to an operation; anything else counts as none (the operation
    itself then says what is wrong with it)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_NUMBER = re.compile(r"\d+")


def _largest_number(*values: Any) -> int:
    """The largest width a format could be given among ``values``: integers, and digits inside
    texts (``"%99999999d"``, ``"{:>{}}".format(1, "99999999")``). Nine digits or more is
    "huge" without converting it (Python refuses to convert very long digit strings)."""
    largest = 0
    for value in values:
        if isinstance(value, str):
            for run in _NUMBER.findall(value):
                largest = max(largest, int(run) if len(run) < 9 else 10**9)
        elif isinstance(value, (list, tuple)):
            largest = max(largest, _largest_number(*value))
        elif isinstance(value, Mapping):
            largest = max(largest, _largest_number(*value.values()))
        else:
            largest = max(largest, _int(value))
    return largest


def format_size(template: str, arguments: Any) -> int:
    """At most how long ``template % arguments`` or ``template.format(*arguments)`` is: each
    field prints at most all the arguments, padded to the largest width it could be given."""
    fields = template.count("%") + template.count("{") + 1
    return len(template) + fields * size_of(arguments) + _largest_number(template, arguments)


def _words(number: int) -> int:
    return number.bit_length() // 64 + 1


def _binop_size(operator: str, left: Any, right: Any) -> int:
    """What ``left operator right`` makes (or, for integers, costs), before it is computed."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if right * abs(left).bit_length() > MAX_INT_BITS:
            raise OverflowError(f"{left} ** {right} is too large to compute")
        return int(right * abs(left).bit_length() // 64)
    if ints:  # schoolbook multiplication and division: the product of the lengths
        return _words(left) * _words(right) if operator in ("*", "//", "%") else _words(left)
    if operator == "*":
        sequence, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
            _check(size_of(sequence) * max(times, 0))
    elif operator == "+" and isinstance(left, (str, list, tuple)):
        _check(size_of(left) + size_of(right))
    elif operator == "%" and isinstance(left, str):
        _check(format_size(left, right))
    return 1


# --------------------------------------------------------------------------- filters and methods


class _Args:
    """The arguments a filter was given after its value, read by position or by name."""

    def __init__(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        self.args, self.kwargs = args, kwargs

    def get(self, index: int, name: str, default: Any = None) -> Any:
        if index < len(self.args):
            return self.args[index]
        return self.kwargs.get(name, default)


_Sizer = Callable[[Any, _Args], int]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _replaced(text: str, old: Any, new: Any, count: Any) -> int:
    old, new = _text(old), _text(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * len(new)


def _joined(items: Any, separator: Any) -> int:
    if isinstance(items, str):  # its characters, joined
        return len(items) * (1 + len(_text(separator)))
    items = list(items) if isinstance(items, Sized) and isinstance(items, Iterable) else []
    return sum(size_of(item) for item in items) + len(items) * len(_text(separator))


def _indent_size(text: str, width: Any) -> int:
    pad = len(width) if isinstance(width, str) else _int(width)
    return len(text) + (text.count("\n") + 1) * pad


def _nesting(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (what indentation multiplies by), looking
    at no more items than a value may hold."""
    deepest, pending, seen = 0, [(value, 1)], 0
    while pending and seen <= MAX_SIZE:
        item, depth = pending.pop()
        seen += 1
        if isinstance(item, Mapping):
            item = list(item.values())
        if isinstance(item, (list, tuple)):
            deepest = max(deepest, depth)
            pending += [(child, depth + 1) for child in item]
    return deepest


def _indented(value: Any, indent: Any) -> int:
    width = len(indent) if isinstance(indent, str) else _int(indent)
    return size_of(value) * (2 + width * _nesting(value))


def _filling(a: _Args) -> int:
    """What ``batch`` or ``slice`` pads each group with (nothing without ``fill_with``)."""
    fill_with = a.get(1, "fill_with")
    return 0 if fill_with is None else size_of(fill_with)


def _sum_work(items: Any, start: Any) -> int:
    """``sum`` of lists copies the growing list at each item: quadratic work, not size."""
    if isinstance(start, (list, tuple)) and isinstance(items, (list, tuple)):
        _budget().handle(len(items) * size_of(items))
    return 0


# What each filter that can make much from little could make, from its value and arguments
# (as Jinja's filters name and order them).
_FILTER_SIZES: dict[str, _Sizer] = {
    "center": lambda v, a: size_of(v) + _int(a.get(0, "width", 80)),
    "indent": lambda v, a: _indent_size(_text(v), a.get(0, "width", 4)),
    "wordwrap": lambda v, a: len(_text(v)) * (1 + len(_text(a.get(2, "wrapstring") or "\n"))),
    "replace": lambda v, a: _replaced(
        _text(v), a.get(0, "old"), a.get(1, "new"), a.get(2, "count")
    ),
    "format": lambda v, a: format_size(_text(v), [*a.args, a.kwargs]),
    "join": lambda v, a: _joined(v, a.get(0, "d", "")),
    "batch": lambda v, a: size_of(v) + _int(a.get(0, "linecount")) * _filling(a),
    "slice": lambda v, a: size_of(v) + _int(a.get(0, "slices")) * (1 + _filling(a)),
    "tojson": lambda v, a: _indented(v, a.get(0, "indent")),
    "pprint": lambda v, a: _indented(v, 1),
    "sum": lambda v, a: _sum_work(v, a.get(1, "start", 0)),
}
# Filters that read the whole of their input before making anything (a generator is read first,
# counted, so that the size can be worked out).
_READ_WHOLE = frozenset({"join", "batch", "slice", "sum"})


def _str_method_size(method: str, text: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """What ``text.method(*args, **kwargs)`` could make, for the methods that can make much
    from little; any other method of a text makes about as much as the text."""
    first = args[0] if args else next(iter(kwargs.values()), None)
    if method in ("center", "ljust", "rjust", "zfill"):
        return len(text) + _int(first)
    if method == "expandtabs":
        return len(text) + text.count("\t") * _int(first if args or kwargs else 8)
    if method == "replace" and len(args) >= 2:
        return _replaced(text, args[0], args[1], args[2] if len(args) > 2 else -1)
    if method == "translate" and isinstance(first, Mapping):
        longest = max((size_of(v) for v in first.values()), default=0)
        return len(text) * (1 + longest)
    if method == "join":
        return _joined(first, text)
    return len(text)


def _is_lazy(value: Any) -> bool:
    """A generator or iterator (``map``, ``select``): its size is known only once read."""
    return isinstance(value, Iterator)


def _bounded_filter(env: BoundedSandbox, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (the filter ``name``) counted, with its input paid for and its output bounded.
    ``functools.wraps`` keeps Jinja's marks (``pass_context``...) on the wrapper."""
    sizer = _FILTER_SIZES.get(name)

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.step()
        lead = 1 if args and isinstance(args[0], (Environment, Context, EvalContext)) else 0
        if len(args) > lead:
            value = args[lead]
            if _is_lazy(value):
                value = list(env.turns(value)) if name in _READ_WHOLE else env.turns(value)
            budget.handle(size_of(value, budget.left()))
            args = (*args[:lead], value, *args[lead + 1 :])
            if sizer is not None:
                _check(sizer(value, _Args(args[lead + 1 :], kwargs)))
        return _made(func(*args, **kwargs))

    return bounded


def _weighed_test(func: Callable[..., Any]) -> Callable[..., Any]:
    """A test (``is equalto``, ``is in``) counted, with what it compares paid for."""

    @functools.wraps(func)
    def weighed(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.step()
        budget.handle(size_of((args, kwargs), budget.left()))
        return func(*args, **kwargs)

    return weighed


# --------------------------------------------------------------------------- the compiled code


class _CountingCodeGenerator(CodeGenerator):
    """Compiles prose so that what Jinja runs without asking the environment goes through it:
    each loop's values (``environment.turns``), ``~`` (``joined``), comparisons (``weighed``)
    and list, tuple and dict literals (``literal``)."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        turns = nodes.EnvironmentAttribute("turns", lineno=node.lineno)
        if not (isinstance(node.iter, nodes.Call) and node.iter.node == turns):
            node.iter = nodes.Call(turns, [node.iter], [], None, None, lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.joined((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        self.write("(environment.weighed(")
        self.visit(node.expr, frame)
        self.write(")")
        for op in node.ops:
            self.visit(op, frame)
        self.write(")")

    def visit_Operand(self, node: nodes.Operand, frame: Frame) -> None:
        self.write(f" {operators[node.op]} environment.weighed(")
        self.visit(node.expr, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.literal(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.literal(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # a loop's target (for a, b in ...): nothing is made
            super().visit_Tuple(node, frame)
            return
        self.write("environment.literal(")
        super().visit_Tuple(node, frame)
        self.write(")")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox, in which lists and dicts cannot be changed (``spec.tools.extend(...)``
    would double a list at each loop turn) and all work is paid for from the budget in force
    (see :func:`spending`)."""

    code_generator_class = _CountingCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        del self.globals["lipsum"]  # makes as much text as it is asked for, out of nothing
        self.filters = {name: _bounded_filter(self, name, f) for name, f in self.filters.items()}
        tests: dict[str, Any] = self.tests  # typeshed's "function": a callable all the same
        self.tests = {name: _weighed_test(f) for name, f in tests.items()}

    def turns(self, values: Iterable[Any]) -> Iterator[Any]:
        """``values``, one loop turn paid for each."""
        budget = _budget()
        for value in values:
            budget.step()
            yield value

    def joined(self, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``: each part measured before it is turned into text."""
        budget = _budget()
        budget.step()
        pieces, total = [], 0
        for value in values:
            if size_of(value) > MAX_SIZE:
                raise too_large()
            piece = str(value)
            total += len(piece)
            if total > MAX_SIZE:
                raise too_large()
            pieces.append(piece)
        budget.handle(total)
        return "".join(pieces)

    def weighed(self, value: Any) -> Any:
        """``value``, as one side of a comparison: comparing costs what it holds."""
        budget = _budget()
        budget.handle(size_of(value, budget.left()))
        return value

    def literal(self, value: Any) -> Any:
        """A list, tuple or dict written in the prose (``[a, a]`` nests: each level doubles)."""
        _budget().step()
        return _made(value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.step()
        budget.handle(_binop_size(operator, left, right))
        return _made(super().call_binop(context, operator, left, right))

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = _budget()
        budget.handle(size_of(argument, budget.left()))  # a key is hashed: all of it is read
        return super().getitem(obj, argument)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.step()
        owner = getattr(obj, "__self__", None)
        if isinstance(obj, LoopContext) and args:  # loop(children) in a recursive for
            args = (self.turns(args[0]), *args[1:])
        elif isinstance(owner, str) and obj.__name__ == "join" and args and _is_lazy(args[0]):
            args = (list(self.turns(args[0])), *args[1:])
        budget.handle(size_of((args, kwargs), budget.left()))
        if isinstance(owner, str):
            _check(_str_method_size(obj.__name__, owner, args, kwargs))
        return _made(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``"{:>99999999}".format(x)``: the width is read before anything is padded."""
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template: str = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check(format_size(template, [*args, kwargs]))
            return formatter(*args, **kwargs)

        return functools.update_wrapper(bounded, value)


def render(template: Template, **variables: Any) -> str:
    """``template`` rendered with at most :data:`MAX_OUTPUT` characters printed."""
    pieces, total = [], 0
    for piece in template.generate(**variables):
        total += len(piece)
        if total > MAX_OUTPUT:
            raise TooCostly(
                f"the text it makes is longer than {MAX_OUTPUT:,} characters",
                "print less: loop over fewer values, or show a summary the program records",
            )
        pieces.append(piece)
    _budget().handle(total)
    return "".join(pieces)


def printable(value: Any) -> None:
    """Refuse to print (``{{ value }}``) what would be longer than a field may be."""
    if size_of(value, MAX_OUTPUT) > MAX_OUTPUT:
        raise TooCostly(
            f"the text it makes is longer than {MAX_OUTPUT:,} characters",
            "print less: a summary of the value, or a few of its items",
        )
