"""Issue 14: ``labreport serve`` never loses an edit. Every test runs the installed ``labreport``
script in a subprocess and reads the pages over HTTP, as a browser does: an edit must show up on
the page whenever it was saved (before, during or right after a build), and undoing a mistake
must bring the record back.

No test bounds a wall-clock time: each polls for the page it expects, with a generous deadline
that only turns a hang into a failure (with the server's log in the message).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import Channel, copy_project

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
def serving(root: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Preview]:
    """``labreport serve ARGS --port 0`` in ``root`` (with ``env``); the URL is its first line
    of output."""
    log_path = root.parent / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", *args, "--port", "0"], cwd=root, stdout=subprocess.PIPE,
            stderr=log, stdin=subprocess.DEVNULL, text=True, env=env,
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


def test_template_edits_show_including_a_new_templates_folder(mini: Path) -> None:
    """The project had no templates/ folder when serve started: creating it is an edit too."""
    theme = mini / "templates" / "worksheet"
    record = theme / "record.html"

    def override(heading: str, end: str = "{% endblock %}") -> None:
        theme.mkdir(parents=True, exist_ok=True)
        record.write_text(
            '{% extends "builtin/worksheet/record.html" %}\n'
            "{% block heading %}<h1>" + heading + "</h1>" + end + "\n"
        )

    with serving(mini, "beta") as preview:
        preview.wait_for("beta", "Two programs on a worksheet")
        override("From the project")
        preview.wait_for("beta", "From the project")
        override("Edited again")
        preview.wait_for("beta", "Edited again")
        override("Broken", end="")  # a block left open
        preview.wait_for("beta", "build failed")
        override("{{ 1 / 0 }}")  # not a user error the builder names: the server stays up
        assert "build failed" in preview.wait_for("beta", "ZeroDivisionError")
        override("Mended")
        preview.wait_for("beta", "Mended", gone="build failed")
        record.unlink()
        preview.wait_for("beta", "Two programs on a worksheet", gone="Mended")


def test_quick_successive_saves_end_on_the_last_one(mini: Path) -> None:
    """Saves closer together than a poll, a settle or a build: the page ends on the last."""
    spec = mini / "experiments/beta/experiment.yaml"
    good = spec.read_text()
    with serving(mini, "beta") as preview:
        preview.wait_for("beta", "To fill a worksheet.")
        for step, pause in enumerate((0.0, 0.05, 0.12, 0.3, 0.6, 0.02, 0.2)):
            spec.write_text(good.replace("To fill a worksheet.", f"Save number {step}."))
            time.sleep(pause)
        preview.wait_for("beta", "Save number 6.")


# ------------------------------------------------------------------------------ during a build

GATED = """\
import pathlib
import time

from labreport.record import record

VERSION = 1
pathlib.Path({folder!r}, f"started-{{VERSION}}").touch()
gate = pathlib.Path({folder!r}, f"go-{{VERSION}}")
deadline = time.monotonic() + 300  # never outlive a test that failed
while not gate.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
record("version", VERSION)
"""


def test_an_edit_saved_during_a_build_is_built_next(mini: Path, channel: Channel) -> None:
    """The program waits for a file the test creates, so the edits land while it runs: the
    spec (already read by this build) and the program itself (already copied for this run)."""
    gates = channel.folder
    folder = mini / "experiments" / "slow"
    folder.mkdir()
    (folder / "gated.py").write_text(GATED.format(folder=str(gates)))
    spec = folder / "experiment.yaml"
    spec.write_text(
        "number: 3\ntitle: A slow one\naim: The first aim.\nprograms:\n  - code: gated.py\n"
        "result: It recorded version {{ results.version }}.\n"
    )
    with serving(mini, "slow", env=channel.env) as preview:
        deadline = time.monotonic() + DEADLINE
        while not (gates / "started-1").exists():
            assert time.monotonic() < deadline, (gates, preview.log.read_text())
            time.sleep(0.05)
        replace(spec, "The first aim.", "The aim saved during the run.")
        replace(folder / "gated.py", "VERSION = 1", "VERSION = 2")
        (gates / "go-1").touch()  # the first build ends now, with the old aim and version 1
        (gates / "go-2").touch()
        preview.wait_for("slow", "It recorded version 2.")
        text = preview.wait_for("slow", "The aim saved during the run.")
        assert "The first aim." not in text


# ------------------------------------------------------------------------------ issue 15: browser


def raw_get(preview: Preview, path: str, host: str | None) -> tuple[int, str]:
    """GET ``path`` with exactly the ``Host`` header given (none when None), as a page that a
    DNS-rebinding attack pointed at the preview would send it."""
    port = int(preview.base.rsplit(":", 1)[1].rstrip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, answer.read().decode("utf-8")
    finally:
        conn.close()


def test_only_loopback_host_names_are_answered(mini: Path) -> None:
    with serving(mini, "beta") as preview:
        preview.wait_for("beta", "To fill a worksheet.")
        port = int(preview.base.rsplit(":", 1)[1].rstrip("/"))
        forbidden = (
            f"forbidden: this preview answers only requests for 127.0.0.1:{port}, "
            f"localhost:{port} or [::1]:{port}\n"
        )
        paths = ("/", "/beta.html", "/__labreport__/status", "/__labreport__/generation")
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}",
                     "127.0.0.1", f"localhost.evil.example:{port}", "", None):  # fmt: skip
            for path in paths:
                assert raw_get(preview, path, host) == (403, forbidden), (host, path)
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}",
                     f"[::1]:{port}"):  # fmt: skip
            status, text = raw_get(preview, "/beta.html", host)
            assert status == 200 and "To fill a worksheet." in text, host


def test_a_client_that_goes_away_mid_request_leaves_no_traceback(mini: Path) -> None:
    """Each client resets its connection (SO_LINGER 0): half-way through its request, or at
    once after sending it, while the server writes the page."""
    with serving(mini, "beta") as preview:
        preview.wait_for("beta", "To fill a worksheet.")
        port = int(preview.base.rsplit(":", 1)[1].rstrip("/"))
        request = f"GET /beta.html HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        for cut in (len(request) // 2, len(request)) * 20:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(request[:cut])
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert "To fill a worksheet." in preview.page("beta"), "still serving"
        log = preview.log.read_text()
        assert "Traceback" not in log and "Exception occurred" not in log, log


def test_status_names_no_absolute_path_of_the_machine(mini: Path, tmp_path: Path) -> None:
    folder = mini / "experiments" / "paths"
    folder.mkdir()
    (folder / "prog.py").write_text(
        "import os\n"
        'raise FileNotFoundError(f\'no {os.path.abspath("data.csv")} in {os.getcwd()} '
        'for {os.path.expanduser("~")}, 1 / 0 and a/b\')\n'
    )
    (folder / "experiment.yaml").write_text(
        "number: 3\ntitle: Paths\naim: To leak.\nprograms:\n  - code: prog.py\n"
    )
    outside = tmp_path / "outside.py"
    outside.write_text("print('hi')\n")
    linked = mini / "experiments" / "linked"
    linked.mkdir()
    (linked / "prog.py").symlink_to(outside)
    (linked / "experiment.yaml").write_text(
        "number: 4\ntitle: Linked\naim: To leak.\nprograms:\n  - code: prog.py\n"
    )
    with serving(mini, "paths", "linked") as preview:
        preview.wait_for("paths", "build failed")
        preview.wait_for("linked", "build failed")
        errors = preview.status()["errors"]
        assert isinstance(errors, dict) and set(errors) == {"paths", "linked"}
        for error in errors.values():
            assert not re.search(r"(?<![\w./:~…-])/\w", error), error
            assert str(mini) not in error and str(tmp_path) not in error, error
        assert re.search(r"no …/data\.csv in …/\S+ for …/\S+, 1 / 0 and a/b", errors["paths"])
        assert "…/outside.py" in errors["linked"], errors["linked"]
        assert str(outside) in preview.page("linked"), "the page itself says where"
