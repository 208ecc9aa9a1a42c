"""Building many experiments: worker threads, the order they start in, and interruptions.

One experiment's pipeline is :class:`labreport.build.Builder`'s; this module only decides what
runs when. The work itself happens in child processes, so threads are enough to keep the cores
busy. Ctrl-C -- or SIGTERM or SIGHUP, which end a batch the same way -- sets the builder's cancel
flag, which kills every running program within a fraction of a second and starts nothing new;
the KeyboardInterrupt then reaches the CLI.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from labreport.results import ExperimentOutcome

if TYPE_CHECKING:
    from labreport.build import Builder
    from labreport.state import BuildState

T = TypeVar("T", bound=Hashable)
R = TypeVar("R")


def build_many(builder: Builder, ids: Sequence[str], jobs: int = 1) -> list[ExperimentOutcome]:
    """Build ``ids`` with up to ``jobs`` at once, slowest first; outcomes in the order of ``ids``.

    An interruption (KeyboardInterrupt, SIGTERM, SIGHUP) stops every running program, starts
    no other, and is raised again once the workers are done.
    """
    with terminations_interrupt():
        order = longest_first(ids, builder.state)
        return run_all(builder.build, order, jobs, builder.cancel, order=ids)


def run_all(
    work: Callable[[T], R],
    items: Sequence[T],
    jobs: int,
    cancel: threading.Event,
    order: Sequence[T] | None = None,
) -> list[R]:
    """``work(item)`` for each (distinct) item, up to ``jobs`` at once, started in the order of
    ``items``; results in the order of ``order`` (default: ``items``). On any exception,
    ``cancel`` is set (running programs are killed within a tick) and nothing new starts."""
    order = items if order is None else order
    if jobs <= 1 or len(items) <= 1:
        done = {item: work(item) for item in items}
        return [done[item] for item in order]
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="labreport")
    try:
        futures = {item: pool.submit(work, item) for item in items}
        return [futures[item].result() for item in order]
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def longest_first(ids: Sequence[str], state: BuildState) -> list[str]:
    """The distinct ``ids``, slowest (by their last build) first, so that one long build does
    not start last and run alone at the end of a batch; never-built ones count as slowest."""
    known = {exp_id: state.last_duration(exp_id) for exp_id in dict.fromkeys(ids)}
    return sorted(known, key=lambda exp_id: -(known[exp_id] or float("inf")))


@contextlib.contextmanager
def terminations_interrupt() -> Iterator[None]:
    """While building, SIGTERM and SIGHUP (a closed terminal, a cancelled CI job) interrupt like
    Ctrl-C: programs run in sessions of their own, so without this they would outlive labreport
    with nobody left to enforce their timeouts. Handlers someone else set (``nohup``) are kept;
    outside the main thread (where no handler can be set) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_DFL:
            previous[number] = signal.signal(number, _interrupt)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)
