"""PDF rendering in worker processes, started when a build begins.

WeasyPrint costs ~0.8 s to import and lays a record out in one to three seconds, all of it holding
the GIL. In the build process that is time nothing else can use: the import cannot overlap with
reading the spec or rendering the HTML, and a batch renders one PDF at a time. A worker imports
WeasyPrint on the other core while the build reads the spec, runs the programs and renders the
HTML; a batch with ``--jobs N`` gets up to N of them, so records are laid out side by side.

Protocol on the worker's stdin/stdout: a request is one JSON line ``{"root", "refused",
"variant", "length"}`` (``variant``: the archival PDF asked for, or null) followed by
``length`` bytes of HTML (UTF-8); the answer is one JSON line ``{"ok", "refused", "length"}``
(or ``{"ok": false, "error"}``) followed by the PDF. The worker renders with
:func:`labreport.pdf.render_pdf`, so its PDF is byte-for-byte the one the build would have
made itself; where no worker can run, the build does exactly that.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from labreport.errors import RenderError
from labreport.protocol import PARENT_PID_ENV
from labreport.sandbox import importable


class WorkerGone(OSError):
    """The worker could not be started or died: render in this process instead."""


class PdfWorker:
    """One worker process; not thread-safe (a pool hands each to one thread at a time)."""

    def __init__(self) -> None:
        env = importable({**os.environ, PARENT_PID_ENV: str(os.getpid())})
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "labreport.pdfworker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            )  # fmt: skip
        except OSError as exc:
            raise WorkerGone(f"cannot start a PDF worker: {exc}") from exc

    def render(
        self, html: str, root: Path, refused: list[str], breaks: list[str],
        variant: str | None = None,
    ) -> bytes:  # fmt: skip
        """The PDF of ``html`` (as :func:`labreport.pdf.render_pdf`, as ``variant``); URLs it
        refused are appended to ``refused``, pages that break badly to ``breaks``. RenderError:
        WeasyPrint failed on this record."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        data = html.encode("utf-8")
        header = {"root": str(root), "refused": refused, "variant": variant, "length": len(data)}
        try:
            self.proc.stdin.write(json.dumps(header).encode() + b"\n" + data)
            self.proc.stdin.flush()
            answer = json.loads(self.proc.stdout.readline() or b"null")
            if not isinstance(answer, dict):
                raise WorkerGone("the PDF worker ended")
            if not answer.get("ok"):
                raise RenderError(f"the PDF could not be rendered: {answer.get('error')}")
            pdf = self.proc.stdout.read(int(answer["length"]))
        except (OSError, ValueError, KeyError) as exc:
            raise WorkerGone(f"the PDF worker failed: {exc}") from exc
        if len(pdf) != int(answer["length"]):
            raise WorkerGone("the PDF worker ended mid-answer")
        refused += [url for url in answer.get("refused", []) if url not in refused]
        breaks += [str(problem) for problem in answer.get("breaks", [])]
        return pdf

    def close(self) -> None:
        """Stop the worker at once: it holds nothing worth finishing."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class PdfPool:
    """Workers of one build, started ahead (:meth:`prestart`) and reused across experiments."""

    def __init__(self) -> None:
        self._idle: list[PdfWorker] = []
        self._all: list[PdfWorker] = []
        self._lock = threading.Lock()
        self._broken = False

    def prestart(self) -> None:
        """Have one idle worker importing WeasyPrint, unless one is idle already."""
        with self._lock:
            if self._idle or self._broken:
                return
            try:
                worker = PdfWorker()
            except WorkerGone:
                self._broken = True
                return
            self._idle.append(worker)
            self._all.append(worker)

    def render(
        self, html: str, root: Path, refused: list[str], breaks: list[str],
        variant: str | None = None,
    ) -> bytes | None:  # fmt: skip
        """The PDF from a worker, or None where none can run (then render in-process)."""
        with self._lock:
            if self._broken:
                return None
            worker = self._idle.pop() if self._idle else None
        try:
            if worker is None:
                worker = PdfWorker()
                with self._lock:
                    self._all.append(worker)
            pdf = worker.render(html, root, refused, breaks, variant)
        except WorkerGone:
            with self._lock:
                self._broken = True
            return None
        with self._lock:
            self._idle.append(worker)
        return pdf

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
        for worker in workers:
            worker.close()


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    from labreport.pdf import render_pdf

    while line := requests.readline():
        request = json.loads(line)
        html = requests.read(int(request["length"])).decode("utf-8")
        refused: list[str] = list(request["refused"])
        breaks: list[str] = []
        try:
            pdf = render_pdf(
                html, root=Path(request["root"]), refused=refused, breaks=breaks,
                variant=request.get("variant"),
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported to the build, which names the record
            answer: dict[str, Any] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            answers.write(json.dumps(answer).encode() + b"\n")
        else:
            answer = {"ok": True, "refused": refused, "breaks": breaks, "length": len(pdf)}
            answers.write(json.dumps(answer).encode() + b"\n" + pdf)
        answers.flush()


def main() -> None:
    from labreport.pdf import load_weasyprint
    from labreport.protocol import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's to handle; it kills us
    load_weasyprint()  # now, while the build reads the spec and runs the programs
    _serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
