"""Issue 18 point 6: ``serve`` where users are. ``--host`` (a warning off loopback, a usable URL),
``--open`` (through ``$BROWSER``; a browser that fails is a warning), and change detection
through watchfiles with polling as the fallback (``LABREPORT_WATCH=poll``).

One project for the module: each serve after the first finds beta's runs in the cache, so every
test here costs one stdlib-only build at most. Every serve runs the installed script.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_serve import DEADLINE, SCRIPT, Preview, raw_get, replace, serving

from conftest import copy_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project("mini", tmp_path_factory.mktemp("where") / "mini")


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def log_says(preview: Preview, text: str) -> str:
    """Wait until the server's stderr holds ``text``; return it all."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        log = preview.log.read_text()
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"the log never said {text!r}:\n{preview.log.read_text()[-4000:]}")


@pytest.fixture
def edits(project: Path) -> Iterator[Path]:
    """beta's spec, restored after the test: the next test starts from the same text."""
    spec = project / "experiments/beta/experiment.yaml"
    before = spec.read_text()
    yield spec
    spec.write_text(before)


def test_changes_are_noticed_through_watchfiles(project: Path, edits: Path) -> None:
    pytest.importorskip("watchfiles")
    with serving(project, "-v", "beta", env=env()) as preview:
        log = log_says(preview, "watching for changes with watchfiles")
        assert "polling" not in log
        preview.wait_for("beta", "To fill a worksheet.")
        # An editor's swap file next to the spec is no input (the watch filter skips it);
        # the real save after it is built.
        (project / "experiments/beta/.experiment.yaml.swp").write_text("swap")
        replace(edits, "To fill a worksheet.", "Noticed by notification.")
        preview.wait_for("beta", "Noticed by notification.")
        assert "Warning" not in preview.log.read_text()
    (project / "experiments/beta/.experiment.yaml.swp").unlink()


def test_labreport_watch_poll_polls_and_still_rebuilds(project: Path, edits: Path) -> None:
    with serving(project, "-v", "beta", env=env(LABREPORT_WATCH="poll")) as preview:
        log = log_says(
            preview, "watching for changes by polling every 0.25 s (LABREPORT_WATCH=poll)"
        )
        assert "watchfiles" not in log
        preview.wait_for("beta", "To fill a worksheet.")
        replace(edits, "To fill a worksheet.", "Noticed by polling.")
        preview.wait_for("beta", "Noticed by polling.")


def test_a_wrong_labreport_watch_is_a_usage_error(project: Path) -> None:
    done = subprocess.run(
        [str(SCRIPT), "serve", "--port", "0"], cwd=project, env=env(LABREPORT_WATCH="inotify"),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert "LABREPORT_WATCH='inotify' is not one of auto, poll" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_host_everywhere_warns_prints_a_loopback_url_and_opens_it(
    project: Path, tmp_path: Path
) -> None:
    opened = tmp_path / "opened.txt"
    browser = shlex.join(
        [sys.executable, "-c", f"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])"]
    )
    # serving() insists on "Serving http://127.0.0.1:PORT/ (Ctrl-C to stop)" as the first line:
    # for 0.0.0.0 the printed URL is the loopback one, which a browser can open.
    with serving(
        project, "beta", "--host", "0.0.0.0", "--open", env=env(BROWSER=browser + " %s")
    ) as preview:
        log = log_says(preview, "Note: listening on every interface")
        warning = (
            "Warning: --host 0.0.0.0 is not loopback: anyone who can reach this machine on port "
        )
        assert warning in log and "can read the records and start builds" in log
        preview.wait_for("beta", "Two programs on a worksheet")
        deadline = time.monotonic() + DEADLINE
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text() == preview.base, "--open opened the printed URL"
        # Off loopback, a proxy's or the machine's own name is answered (JupyterHub, Codespaces).
        status, body = raw_get(preview, "/beta.html", "my-hub.example:8888")
        assert status == 200 and "Two programs on a worksheet" in body


def test_loopback_by_default_and_a_failing_browser_is_only_a_warning(project: Path) -> None:
    with serving(project, "beta", "--open", env=env(BROWSER="false")) as preview:
        log = log_says(preview, "Warning: --open: could not open a browser")
        assert f"open {preview.base} yourself" in log
        assert "not loopback" not in log and "Traceback" not in log
        preview.wait_for("beta", "Two programs on a worksheet")
        status, _ = raw_get(preview, "/beta.html", "my-hub.example:8888")
        assert status == 403, "on loopback the DNS-rebinding guard stays"
