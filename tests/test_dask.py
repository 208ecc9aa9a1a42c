"""``--executor dask://HOST:PORT``: programs and PDF layouts handed to a Dask cluster give the
records a local build gives, byte for byte, under the same limits; the run cache stays here.

One ``distributed.LocalCluster`` for the module, its cheapest form with two workers: two
workers of one thread each *in the test's process* (``processes=False``), over TCP, without a
dashboard. Worker processes would cost ~2 s of CPU more (each imports Dask and labreport) and
test nothing more: every build goes through the installed ``labreport`` script in a subprocess,
so each job is still pickled, sent over TCP and run by a worker that shares nothing with the
build's process, and each program still runs in a process of its own. The project is small and
of the standard library, but for one NumPy + matplotlib program with a figure; the builds are
HTML only, and one small layout goes through a worker on its own.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from conftest import PROJECTS, copy_project

distributed = pytest.importorskip("distributed")

SCRIPT = Path(sys.executable).with_name("labreport")
SAME = ["alpha", "beta", "chain", "seeded"]  # built both ways and compared (HTML)
Builds = tuple[Path, Path, subprocess.CompletedProcess[str]]

_SEEDED = """\
number: 3
title: Seeded, with a data file and a variable passed by name
aim: To see that a job takes along what a run needs.
programs:
  - code: seeded.py
    args: ["--seed", "{seed}"]
    seed: 7
    pass_env: [LAB_GREETING]
    show_files: [out.txt]
result: It drew {{ results.drawn }} and read {{ results.total }}.
"""
_SEEDED_PY = """\
import os
import random
import sys

from labreport.record import record

seed = int(sys.argv[sys.argv.index("--seed") + 1])
drawn = random.Random(seed).randint(0, 10**6)
total = sum(int(n) for n in open("data/numbers.txt").read().split())
print("seed", seed, "greeting", os.environ.get("LAB_GREETING"))
open("out.txt", "w").write(f"{drawn} {total}\\n")
record("drawn", drawn)
record("total", total)
"""
_SLOW = """\
number: 4
title: Too slow
aim: To meet the timeout on a worker.
programs:
  - code: slow.py
    timeout: 1
"""
_SLOW_PY = "import time\nprint('zzz', flush=True)\ntime.sleep(60)\n"
_BROKEN = """\
number: 5
title: Broken
aim: To fail on a worker.
programs:
  - code: broken.py
"""


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def _project(root: Path) -> Path:
    """mini (alpha: NumPy and a figure; beta: two programs), the pipeline project's chain
    (workdir: shared), a seeded program, one past its timeout and one that raises."""
    copy_project("mini", root)
    experiments = root / "experiments"
    shutil.copytree(PROJECTS / "pipeline" / "experiments" / "chain", experiments / "chain")
    _write(experiments / "seeded", {
        "experiment.yaml": _SEEDED, "seeded.py": _SEEDED_PY, "data/numbers.txt": "1 2 3 4\n",
    })  # fmt: skip
    _write(experiments / "slow", {
        "experiment.yaml": _SLOW, "slow.py": _SLOW_PY,
    })  # fmt: skip
    _write(experiments / "broken", {
        "experiment.yaml": _BROKEN, "broken.py": "x = 1\nraise RuntimeError('no luck here')\n",
    })  # fmt: skip
    return root


def _labreport(root: Path, *args: str, greeting: str = "hi") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAB_GREETING": greeting}
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a two-worker LocalCluster (see the module's docstring)."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
        protocol="tcp", host="127.0.0.1",
    )  # fmt: skip
    try:
        yield cluster.scheduler_address.replace("tcp://", "dask://")
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def builds(scheduler: str, tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """The project built through the cluster (every experiment), and a copy built here: HTML
    only, as WeasyPrint costs seconds a record (the layout has a test of its own)."""
    base = tmp_path_factory.mktemp("dask")
    remote, local = _project(base / "remote"), _project(base / "local")
    # The workers were started without LAB_GREETING: only the job can bring it.
    done = _labreport(remote, "build", "--all", "--format", "html", "--executor", scheduler)
    here = _labreport(local, "build", *SAME, "--format", "html")
    assert here.returncode == 0, here.stderr
    return remote, local, done


def test_records_are_the_local_builds_byte_for_byte(
    builds: Builds,
) -> None:
    remote, local, _ = builds
    for name in [f"{exp_id}.html" for exp_id in SAME]:
        assert (remote / "build" / name).read_bytes() == (local / "build" / name).read_bytes()
    page = BeautifulSoup((remote / "build" / "alpha.html").read_bytes(), "html.parser")
    figure = page.select_one("figure.run-figure img")  # drawn on a worker
    assert figure is not None and str(figure["src"]).startswith("data:image/svg+xml")
    text = BeautifulSoup((remote / "build" / "seeded.html").read_bytes(), "html.parser").text
    drawn = __import__("random").Random(7).randint(0, 10**6)
    assert f"It drew {drawn} and read 10." in " ".join(text.split())
    assert "greeting hi" in text  # the variable passed by name travelled with the job
    chain = BeautifulSoup((remote / "build" / "chain.html").read_bytes(), "html.parser").text
    assert "fit.txt" in chain  # the pipeline's second program read what the first wrote


def test_failures_on_workers_are_reported_as_here(
    builds: Builds,
) -> None:
    _, _, done = builds
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2, done.stderr
    assert any("slow: slow.py failed: timed out after 1 s" in line for line in errors)
    assert any(
        "broken: broken.py failed at line 2: RuntimeError: no luck here" in line for line in errors
    )
    assert "Summary: 4 built (6 program(s) run, 0 from cache), 0 up to date, 2 failed" in (
        done.stderr
    )


def test_workers_results_are_reused_from_the_cache_here(
    builds: Builds,
) -> None:
    remote = builds[0]
    spec = remote / "experiments" / "seeded" / "experiment.yaml"
    spec.write_text(spec.read_text().replace("To see that", "To check that"), encoding="utf-8")
    again = _labreport(remote, "build", "seeded", "--format", "html")  # locally, no cluster
    assert again.returncode == 0, again.stderr
    assert "seeded: built" in again.stderr and "(0 runs, 1 from cache)" in again.stderr


def test_a_layout_on_a_worker_is_the_local_one(scheduler: str, tmp_path: Path) -> None:
    """Through the executor itself (the builds above are HTML only): the same bytes as
    :func:`labreport.pdf.render_pdf` here, and what it refused is said."""
    from labreport.dask_executor import DaskExecutor
    from labreport.executor import parse_executor
    from labreport.pdf import render_pdf

    html = '<h1>Aim</h1><p>To lay out.</p><img src="http://example.invalid/x.png">'
    address = parse_executor(scheduler)
    assert address is not None
    executor = DaskExecutor(address)
    try:
        refused: list[str] = []
        pdf = executor.layout(html, tmp_path, refused, [])
    finally:
        executor.close()
    assert pdf == render_pdf(html, root=tmp_path)
    assert refused == ["http://example.invalid/x.png"]
    assert "To lay out." in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_a_bad_executor_is_a_usage_error() -> None:
    done = subprocess.run(
        [str(SCRIPT), "build", "alpha", "--executor", "dask://no-port"],
        cwd=PROJECTS / "mini", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: --executor: not an executor: 'dask://no-port' (write local or dask://HOST:PORT,"
        " e.g. dask://scheduler:8786)"
    ]


def test_the_executor_of_labreport_toml_is_read_and_checked(tmp_path: Path) -> None:
    root = copy_project("mini", tmp_path / "mini")
    with (root / "labreport.toml").open("a", encoding="utf-8") as config:
        config.write('\n[build]\nexecutor = "dask://scheduler"\n')
    done = _labreport(root, "build", "beta")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "Error: labreport.toml: [build] executor: not an executor: 'dask://scheduler'"
    )


def test_an_unreachable_scheduler_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    root = copy_project("mini", tmp_path / "mini")
    done = _labreport(root, "build", "beta", "--executor", f"dask://127.0.0.1:{port}")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"Error: --executor: no Dask scheduler answers at tcp://127.0.0.1:{port}"
    )
    assert not (root / "build").exists()


_STUDENT_TOML = """\
[course]
title = "MINI COURSE"

[student]
name = "{name}"
id = "{id}"
seeds = "student"
"""


def test_a_class_builds_through_the_cluster_with_each_students_own_seeds(
    scheduler: str, tmp_path: Path
) -> None:
    """Issue 17, points 1, 4 and 5 together: `labreport class --executor` hands each student's
    runs to the workers, and each student's program runs with the seed derived from their ID."""
    from labreport.report import load_report
    from labreport.seeds import student_seed

    subs = tmp_path / "subs"
    for name, sid in (("ann", "A-1"), ("bob", "B-2")):
        _write(subs / name, {
            "labreport.toml": _STUDENT_TOML.format(name=name, id=sid),
            "experiments/seeded/experiment.yaml": _SEEDED,
            "experiments/seeded/seeded.py": _SEEDED_PY,
            "experiments/seeded/data/numbers.txt": "1 2 3 4\n",
        })  # fmt: skip
    out = tmp_path / "out"
    done = _labreport(
        tmp_path, "class", str(subs), "--out", str(out), "--format", "html", "-j", "2",
        "--executor", scheduler,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for name, sid in (("ann", "A-1"), ("bob", "B-2")):
        report = load_report(out / name / "report.json")
        (program,) = report.experiments[0].programs
        assert program.seed == student_seed(sid, "seeded", "seeded.py")
        assert program.source == "run"
        page = BeautifulSoup((out / name / "seeded.html").read_bytes(), "html.parser")
        text = " ".join(page.get_text(" ").split())
        drawn = __import__("random").Random(program.seed).randint(0, 10**6)
        assert f"It drew {drawn} and read 10." in text
        assert f"(from student ID {sid})" in text
