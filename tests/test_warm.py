"""The warm interpreter: programs forked from it are as isolated as in a new interpreter."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labreport.protocol import ForkReply, ForkRequest, RunRequest
from labreport.results import RunLimits
from labreport.runner import run_program
from labreport.warm import WarmPool, program_kind

LEAKY = """
    import json, os, random, sys, wave
    import numpy as np
    import matplotlib
    import matplotlib.pyplot as plt
    {torch_leak}
    json.LEAK = 1
    os.environ["LEAK"] = "1"
    sys.path.append("/leak")
    random.random(); np.random.rand(5)
    matplotlib.rcParams["lines.linewidth"] = 9
    plt.figure(); plt.plot([1, 2])      # left open
    plt.figure(); plt.plot([3, 4]); plt.show()
    print("leaked")
"""
PROBE = """
    import json, os, random, sys
    import numpy as np
    import matplotlib
    import matplotlib.pyplot as plt
    {torch_probe}
    print("json.LEAK", hasattr(json, "LEAK"))
    print("env", os.environ.get("LEAK"), "path", "/leak" in sys.path)
    print("wave imported", "wave" in sys.modules)
    print("random", random.random(), "numpy", np.random.rand())
    print("linewidth", matplotlib.rcParams["lines.linewidth"], "figures", plt.get_fignums())
    plt.figure(); plt.plot([5, 6]); plt.title("probe"); plt.show()
"""
TORCH_LEAK = "import torch; torch.manual_seed(5); torch.rand(3); torch.set_num_threads(2)"
TORCH_PROBE = "import torch; print('torch', torch.rand(2).tolist(), torch.get_num_threads())"


@pytest.mark.parametrize("with_torch", [False, True], ids=["numpy", "torch"])
def test_nothing_leaks_between_programs_of_the_warm_interpreter(
    tmp_path: Path, with_torch: bool
) -> None:
    leak, probe = (TORCH_LEAK, TORCH_PROBE) if with_torch else ("", "")
    (tmp_path / "leaky.py").write_text(textwrap.dedent(LEAKY.format(torch_leak=leak)))
    (tmp_path / "probe.py").write_text(textwrap.dedent(PROBE.format(torch_probe=probe)))
    assert program_kind(tmp_path / "probe.py") == ("torch" if with_torch else "numpy")
    limits = RunLimits(timeout=120, threads=1)
    pool = WarmPool()
    try:
        first = run_program(tmp_path, "leaky.py", seed=3, limits=limits, warm=pool)
        assert first.ok and first.output == "leaked\n" and len(first.figures) == 2
        warm = run_program(tmp_path, "probe.py", seed=3, limits=limits, warm=pool)
        again = run_program(tmp_path, "probe.py", seed=3, limits=limits, warm=pool)
    finally:
        pool.close()
    fresh = run_program(tmp_path, "probe.py", seed=3, limits=limits)
    assert warm.ok and fresh.ok, warm.output + fresh.output
    assert warm.output == fresh.output == again.output
    assert "json.LEAK False\nenv None path False\nwave imported False\n" in warm.output
    assert "linewidth 1.5 figures []" in warm.output
    if with_torch:
        assert warm.output.splitlines()[0].endswith(" 1"), "one thread, as configured"
    assert [f.title for f in warm.figures] == [f.title for f in fresh.figures] == ["probe"]
    assert warm.figures[0].number == 1


def test_warm_and_fresh_runs_report_failures_alike(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("print('before')\nraise ValueError('boom')\n")
    pool = WarmPool()
    try:
        warm = run_program(tmp_path, "bad.py", limits=RunLimits(timeout=60), warm=pool)
    finally:
        pool.close()
    fresh = run_program(tmp_path, "bad.py", limits=RunLimits(timeout=60))
    assert (warm.status, warm.error, warm.exit_code) == ("error", "ValueError: boom", 1)
    assert (warm.status, warm.error, warm.exit_code, warm.output) == (
        fresh.status,
        fresh.error,
        fresh.exit_code,
        fresh.output,
    )


def test_protocol_messages_survive_the_trip_with_their_types() -> None:
    run = RunRequest("prog.py", ("--epochs", "3"), seed=7, threads=1)
    assert RunRequest.from_json(run.to_json()) == run
    fork = ForkRequest("id1", "/tmp/work", {"A": "1"}, run)
    assert ForkRequest.from_bytes(fork.to_bytes()) == fork
    # A wait status of 0 (a clean exit) equals False: it must still be sent, or the program
    # never ends as far as the runner can tell.
    for reply in (ForkReply(ready=True), ForkReply(id="a", pid=12), ForkReply(id="a", status=0)):
        line = reply.to_bytes()
        assert line.endswith(b"\n")
        assert ForkReply.from_line(line.strip()) == reply


@pytest.mark.parametrize(
    ("sources", "kind"),
    [
        ({"main.py": "import json, os.path\nfrom collections import Counter\nprint(1)\n"}, "plain"),
        ({"main.py": "from labreport.record import record\nimport helper\n"}, "plain"),
        ({"main.py": "from . import helper\nfrom .helper import x\n"}, "plain"),
        ({"main.py": "import helper\n", "helper.py": "import numpy as np\n"}, "numpy"),
        ({"main.py": "def f():\n    import matplotlib.pyplot\n"}, "numpy"),
        ({"main.py": "import scipy.stats\n"}, "numpy"),  # imports NumPy itself
        ({"main.py": "import numpy\n", "net.py": "from torch import nn\n"}, "torch"),
    ],
)
def test_the_kind_of_warm_interpreter_follows_the_imports(
    tmp_path: Path, sources: dict[str, str], kind: str
) -> None:
    for name, text in {"helper.py": "x = 1\n", **sources}.items():
        (tmp_path / name).write_text(text)
    assert program_kind(tmp_path / "main.py") == kind


# What the plain kind cannot see: matplotlib and NumPy imported by name, in a module next to it.
INDIRECT = """
    import importlib
    np = importlib.import_module("numpy")
    plt = importlib.import_module("matplotlib.pyplot")
    print("numpy", np.random.rand(), "backend", plt.get_backend())
    plt.figure(); plt.plot([1, 2]); plt.title("shown"); plt.show()
    plt.figure(); plt.plot([3, 1]); plt.title("left open")
"""


def test_a_plain_program_that_imports_matplotlib_after_all_gets_its_figures(
    tmp_path: Path,
) -> None:
    (tmp_path / "indirect.py").write_text(textwrap.dedent(INDIRECT))
    (tmp_path / "main.py").write_text("import indirect  # noqa: F401\nprint('done')\n")
    assert program_kind(tmp_path / "main.py") == "plain"
    limits = RunLimits(timeout=120, threads=1)
    pool = WarmPool()
    try:
        warm = run_program(tmp_path, "main.py", seed=4, limits=limits, warm=pool)
        assert set(pool._zygotes) == {"plain"}
    finally:
        pool.close()
    fresh = run_program(tmp_path, "main.py", seed=4, limits=limits)
    assert warm.ok and fresh.ok, warm.output + fresh.output
    assert warm.output == fresh.output
    assert "backend module://labreport.child.mpl_backend\ndone\n" in warm.output
    assert [f.title for f in warm.figures] == [f.title for f in fresh.figures]
    assert [f.title for f in warm.figures] == ["shown", "left open"]
    assert [f.svg for f in warm.figures] == [f.svg for f in fresh.figures]


def test_a_plain_program_runs_in_a_warm_interpreter_that_is_ready_already(tmp_path: Path) -> None:
    numeric, plain = tmp_path / "numeric", tmp_path / "plain"
    numeric.mkdir()
    plain.mkdir()
    (numeric / "zeros.py").write_text("import numpy as np\nprint(np.zeros(2))\n")
    (plain / "hello.py").write_text("import sys\nprint('hello', 'numpy' in sys.modules)\n")
    limits = RunLimits(timeout=120, threads=1)
    pool = WarmPool()
    try:
        assert run_program(numeric, "zeros.py", limits=limits, warm=pool).ok
        warm = run_program(plain, "hello.py", limits=limits, warm=pool)
        assert set(pool._zygotes) == {"numpy"}, "no second warm interpreter"
    finally:
        pool.close()
    assert warm.ok and warm.output == "hello True\n"  # as in any build before the plain kind
