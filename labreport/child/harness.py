"""Runs *inside* the child process: seeds, figure capture at exit, the traceback, an exit report.

Invoked as ``python -m labreport.child.harness REQUEST`` by the runner, ``REQUEST`` being a
:class:`~labreport.protocol.RunRequest` in JSON (a warm interpreter calls :func:`run` with it).
It imports nothing else of labreport but :mod:`labreport.protocol` (names shared with the
runner), :mod:`labreport.child.confine` (which fences in what the program may write, before
it starts) and :mod:`labreport.record`, seeds NumPy and PyTorch only when the program imports
them, so a NumPy-only program never pays for torch. Likewise it hooks matplotlib only when the
program imports it: :mod:`labreport.child.figures` then captures every figure saved or shown,
whatever backend the program selects, and this module captures the ones still open when the
program ends. It also records the global variables the spec's ``record:`` names, with
``record()``, once the program has ended well: so a course program needs no labreport import.

Two safety nets are set before the program starts: ``faulthandler``, so a crash in native code
(a segfault in a C extension) leaves a Python traceback in the output instead of a bare signal,
and, on Linux, a parent-death signal, so a program whose labreport was killed outright (SIGKILL,
the OOM killer) does not run on forever with nobody enforcing its timeout.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib.abc
import importlib.machinery
import itertools
import json
import os
import random
import runpy
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from labreport import proctree
from labreport.child.confine import confine
from labreport.protocol import (
    EXIT_REPORT,
    RESULTS_ENV,
    SEED_ENV,
    SEED_REPORT_KEY,
    RunRequest,
    die_with_parent,
)
from labreport.record import record


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls a hook right after a watched module finishes importing, once."""

    def __init__(self, hooks: dict[str, Callable[[ModuleType], None]]) -> None:
        self.hooks = hooks

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        hook = self.hooks.pop(name, None)
        if hook is None:
            return None
        if not self.hooks:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            hook(module)

        loader.exec_module = exec_module
        return spec


def _seed_numpy(seed: int) -> Callable[[ModuleType], None]:
    def hook(numpy: ModuleType) -> None:
        numpy.random.seed(seed)
        # default_rng() without a seed draws from the OS, so a record would change on every run.
        # Unseeded calls get streams derived from the spec's seed instead: the n-th call gets
        # the same stream on every run, and different calls still get different streams.
        real = numpy.random.default_rng
        calls = itertools.count()

        def default_rng(seed_arg: Any = None) -> Any:
            return real([seed, next(calls)] if seed_arg is None else seed_arg)

        default_rng.__doc__ = real.__doc__
        numpy.random.default_rng = default_rng

    return hook


def _seed_torch(seed: int) -> Callable[[ModuleType], None]:
    def hook(torch: ModuleType) -> None:
        torch.manual_seed(seed)

    return hook


def _capture_figures(module: ModuleType) -> None:
    """Hook matplotlib's figures (and pyplot, once imported) for capture, whatever the backend."""
    from labreport.child import figures

    if module.__name__ == "matplotlib.pyplot":
        figures.install_pyplot(module)
    else:
        figures.install()


def _capture_open_figures() -> None:
    """Capture the figures the program left open."""
    figures = sys.modules.get("labreport.child.figures")
    if figures is not None:  # imported only when the program imported matplotlib
        figures.capture_open()


def _user_traceback(exc: BaseException, program: str) -> str:
    """The traceback from the program's first frame on, as Python would print it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != program:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _module_globals(exc: BaseException, program: str) -> dict[str, Any]:
    """The program's global variables when ``exc`` ended it (``sys.exit(0)``): those of its
    top-level frame in the traceback, as runpy returns them only when no exception ends it."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == program and code.co_name == "<module>":
            return tb.tb_frame.f_globals
        tb = tb.tb_next
    return {}


def _record_globals(
    pairs: Sequence[tuple[str, str]], namespace: dict[str, Any], program: str
) -> str | None:
    """Record each global ``variable`` of the ended program as ``name``, as ``record(name,
    value)`` would (the spec's ``record:``, so a program needs no labreport import); the
    error, one line, when a variable is missing or holds what cannot be recorded."""
    missing: list[str] = []
    for name, variable in pairs:
        if variable not in namespace:
            missing.append(variable)
            continue
        try:
            record(name, namespace[variable])
        except Exception as exc:  # noqa: BLE001 - the program's value, whatever it holds
            # record()'s TypeError says what can be recorded; anything else is named.
            reason = str(exc) if isinstance(exc, TypeError) else f"{type(exc).__name__}: {exc}"
            return (
                f"record: the global variable {variable!r} of {program} cannot be recorded: "
                + " ".join(reason.split())
            )
    if not missing:
        return None
    names = ", ".join(repr(variable) for variable in missing)
    if len(missing) == 1:
        return (
            f"record: no global variable {names} at the end of {program}; define it at "
            "module level, or record it with record() instead"
        )
    return (
        f"record: no global variables {names} at the end of {program}; define them at "
        "module level, or record them with record() instead"
    )


def _environment() -> dict[str, str]:
    """What the program computed with, as this process saw it: its BLAS threads, and PyTorch's
    CPU kernels (which ``ATEN_CPU_CAPABILITY`` can change) and threads when it imported it."""
    found = {"threads": os.environ.get("OMP_NUM_THREADS", "")}  # the runner sets all three
    torch: Any = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):  # a program may have broken its own torch
            found["torch_cpu"] = str(torch.backends.cpu.get_cpu_capability())
            found["torch_threads"] = str(torch.get_num_threads())
    return found


def run(request: RunRequest) -> int:
    """Run the program as ``request`` says; the program's exit code.

    This process becomes the run's supervisor, a child subreaper, and the program runs in a
    child of it: whatever the program starts, however it detaches (a new session, a cleared
    environment, a dead parent), stays a descendant of the supervisor, which ends them all when
    the program ends and labreport can find them all meanwhile (:mod:`labreport.proctree`).
    The supervisor stays outside the program's confinement, so the program cannot signal it.
    Where no subreaper can be had, the program runs in this process, as it always did.
    """
    die_with_parent()
    if proctree.become_subreaper():
        program = os.fork()
        if program:
            return _supervise(program)
        die_with_parent(os.getppid())  # the supervisor's death is the run's end
    return _run_program(request)


def _supervise(program: int) -> int:
    """Wait for the program, adopting and reaping the orphans it leaves; then end whatever it
    left running and end as it ended (its exit code, or killed by the same signal)."""
    status = 0
    while True:
        try:
            pid, status_of = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == program:
            status = status_of
            break
    proctree.kill_descendants(os.getpid())
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # reap the killed, so none lingers as a zombie
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.01)
        except ChildProcessError:
            break
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # end as the program did, so labreport says "killed by SIGSEGV"
        with contextlib.suppress(OSError, ValueError):
            import resource  # POSIX only, as the fork that got us here

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # its core dump is not ours
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def _run_program(request: RunRequest) -> int:
    """Run the program in this process and write the exit report; its exit code."""
    faulthandler.enable()
    confinement = confine(request.writable, request.private_shm) if request.writable else {}
    seed, program = request.seed, request.program
    torch: Any = sys.modules.get("torch")
    if torch is not None:  # preloaded by a warm interpreter, before this run's settings existed
        torch.set_num_threads(request.threads)
    os.environ[SEED_ENV] = str(seed)  # for run_seed(); this process is the program's own
    random.seed(seed)
    hooks = {
        "numpy": _seed_numpy(seed),
        "torch": _seed_torch(seed),
        "matplotlib.figure": _capture_figures,
        "matplotlib.pyplot": _capture_figures,
    }
    for name in list(hooks):
        if name in sys.modules:  # preloaded by the warm interpreter: seed or hook it now
            hooks.pop(name)(sys.modules[name])
    if hooks:
        sys.meta_path.insert(0, _AfterImport(hooks))
    sys.argv = [program, *request.args]
    # As `python program.py` would: its folder first. Inserted, not put over sys.path[0]: the
    # interpreter started with -P, so that entry is the standard library's, not a folder.
    sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
    report: dict[str, Any] = {"exit_code": 0, "error": None, "traceback": None}
    namespace: dict[str, Any] = {}
    start = time.perf_counter()
    try:
        namespace = runpy.run_path(program, run_name="__main__")
    except SystemExit as exc:
        namespace = _module_globals(exc, program)
        code = exc.code
        if code is None or isinstance(code, int):
            report["exit_code"] = code or 0
        else:
            print(code, file=sys.stderr)
            report["exit_code"] = 1
        if report["exit_code"]:
            report["error"] = f"sys.exit({code!r})"
    except BaseException as exc:  # noqa: BLE001 - every failure of the program is a result
        text = _user_traceback(exc, program)
        sys.stderr.write(text)
        report.update(
            exit_code=1,
            error=traceback.format_exception_only(type(exc), exc)[-1].strip(),
            traceback=text,
        )
    if report["exit_code"] == 0 and request.recorded_globals:
        error = _record_globals(request.recorded_globals, namespace, program)
        if error is not None:
            sys.stderr.write(f"labreport: {error}\n")
            report.update(exit_code=1, error=error)
    try:
        _capture_open_figures()
    except Exception as exc:  # noqa: BLE001 - a figure that fails to draw is reported, not fatal
        sys.stderr.write(f"labreport: could not capture the open figures: {exc}\n")
    report["duration"] = time.perf_counter() - start
    report["environment"] = {**_environment(), SEED_REPORT_KEY: str(seed)}
    report["confinement"] = confinement
    sys.stdout.flush()
    sys.stderr.flush()
    Path(os.environ[RESULTS_ENV], EXIT_REPORT).write_text(json.dumps(report), encoding="utf-8")
    return int(report["exit_code"])


if __name__ == "__main__":
    sys.exit(run(RunRequest.from_json(sys.argv[1])))
