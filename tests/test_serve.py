"""Issue 14: ``labreport serve`` never loses an edit. Every test runs the installed ``labreport``
script in a subprocess and reads the pages over HTTP, as a browser does: an edit must show up on
the page whenever it was saved (before, during or right after a build), and undoing a mistake
must bring the record back.

No test bounds a wall-clock time: each polls for the page it expects, with a generous deadline
that only turns a hang into a failure (with the server's log in the message).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import copy_project

SCRIPT = Path(sys.executable).with_name("labreport")
DEADLINE = 60.0  # seconds: a bound on a hang, not a measurement


class Preview:
    """A running ``labreport serve``, seen through HTTP only."""

    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.base + path, timeout=10) as answer:  # noqa: S310
            return str(answer.read().decode("utf-8"))

    def status(self) -> dict[str, object]:
        return dict(json.loads(self.get("__labreport__/status")))

    def page(self, exp_id: str) -> str:
        """The page's visible text (the reload script left out)."""
        soup = BeautifulSoup(self.get(f"{exp_id}.html"), "html.parser")
        for script in soup.select("script"):
            script.decompose()
        return soup.get_text(" ", strip=True)

    def wait_for(self, exp_id: str, shown: str, *, gone: str | None = None) -> str:
        """Poll ``exp_id``'s page until it shows ``shown`` (and no longer ``gone``)."""
        return self.wait_until(
            lambda text: shown in text and (gone is None or gone not in text),
            exp_id, f"{shown!r}" + (f" without {gone!r}" if gone else ""),
        )  # fmt: skip

    def wait_until(self, done: Callable[[str], bool], exp_id: str, what: str) -> str:
        deadline = time.monotonic() + DEADLINE
        text = ""
        while time.monotonic() < deadline:
            text = self.page(exp_id)
            if done(text):
                return text
            time.sleep(0.2)
        raise AssertionError(
            f"{exp_id}.html never showed {what}.\nLast page: {text[:2000]}\n"
            f"Server log:\n{self.log.read_text()[-4000:]}"
        )


@contextmanager
def serving(root: Path, *args: str) -> Iterator[Preview]:
    """``labreport serve ARGS --port 0`` in ``root``; the URL is its first line of output."""
    log_path = root.parent / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", *args, "--port", "0"], cwd=root, stdout=subprocess.PIPE,
            stderr=log, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.match(r"Serving (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)", line)
            assert match, f"{line!r}\n{log_path.read_text()}"
            yield Preview(match.group(1), log_path)
            assert process.poll() is None, "the server is still running after every edit"
        finally:
            process.terminate()
            process.wait(timeout=60)
            assert process.stdout is not None
            process.stdout.close()


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new))


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return copy_project("mini", tmp_path / "mini")


# ------------------------------------------------------------------------------ edits


def test_serve_answers_on_loopback_and_rebuilds_after_a_change(mini: Path) -> None:
    with serving(mini, "beta") as preview:
        preview.wait_for("beta", "Two programs on a worksheet")
        assert "/__labreport__/generation" in preview.get("beta.html"), "pages reload themselves"
        assert "beta.html" in preview.get("")

        spec = mini / "experiments/beta/experiment.yaml"
        replace(spec, "To fill a worksheet.", "To fill it live.")
        preview.wait_for("beta", "To fill it live.")
        assert not (mini / "build").exists(), "the preview does not touch build/"


def test_undoing_a_typo_brings_the_record_back(mini: Path) -> None:
    """The build state remembers the last good build: after the undo the experiment is up to
    date, and the page must still drop the error."""
    spec = mini / "experiments/beta/experiment.yaml"
    good = spec.read_text()
    with serving(mini, "beta") as preview:
        preview.wait_for("beta", "To fill a worksheet.")
        spec.write_text(good + "bogus_key: 1\n")
        text = preview.wait_for("beta", "build failed")
        assert "bogus_key: unknown key" in text
        spec.write_text(good)
        preview.wait_for("beta", "To fill a worksheet.", gone="build failed")
        assert preview.status()["errors"] == {}
        assert "build failed" not in preview.get("")


def test_a_broken_then_fixed_labreport_toml_brings_every_record_back(mini: Path) -> None:
    config = mini / "labreport.toml"
    good = config.read_text()
    with serving(mini) as preview:
        preview.wait_for("alpha", "To draw a line.")
        preview.wait_for("beta", "To fill a worksheet.")
        config.write_text(good.replace("[course]", "[course"))
        for exp_id in ("alpha", "beta"):
            assert "labreport.toml" in preview.wait_for(exp_id, "build failed")
        config.write_text(good)
        preview.wait_for("alpha", "To draw a line.", gone="build failed")
        preview.wait_for("beta", "To fill a worksheet.", gone="build failed")
