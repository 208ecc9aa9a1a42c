"""Libraries that cannot be imported from two threads at once are loaded once, under a lock.

Pygments swaps ``pygments.lexers`` and ``pygments.formatters`` in ``sys.modules`` during their
first import; before the lock, 8 threads highlighting at once in a fresh interpreter failed in
11 of 12 runs with ``ImportError: cannot import name 'PythonLexer'``. The race needs a fresh
interpreter each time, so each try is its own process.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_HAMMER = """\
import threading
from labreport.render import highlight_python

barrier = threading.Barrier(8)
errors = []

def render():
    barrier.wait()
    try:
        assert "highlight" in highlight_python("x = [1, 'two']\\n")
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=render) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors[0] if errors else "ok")
"""


@pytest.mark.parametrize("attempt", range(8))
def test_eight_threads_highlight_at_once_in_a_fresh_interpreter(attempt: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _HAMMER], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
