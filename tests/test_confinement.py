"""Issue #15, points 1 and 2: a program cannot touch what isn't its own.

Each attack is a program of a real project, built through the installed console script; the
program records what each attempt came to, and the test checks both that record and the files
the attempt aimed at. Landlock is what confines writes, so those tests need it (Linux ≥ 5.13);
where it is missing they say so, and the build's one-line warning is what users get instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from labreport import process, sandbox
from labreport.child.confine import landlock_abi
from labreport.cli import cli

from conftest import wait_gone

SCRIPT = Path(sys.executable).with_name("labreport")
LANDLOCK = landlock_abi()
needs_landlock = pytest.mark.skipif(LANDLOCK == 0, reason="this kernel has no Landlock")


def labreport(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip


def experiment(root: Path, name: str, number: int, program: str, extra: str = "") -> Path:
    folder = root / "experiments" / name
    folder.mkdir(parents=True)
    (folder / "experiment.yaml").write_text(
        f"number: {number}\ntitle: {name}\naim: To test.\nprograms:\n  - code: prog.py\n{extra}"
        "result: '{{ results | tojson }}'\n"
    )
    (folder / "prog.py").write_text(program)
    return folder


def recorded(root: Path, name: str) -> dict[str, Any]:
    """The values the program recorded, read back from the record's Result (``tojson``)."""
    page = BeautifulSoup((root / "build" / f"{name}.html").read_text(), "html.parser")
    found = [p.get_text() for p in page.find_all("p") if p.get_text().startswith("{")]
    assert len(found) == 1, page.get_text()[-2000:]
    return dict(json.loads(found[0]))


# ------------------------------------------------------------------------------ writes

ATTACK = """\
import os, pathlib, signal, sys
from labreport.record import record

root = pathlib.Path(sys.argv[1])
outcomes = {}

def attempt(name, action):
    try:
        action()
        outcomes[name] = "done"
    except OSError as exc:
        outcomes[name] = "refused"

parent = int(os.environ["LABREPORT_PARENT_PID"])
attempt("program", lambda: (root / "experiments/victim/prog.py").write_text("print('pwned')"))
attempt("record", lambda: (root / "build/victim.html").write_text("pwned"))
attempt("cache", lambda: (root / ".labreport/cache/forged.json").write_text("{}"))
attempt("new file", lambda: (root / "experiments/dropped.py").write_text("x"))
attempt("home", lambda: (pathlib.Path.home() / "dropped").write_text("x"))
attempt("terminal", lambda: open(f"/proc/{parent}/fd/2", "w").write("INJECTED\\n"))
attempt("cwd", lambda: os.readlink(f"/proc/{parent}/cwd"))
attempt("signal", lambda: os.kill(parent, 0))
attempt("own folder", lambda: pathlib.Path("scratch.txt").write_text("mine"))
attempt("temp", lambda: __import__("tempfile").TemporaryFile().write(b"x"))
record("outcomes", outcomes)
"""


@needs_landlock
def test_a_program_cannot_write_to_the_project_the_output_the_cache_or_labreport(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "labreport.toml").write_text("")
    home = tmp_path / "home"
    home.mkdir()
    experiment(root, "victim", 1, "print('the victim ran')\n")
    experiment(root, "attack", 2, ATTACK, f"    args: ['{root}']\n")
    env = {**os.environ, "HOME": str(home)}
    first = labreport(root, "build", "victim", "--format", "html", env=env)
    assert first.returncode == 0, first.stderr
    victim_record = (root / "build" / "victim.html").read_bytes()

    result = labreport(root, "build", "attack", "--format", "html", env=env)

    assert result.returncode == 0, result.stderr
    outcomes = recorded(root, "attack")["outcomes"]
    refused = ["program", "record", "cache", "new file", "home", "terminal", "cwd"]
    if LANDLOCK >= 6:  # signal scoping came with ABI 6
        refused.append("signal")
    assert outcomes == {
        **dict.fromkeys(refused, "refused"),
        **{"own folder": "done", "temp": "done"},
        **({} if LANDLOCK >= 6 else {"signal": "done"}),
    }
    assert (root / "experiments" / "victim" / "prog.py").read_text() == "print('the victim ran')\n"
    assert (root / "build" / "victim.html").read_bytes() == victim_record
    assert not (root / ".labreport" / "cache" / "forged.json").exists()
    assert not (root / "experiments" / "dropped.py").exists()
    assert not (home / "dropped").exists()
    assert "INJECTED" not in result.stderr + result.stdout
    assert "not confined" not in result.stderr


# ------------------------------------------------------------------------------ /dev/shm

SHM = """\
import pathlib, uuid
from labreport.record import record

path = pathlib.Path("/dev/shm", f"labreport-test-{uuid.uuid4().hex}")
written = 0
record("path", str(path))
try:
    with path.open("wb") as shm:
        for _ in range(25):  # 200 MiB, far over the 64 MiB limit
            shm.write(b"x" * (8 << 20))
            shm.flush()
            written += 8 << 20
except OSError as exc:
    record("error", exc.strerror)
record("written", written)
"""


def test_dev_shm_is_private_to_the_run_and_no_larger_than_its_memory_limit(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "labreport.toml").write_text("")
    experiment(root, "shm", 1, SHM, "    memory_limit: 64 MiB\n    allow_errors: true\n")
    before = set(os.listdir("/dev/shm"))

    result = labreport(root, "build", "shm", "--format", "html")

    assert result.returncode == 0, result.stderr
    values = recorded(root, "shm")
    assert values.get("error") == "No space left on device", values
    assert int(str(values["written"])) <= 64 << 20
    assert set(os.listdir("/dev/shm")) <= before  # nothing stays on the machine


# ------------------------------------------------------------------------------ daemons

DAEMON = """\
import os, sys
read, write = os.pipe()
if os.fork() == 0:  # the classic double fork, a new session, and no environment at all
    os.setsid()
    daemon = os.fork()
    if daemon == 0:
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)"], {})
    os.write(write, str(daemon).encode())
    os._exit(0)
os.close(write)
print("daemon", os.read(read, 100).decode())
"""


def test_a_daemon_in_a_new_session_with_no_environment_is_killed_with_its_run(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "labreport.toml").write_text("")
    experiment(root, "daemon", 1, DAEMON)

    result = labreport(root, "build", "daemon", "--format", "html")

    assert result.returncode == 0, result.stderr
    text = (root / "build" / "daemon.html").read_text()
    pid = int(re.search(r"daemon (\d+)", text).group(1))  # type: ignore[union-attr]
    assert wait_gone([pid]) == []


# ------------------------------------------------------------------------------ environment

ENVIRONMENT = """\
import os
from labreport.record import record
for name in ("GITHUB_TOKEN", "DATA_DIR", "COURSE_DATA", "LC_ALL", "PATH"):
    record(name, os.environ.get(name))
"""


def test_only_allow_listed_and_named_variables_reach_the_program(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "labreport.toml").write_text('[run]\npass_env = ["COURSE_DATA"]\n')
    experiment(root, "env", 1, ENVIRONMENT, "    pass_env: [DATA_DIR]\n")
    env = {
        **os.environ, "GITHUB_TOKEN": "ghp_secret", "DATA_DIR": "/data/mnist",
        "COURSE_DATA": "/data/course", "LC_ALL": "C.UTF-8",
    }  # fmt: skip

    result = labreport(root, "build", "env", "--format", "html", env=env)

    assert result.returncode == 0, result.stderr
    values = recorded(root, "env")
    assert values["GITHUB_TOKEN"] is None
    assert values["DATA_DIR"] == "/data/mnist"
    assert values["COURSE_DATA"] == "/data/course"
    assert values["LC_ALL"] == "C.UTF-8"
    assert values["PATH"] == os.environ["PATH"]
    assert "ghp_secret" not in (root / "build" / "env.html").read_text()


def test_a_variable_passed_by_name_keys_the_run_cache(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "labreport.toml").write_text("")
    experiment(root, "env", 1, ENVIRONMENT, "    pass_env: [DATA_DIR]\n")
    for data_dir in ("/data/one", "/data/two"):
        env = {**os.environ, "DATA_DIR": data_dir}
        result = labreport(root, "build", "env", "--format", "html", env=env)
        assert result.returncode == 0, result.stderr
        assert recorded(root, "env")["DATA_DIR"] == data_dir


def test_a_bad_pass_env_in_labreport_toml_is_one_line_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "labreport.toml").write_text("[run]\npass_env = 'DATA_DIR'\n")
    experiment(tmp_path, "env", 1, ENVIRONMENT)
    result = labreport(tmp_path, "build", "env")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "run.pass_env: expected a list of variable names" in result.stderr


# ------------------------------------------------------------------------------ shadowing

SHADOW = """\
import pathlib
pathlib.Path({marker!r}).write_text(__name__ + " was imported from the project")
raise SystemExit("shadowed")
"""


def test_a_local_random_or_json_module_does_not_shadow_the_standard_library(
    tmp_path: Path,
) -> None:
    """labreport is started from the project folder; the warm interpreter, the harness and the
    PDF worker must each import the standard library's json and random, not these."""
    (tmp_path / "labreport.toml").write_text("")
    marker = tmp_path / "SHADOWED"
    for name in ("json", "random"):
        (tmp_path / f"{name}.py").write_text(SHADOW.format(marker=str(marker)))
    experiment(tmp_path, "plain", 1, "import json, random\nprint(json.dumps(random.random()))\n")

    result = labreport(tmp_path, "build", "plain", "--format", "all")

    assert result.returncode == 0, result.stderr
    assert not marker.exists(), marker.read_text()
    assert (tmp_path / "build" / "plain.pdf").read_bytes().startswith(b"%PDF")


def test_where_dev_shm_is_shared_what_a_run_writes_there_counts_as_its_memory(
    tmp_path: Path,
) -> None:
    """Where no private /dev/shm can be had (a container without user namespaces, Ubuntu's
    AppArmor rules), the memory watch counts the run's new files there."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    shm = Path("/dev/shm", f"labreport-test-{tmp_path.name}-{os.getpid()}")
    try:
        watch = process.MemoryWatch(sleeper.pid, 64 << 20, shared_shm=True)
        shm.write_bytes(b"x" * (80 << 20))
        time.sleep(process.TREE_SCAN_INTERVAL + 0.1)
        used = watch.over_limit()
        assert used is not None and used >= 80 << 20
        assert process.MemoryWatch(sleeper.pid, 64 << 20).over_limit() is None  # a private one
    finally:
        shm.unlink(missing_ok=True)
        sleeper.kill()
        sleeper.wait()


def test_where_nothing_confines_programs_each_build_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel without Landlock (as this one is made to look): the build goes on, with one
    warning line for the whole build, not one per experiment."""
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labreport.toml").write_text("")
    for number, name in enumerate(("one", "two"), start=1):
        experiment(tmp_path, name, number, "print('hi')\n")
    result = CliRunner().invoke(cli, ["build", "--all", "--format", "html"])
    assert result.exit_code == 0, result.output
    warning = (
        "warning: programs are not confined to their folders: this system has no Landlock "
        "(Linux 5.13 or later), so a program can write wherever you can"
    )
    assert result.output.count(warning) == 1, result.output
