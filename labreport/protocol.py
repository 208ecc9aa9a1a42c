"""What labreport and the processes it starts say to each other: every name, in one place.

Both sides import this module: labreport's runner, warm pool and PDF pool, and, inside the
program's own process, the harness, the matplotlib backend, ``record()`` and the warm
interpreter. So it imports nothing but the standard library, and holds names and the one
safety net every child sets (:func:`die_with_parent`), not logic.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

# ---- parent → child: environment variables of a program's process
FIGURES_ENV = "LABREPORT_FIGURES"  # the run's results folder, where figures are saved
FIGURE_LIMIT_ENV = "LABREPORT_FIGURE_LIMIT"  # figures captured at most
RECORDS_ENV = "LABREPORT_RECORDS"  # the file record() appends to
SEED_ENV = "LABREPORT_SEED"  # the run's seed, for run_seed() (set by the harness itself)
PARENT_PID_ENV = "LABREPORT_PARENT_PID"  # whose death the child must not outlive
RUN_TOKEN_ENV = "LABREPORT_RUN"  # marks every process of one run, to kill the whole tree
# Set per run; a warm interpreter must not carry them (a kill-by-token scan would find it).
PER_RUN_ENV = (RUN_TOKEN_ENV, FIGURES_ENV, RECORDS_ENV)
# The matplotlib backend a program's process draws with.
MPL_BACKEND_MODULE = "labreport.child.mpl_backend"
MPL_BACKEND = f"module://{MPL_BACKEND_MODULE}"

# ---- child → parent: files in a run's results folder
EXIT_REPORT = "exit.json"  # the harness's report: exit code, error, traceback, environment
RECORDS_FILE = "records.jsonl"  # one {"name", "value"} per record() call
FIGURE_INDEX = "figures.jsonl"  # one {"number", "file", "title"} (or "dropped") per figure


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the labreport that started it dies (named by
    :data:`PARENT_PID_ENV`), so nothing runs on with nobody enforcing its limits."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != int(parent):  # labreport died before the request was made
            os._exit(1)
