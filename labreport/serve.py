"""``labreport serve``: build, serve the HTML on loopback, rebuild on change, reload the page.

The loop is deliberately simple: wait (labreport.watch: file notifications through
watchfiles, else polling) for a change to anything a record depends on (the experiments'
folders, ``labreport.toml``, the template folders) since the last build *started*, then hand
the served experiments to the ordinary :class:`~labreport.build.Builder`, so that no save is
lost, not even one made during a build. Its
up-to-date stamps and run cache decide what is affected: a prose edit re-renders one record
without running anything, a code edit re-runs that program only. The page asks the server for a
generation number and reloads itself when it changes; the script is added when a page is
served, never written into the record on disk.

The server listens on loopback unless ``--host`` says otherwise (JupyterHub, WSL, Docker,
Codespaces need ``0.0.0.0``; serve then warns that anyone on the network can read and build).
On loopback, a page from anywhere can make the browser reach it through
DNS rebinding (a name of the attacker's that comes to resolve to 127.0.0.1). So it answers only
requests whose ``Host`` names loopback and its port (``127.0.0.1:PORT``, ``localhost:PORT``,
``[::1]:PORT``): a rebound page sends its own name, and gets 403. Off loopback every name is
answered: the server is reachable directly anyway. The status endpoint, read by
scripts, names no absolute path of the machine.
"""

from __future__ import annotations

import html
import http.server
import ipaddress
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from labreport.batch import terminations_interrupt
from labreport.build import Builder, BuildOptions
from labreport.console import terminal_lines
from labreport.errors import LabreportError, UsageError
from labreport.ids import ID_TEXT
from labreport.progress import LineProgress
from labreport.project import Project
from labreport.results import ExperimentOutcome
from labreport.spec import discover
from labreport.themes import builtin_templates_dir
from labreport.warm import WarmPool
from labreport.watch import Watcher

log = logging.getLogger(__name__)

SETTLE_SECONDS = 0.1  # after a change, let an editor finish writing
PREVIEW_DIR = "preview"
DEFAULT_HOST = "127.0.0.1"
_PAGE = re.compile(rf"^/({ID_TEXT})\.html$")
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# An absolute path in a message: a "/" that starts a word, then what a path holds up to a space,
# a quote, a bracket or a colon (which would start a :line). "1 / 0" and "a/b" are not paths.
_ABSOLUTE_PATH = re.compile(r"(?<![\w./:~-])/[^\s'\"`<>()\[\]{},;:|]+")
_RELOAD = """<script>
(function () {{
  var seen = {generation};
  setInterval(function () {{
    fetch("/__labreport__/generation", {{cache: "no-store"}})
      .then(function (r) {{ return r.text(); }})
      .then(function (t) {{ if (Number(t) !== seen) location.reload(); }})
      .catch(function () {{}});
  }}, 700);
}})();
</script>"""


class PreviewState:
    """What the server shows; written by the build loop, read by request threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.ids: list[str] = []
        self.errors: dict[str, str] = {}
        self.building = True

    def publish(self, ids: list[str], outcomes: Iterable[ExperimentOutcome]) -> None:
        """Show ``outcomes``, one per served id. Every outcome counts, "up to date" too: undoing
        a typo, or mending ``labreport.toml``, brings the inputs back to those of the last good
        build, which the builder then calls up to date without building, and that must clear
        the error shown since. Pages reload (the generation moves) only when what they show
        may have changed, so a build that changed nothing leaves the open page alone."""
        outcomes = list(outcomes)
        errors = {o.id: o.error or "build failed" for o in outcomes if o.status == "failed"}
        rebuilt = any(o.status == "built" for o in outcomes)
        with self.lock:
            if rebuilt or self.building or errors != self.errors or ids != self.ids:
                self.generation += 1
            self.ids, self.errors, self.building = ids, errors, False


def _build_one(builder: Builder, exp_id: str) -> ExperimentOutcome:
    """``builder.build(exp_id)``; an error that is not a user's (a bug, or a template that
    divides by zero) fails this experiment's page instead of ending the preview."""
    try:
        return builder.build(exp_id)
    except Exception as exc:  # noqa: BLE001 - shown on the page; the preview keeps serving
        log.debug("building %s", exp_id, exc_info=True)
        error = f"internal error in labreport: {type(exc).__name__}: {exc} (please report it)"
        return ExperimentOutcome(exp_id, "failed", error=error)


class PreviewServer:
    """One project's live preview on ``host:port`` (loopback unless asked otherwise)."""

    def __init__(
        self,
        project: Project,
        ids: list[str] | None,
        templates_dir: Path | None,
        port: int,
        host: str = DEFAULT_HOST,
    ) -> None:
        self.project = project
        self.requested = ids
        self.templates_dir = templates_dir
        self.out_dir = project.work_dir / PREVIEW_DIR
        self.state = PreviewState()
        self.progress = LineProgress(sys.stderr)
        self.host = host
        self.loopback = is_loopback(host)
        handler = _handler_for(self)
        server_class = _Server6 if ":" in host else _Server
        try:
            self.httpd = server_class((host.strip("[]"), port), handler)
        except (OSError, OverflowError) as exc:  # OverflowError: never, --port is bounded
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(
                f"--host {host} --port {port}: cannot listen there ({reason}); choose another "
                "port (--port 0 for any free one), or a --host this machine has"
            ) from exc
        # One warm interpreter for the whole session: a program whose code changed is re-run
        # without paying for its imports again.
        self.warm = WarmPool()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """A URL that works from this machine: loopback when listening on every interface."""
        if self.loopback or _unspecified(self.host):
            return f"http://127.0.0.1:{self.port}/"
        name = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{name}:{self.port}/"

    def open_browser(self) -> None:
        """``--open``: show the index in the user's browser ($BROWSER is honoured). A browser
        that cannot be started is a warning: the preview serves all the same."""
        try:
            opened = webbrowser.open(self.url)
        except Exception as exc:  # noqa: BLE001 - webbrowser raises what its helpers raise
            opened, why = False, f"{type(exc).__name__}: {exc}"
        else:
            why = "no browser found, or it failed to start"
        if not opened:
            sys.stderr.write(f"Warning: --open: could not open a browser ({why}); "
                             f"open {self.url} yourself\n")  # fmt: skip

    def _ids(self) -> list[str]:
        return self.requested or discover(self.project.experiments_dir)

    def _watched(self) -> list[Path]:
        """Every file a build of this project reads: the experiments, ``labreport.toml`` and
        the template folders, the project's even before it exists (creating it is an edit)."""
        configured = self.project.config.templates_dir
        folders = [self.templates_dir] if self.templates_dir else []
        folders += [self.project.root / (configured or "templates"), builtin_templates_dir()]
        return [self.project.experiments_dir, self.project.config_path, *folders]

    def build_once(self) -> None:
        """Build what changed and publish the outcome."""
        try:
            self.project = self.project.reload()
            options = BuildOptions(
                formats=("html",), out_dir=self.out_dir, templates_dir=self.templates_dir
            )
            builder = Builder(self.project, options, self.progress, warm=self.warm)
        except LabreportError as exc:  # a broken labreport.toml: show it on every page
            ids = self._ids()
            failed = [ExperimentOutcome(i, "failed", error=exc.format_message()) for i in ids]
            self.state.publish(ids, failed)
            return
        ids = self._ids()
        with builder, terminations_interrupt():
            outcomes = [_build_one(builder, exp_id) for exp_id in ids]
        self.state.publish(ids, outcomes)
        for outcome in outcomes:
            if outcome.status == "failed":
                for line in terminal_lines(outcome.error or "build failed"):
                    self.progress.stream.write(f"Error: {line}\n")

    def serve_forever(self, open_browser: bool = False) -> None:
        """Serve in a background thread; build and watch in this one until Ctrl-C.

        The watcher is marked *before* each build, so a save that lands while the build runs
        (say, during a 30 s training run) counts as a change and starts the next build; marked
        after the build, it would already hold that save, which would wait for another edit.
        A build with nothing to do costs a few hashes: the builder decides what is stale.
        """
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        watcher = None
        try:
            if open_browser:  # the socket listens since __init__: the page is there to load
                self.open_browser()
            watcher = Watcher(self._watched)
            while True:
                watcher.mark()
                self.build_once()
                watcher.wait()
                time.sleep(SETTLE_SECONDS)  # let an editor finish writing
        finally:
            if watcher is not None:
                watcher.close()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.warm.close()

    # ------------------------------------------------------------------ pages
    def allowed_host(self, host: str | None) -> bool:
        """Whether a request's ``Host`` header names this server on loopback. Listening on
        another interface (``--host 0.0.0.0``) the server is meant to be reached by names it
        cannot know (a JupyterHub proxy, a Codespaces URL), and whoever can reach it needs no
        DNS rebinding: every name is answered, as the warning at start says."""
        if not self.loopback:
            return True
        port = self.port
        wanted = {f"{name}:{port}" for name in _LOOPBACK_NAMES}
        if port == 80:  # the default port may go unsaid
            wanted.update(_LOOPBACK_NAMES)
        return host is not None and host.strip().lower() in wanted

    def status(self) -> dict[str, Any]:
        """``/__labreport__/status``: the generation, the ids and each failed one's error, with
        the project's root made relative and every other absolute path cut to its last part."""
        with self.state.lock:
            generation, ids, errors = (
                self.state.generation, list(self.state.ids), dict(self.state.errors),
            )  # fmt: skip
        root = str(self.project.root)
        shown = {
            exp_id: _ABSOLUTE_PATH.sub(
                _last_part, error.replace(root + os.sep, "").replace(root, ".")
            )
            for exp_id, error in errors.items()
        }
        return {"generation": generation, "experiments": ids, "errors": shown}

    def page(self, exp_id: str) -> tuple[int, bytes]:
        with self.state.lock:
            error = self.state.errors.get(exp_id)
            generation, known, building = (
                self.state.generation, exp_id in self.state.ids, self.state.building,
            )  # fmt: skip
        if building:
            return 200, self._message_page("Building ...", "The first build is running.", 0)
        if not known:
            return 404, self._message_page("Not found", f"No experiment {exp_id!r}.", generation)
        if error is not None:
            return 200, self._message_page(f"{exp_id}: build failed", error, generation)
        try:
            text = (self.out_dir / f"{exp_id}.html").read_text(encoding="utf-8")
        except OSError as exc:
            return 500, self._message_page(exp_id, f"cannot read the record: {exc}", generation)
        script = _RELOAD.format(generation=generation)
        head, sep, tail = text.rpartition("</body>")
        return 200, ((head + script + sep + tail) if sep else (text + script)).encode("utf-8")

    def index(self) -> tuple[int, bytes]:
        with self.state.lock:
            ids, errors, generation = (
                list(self.state.ids),
                dict(self.state.errors),
                (self.state.generation),
            )
        items = "".join(
            f'<li><a href="/{html.escape(i)}.html">{html.escape(i)}</a>'
            + (' <strong class="failed">build failed</strong>' if i in errors else "")
            + "</li>"
            for i in ids
        )
        body = f"<ul>{items}</ul>" if ids else "<p>Building ...</p>"
        return 200, self._page("labreport preview", body, generation)

    def _message_page(self, title: str, message: str, generation: int) -> bytes:
        body = f'<pre style="white-space: pre-wrap; color: #a40000">{html.escape(message)}</pre>'
        return self._page(title, body, generation)

    def _page(self, title: str, body: str, generation: int) -> bytes:
        return (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<title>{html.escape(title)}</title></head><body style="font-family: sans-serif">'
            f"<h1>{html.escape(title)}</h1>{body}{_RELOAD.format(generation=generation)}"
            "</body></html>"
        ).encode()


def _last_part(match: re.Match[str]) -> str:
    return "\u2026/" + match.group().rstrip("/").rsplit("/", 1)[-1]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is this machine's loopback only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to any interface
        return False


def _unspecified(host: str) -> bool:
    """``0.0.0.0`` or ``::``: every interface, not an address a browser can open."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def listening_notes(server: PreviewServer) -> list[str]:
    """What ``serve`` says on stderr about where it listens: a warning when off loopback, and
    for every interface, how to reach it from elsewhere."""
    if server.loopback:
        return []
    notes = [
        f"Warning: --host {server.host} is not loopback: anyone who can reach this machine on "
        f"port {server.port} can read the records and start builds"
    ]
    if _unspecified(server.host):
        notes.append(
            f"Note: listening on every interface; from another machine (or the host of a "
            f"container or WSL) open http://<this machine's name or address>:{server.port}/"
        )
    return notes


class _Server(http.server.ThreadingHTTPServer):
    """A client that goes away mid-request (a reload, a closed tab) is not an error to report."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset...
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    """The same, on an IPv6 address (``--host ::``)."""

    address_family = socket.AF_INET6


def _handler_for(server: PreviewServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path = self.path.split("?", 1)[0]
            if not server.allowed_host(self.headers.get("Host")):
                status, kind = 403, "text/plain; charset=utf-8"
                port = server.httpd.server_address[1]
                body = (
                    f"forbidden: this preview answers only requests for 127.0.0.1:{port}, "
                    f"localhost:{port} or [::1]:{port}\n"
                ).encode()
            elif path == "/__labreport__/generation":
                with server.state.lock:
                    status, body, kind = 200, str(server.state.generation).encode(), "text/plain"
            elif path == "/__labreport__/status":
                body = json.dumps(server.status()).encode()
                status, kind = 200, "application/json"
            elif path in ("/", "/index.html"):
                (status, body), kind = server.index(), "text/html; charset=utf-8"
            elif match := _PAGE.match(path):
                (status, body), kind = server.page(match.group(1)), "text/html; charset=utf-8"
            else:
                status, body, kind = 404, b"not found", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - API name
            pass  # requests are not news; build events are

    return Handler
