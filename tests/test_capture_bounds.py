"""Issue 15.4: what a run leaves behind is read back within bounds.

A program's recorded values, its exit report and its figures are files in a folder the program
can write itself. However large they are (honestly, or written there on purpose), the build
finishes, labreport holds about the run's output limit of them, the run cache stays small, and
the record's output says in one line what was left out. A figure with very many points is drawn
so that its SVG stays small and its PDF is laid out in seconds.

Each case builds a one-experiment project through the installed console script, with a tiny
``output_limit`` so that each stays quick.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from base64 import b64decode
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from labreport.capture import read_exit_report, read_records
from labreport.process import format_bytes
from labreport.protocol import EXIT_REPORT, FIGURE_MAX_BYTES, RECORDS_FILE

from conftest import REPO, copy_project

SCRIPT = Path(sys.executable).with_name("labreport")
MiB = 1024 * 1024


# ------------------------------------------------------------------------------ helpers


def project_with(tmp_path: Path, program: str, **fields: Any) -> Path:
    """mini's labreport.toml with one experiment, ``exp``, that runs ``program`` under a
    64 KiB output limit."""
    root = copy_project("mini", tmp_path / "mini")
    shutil.rmtree(root / "experiments")
    folder = root / "experiments" / "exp"
    folder.mkdir(parents=True)
    run = {"code": "prog.py", "output_limit": "64 KiB", **fields.pop("run", {})}
    spec = {"number": 1, "title": "Bounds", "aim": "To leave a lot.", "programs": [run], **fields}
    (folder / "experiment.yaml").write_text(json.dumps(spec), encoding="utf-8")
    (folder / "prog.py").write_text(program, encoding="utf-8")
    return root


def labreport(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, running this checkout's code; never a traceback."""
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=120, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    assert "Traceback" not in shown and "internal error" not in shown, shown[:2000]
    return done


def html_of(root: Path) -> BeautifulSoup:
    return BeautifulSoup((root / "build" / "exp.html").read_text(encoding="utf-8"), "html.parser")


def output_of(root: Path) -> str:
    found = html_of(root).select_one("pre.output")
    assert found is not None
    return found.get_text()


def cache_bytes(root: Path) -> int:
    """The size of the project's run cache: the one run's entry."""
    entries = list((root / ".labreport" / "cache").rglob("*.json"))
    assert entries, "the run was not cached"
    return sum(entry.stat().st_size for entry in entries)


def figure_svgs(root: Path) -> list[str]:
    """The SVG of each figure in the record, from its data: URI."""
    found = []
    for img in html_of(root).select("figure.run-figure img"):
        src = str(img["src"])
        assert src.startswith("data:image/svg+xml;base64,")
        found.append(b64decode(src.split(",", 1)[1]).decode("utf-8"))
    return found


def pdf_text(root: Path) -> str:
    return "".join(page.extract_text() for page in PdfReader(root / "build" / "exp.pdf").pages)


# ------------------------------------------------------------------------------ recorded values

_BIG_VALUE = """\
from labreport.record import record

record("small", 1)
record("big", "x" * 3_000_000)
print("recorded")
"""


def test_a_value_over_the_limit_is_dropped_with_a_note(tmp_path: Path) -> None:
    root = project_with(tmp_path, _BIG_VALUE, result="Small is {{ results.small }}.")
    done = labreport(root, "build", "exp", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert output_of(root) == (
        "recorded\n\n[records truncated: 1 recorded value(s) not kept: 'big' (2.9 MiB) "
        "(limit 64 KiB in all)]\n"
    )
    assert "Small is 1." in html_of(root).get_text()
    assert cache_bytes(root) < 64 * 1024  # the value is not in the cache


def test_a_prose_that_uses_a_dropped_value_fails_in_one_line(tmp_path: Path) -> None:
    root = project_with(tmp_path, _BIG_VALUE, result="Big is {{ results.big }}.")
    done = labreport(root, "build", "exp", "--format", "html")
    assert done.returncode == 1, done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert "results.big, which no program recorded" in error, error


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec (see test_robustness.py).
_PEAK = """\
import atexit, sys
from labreport.cli import main

def peak():
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
    print("peak", hwm, file=sys.stderr)

atexit.register(peak)
sys.argv = ["labreport", "build", "exp", "--format", "html"]
main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_labreport_holds_the_limit_not_the_value(tmp_path: Path) -> None:
    """60 MB recorded: reading the whole file, then decoding and parsing it, took ~4 times that."""
    program = _BIG_VALUE.replace('"x" * 3_000_000', '"x" * 60_000_000')
    root = project_with(tmp_path, program)
    done = subprocess.run(
        [sys.executable, "-c", _PEAK], cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    peak_kib = int(done.stderr.rsplit("peak", 1)[1])
    assert peak_kib * 1024 < 150 * MiB, done.stderr  # ~45 MiB here; it was ~290 MiB
    assert "'big' (57.2 MiB)" in output_of(root)


def test_values_past_the_total_are_dropped_and_a_replaced_value_counts_once(
    tmp_path: Path,
) -> None:
    lines = [{"name": "loss", "value": step} for step in range(5_000)]  # 5,000 replacements
    lines += [{"name": f"v{i}", "value": "y" * 100} for i in range(20)]  # ~128 bytes each
    (tmp_path / RECORDS_FILE).write_text("".join(json.dumps(x) + "\n" for x in lines))
    notes: list[str] = []
    records = read_records(tmp_path, 1024, notes)
    assert records["loss"] == 4_999
    assert [name for name in records if name.startswith("v")] == [f"v{i}" for i in range(7)]
    assert notes == [
        "[records truncated: 13 recorded value(s) not kept: 'v7' (127 B), 'v8' (127 B), "
        "'v9' (127 B), 'v10' (128 B), 'v11' (128 B) and 8 more (limit 1 KiB in all)]"
    ]


def test_a_value_dropped_takes_its_earlier_value_with_it(tmp_path: Path) -> None:
    """The record would otherwise show a number the program had replaced."""
    lines = [{"name": "mse", "value": 1.5}, {"name": "mse", "value": list(range(1000))}]
    (tmp_path / RECORDS_FILE).write_text("".join(json.dumps(x) + "\n" for x in lines))
    notes: list[str] = []
    assert read_records(tmp_path, 1024, notes) == {}
    assert notes == [
        "[records truncated: 1 recorded value(s) not kept: 'mse' (4.8 KiB) (limit 1 KiB in all)]"
    ]


# ------------------------------------------------------------------------------ forged files

_FORGER = """\
import json, os

folder = os.environ["LABREPORT_RESULTS"]
with open(os.path.join(folder, "records.jsonl"), "w") as fh:
    fh.write(json.dumps({"name": "kept", "value": 7}) + "\\n")
    fh.write('{"name": "huge", "value": "' + "h" * 20_000_000)  # no end, no newline
with open(os.path.join(folder, "exit.json"), "w") as fh:
    json.dump({"exit_code": 3, "error": "Forged: " + "e" * 5_000_000,
               "traceback": "t" * 5_000_000, "environment": {"threads": "1"}}, fh)
print("forged", flush=True)
os._exit(3)  # so that the harness never writes its own report
"""


def test_huge_files_written_into_the_results_folder_are_read_within_the_limit(
    tmp_path: Path,
) -> None:
    root = project_with(tmp_path, _FORGER, run={"allow_errors": True})
    done = labreport(root, "build", "exp", "--format", "html")
    assert done.returncode == 0, done.stderr  # allow_errors: the failure is rendered
    assert output_of(root) == (
        "forged\n\n[records truncated: 1 recorded value(s) not kept: 'huge' (19.1 MiB) "
        "(limit 64 KiB in all)]\n"
    )
    error = html_of(root).select_one("div.run-error")
    assert error is not None
    text = error.get_text(" ", strip=True)
    assert text.startswith("Error: prog.py failed: Forged: eee")
    assert text.endswith("e [truncated: 4934472 more bytes not shown (limit 64 KiB)]"), text[-200:]
    assert (root / "build" / "exp.html").stat().st_size < 512 * 1024
    assert cache_bytes(root) < 512 * 1024


def test_a_report_over_its_budget_even_cut_is_not_read(tmp_path: Path) -> None:
    """Four limits' worth once each text is cut: not the harness's report."""
    report = {"environment": {f"k{i}": "v" for i in range(1000)}, "traceback": None}
    (tmp_path / EXIT_REPORT).write_text(json.dumps(report))
    notes: list[str] = []
    assert read_exit_report(tmp_path, 1024, notes) == {}
    assert notes == ["[exit report not read: over 4 KiB with each text cut to 1 KiB]"]


def test_a_report_is_cut_at_whole_characters_across_chunks(tmp_path: Path) -> None:
    """Escapes ("\\u00e9", "\\n") are never split, wherever the 64 KiB chunks end."""
    error = 'é\n\\"' * 50_000
    (tmp_path / EXIT_REPORT).write_text(json.dumps({"error": error, "traceback": None}))
    report = read_exit_report(tmp_path, 100_001)
    kept, marker = report["error"].split("\n[truncated: ")
    assert error.startswith(kept) and len(kept) > 30_000
    assert marker == "500004 more bytes not shown (limit 97.7 KiB)]"  # of 600,000 in JSON


_HUGE_EXCEPTION = """\
raise ValueError("x" * 5_000_000)
"""


def test_a_huge_exception_message_fails_the_build_in_one_short_line(tmp_path: Path) -> None:
    root = project_with(tmp_path, _HUGE_EXCEPTION)
    done = labreport(root, "build", "exp", "--format", "html")
    assert done.returncode == 1, done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error: exp: prog.py failed at line 1: ValueError: xxx"), error[:200]
    assert "xxx [truncated: " in error and "more bytes not shown (limit 64 KiB)]" in error
    assert len(error) < 70 * 1024


_TRAPS = """\
import os

folder = os.environ["LABREPORT_RESULTS"]
os.symlink("/dev/zero", os.path.join(folder, "records.jsonl"))  # never ends
os.mkfifo(os.path.join(folder, "figures.jsonl"))  # reading it would wait forever
print("set")
"""


def test_a_device_or_fifo_in_place_of_a_results_file_is_not_read(tmp_path: Path) -> None:
    root = project_with(tmp_path, _TRAPS)
    done = labreport(root, "build", "exp", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert output_of(root) == "set\n"


# ------------------------------------------------------------------------------ figures

_SCATTER = """\
import numpy as np
import matplotlib.pyplot as plt

x, y = np.random.rand(2, 200_000)
plt.scatter(x, y, s=1)
plt.plot([0, 1], [0, 1], color="red")  # light: stays vector
plt.title("two hundred thousand")
plt.show()
print("plotted")
"""


@pytest.fixture(scope="module")
def scatter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200,000-point scatter, built as HTML and PDF once (it was 28 MB and two minutes)."""
    root = project_with(tmp_path_factory.mktemp("scatter"), _SCATTER)
    done = labreport(root, "build", "exp", "--format", "all")
    assert done.returncode == 0, done.stderr
    return root


def test_a_scatter_of_200k_points_is_a_small_figure_in_the_html(scatter: Path) -> None:
    assert (scatter / "build" / "exp.html").stat().st_size < 1 * MiB
    (svg,) = figure_svgs(scatter)
    assert svg.count("<image") == 1  # the markers, as one picture
    assert "<!-- two hundred thousand -->" in svg  # the title, still text drawn as vectors
    assert "<!-- 0.8 -->" in svg  # and the ticks
    assert svg.count('style="fill: none; stroke: #ff0000') == 1  # the red line too


def test_a_scatter_of_200k_points_is_laid_out_in_the_pdf(scatter: Path) -> None:
    text = pdf_text(scatter)
    assert "Figure 1: two hundred thousand" in text
    assert (scatter / "build" / "exp.pdf").stat().st_size < 1 * MiB


_MATRIX = """\
import numpy as np
import matplotlib.pyplot as plt

plt.imshow(np.random.default_rng(0).random((1500, 1500)), interpolation="none")
plt.title("noise")
plt.savefig("noise.png")
print("shown")
"""


def test_a_figure_too_large_even_so_is_drawn_as_one_picture(tmp_path: Path) -> None:
    """A 1500 x 1500 image drawn pixel for pixel is 10 MB of SVG."""
    root = project_with(tmp_path, _MATRIX)
    done = labreport(root, "build", "exp", "--format", "html")
    assert done.returncode == 0, done.stderr
    (svg,) = figure_svgs(root)
    assert len(svg) < 1 * MiB
    # matplotlib's default 6.4 x 4.8 in: near enough the 110 mm the page gives a figure that
    # it is drawn at its own size
    assert re.search(r'<svg [^>]*width="460.8pt" height="345.6pt"', svg), svg[:300]
    assert svg.count("<image") == 1 and "<path" not in svg
    assert output_of(root) == "shown\n"


_FORGED_SVG = f"""\
import json, os
import matplotlib.pyplot as plt

plt.plot([1, 2, 3])
plt.title("real")
plt.show()
folder = os.environ["LABREPORT_RESULTS"]
with open(os.path.join(folder, "fig-009.svg"), "w") as fh:
    fh.write("<svg>" + " " * {5 * MiB - 11} + "</svg>")
os.symlink("/etc/hostname", os.path.join(folder, "fig-010.svg"))
with open(os.path.join(folder, "figures.jsonl"), "a") as fh:
    for number, name in ((9, "fig-009.svg"), (10, "fig-010.svg"), (11, "../prog.py")):
        fh.write(json.dumps({{"number": number, "file": name, "title": "forged"}}) + "\\n")
print("forged")
"""


def test_a_forged_oversized_svg_is_not_read_and_the_output_says_so(tmp_path: Path) -> None:
    root = project_with(tmp_path, _FORGED_SVG)
    done = labreport(root, "build", "exp", "--format", "html")
    assert done.returncode == 0, done.stderr
    captions = [c.get_text(" ", strip=True) for c in html_of(root).select("figcaption")]
    assert captions == ["Figure 1: real"]  # the symlink and the path out are skipped quietly
    assert output_of(root) == (
        "forged\n\n[figures truncated: figure 9 ('forged') not shown: its SVG is 5 MiB "
        f"(limit {format_bytes(FIGURE_MAX_BYTES)})]\n"
    )
