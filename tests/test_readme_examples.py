"""Every Python and shell example in README.md runs as written, so the README cannot drift.

The fenced blocks are read from the README as it is when the tests run: ```python blocks run
in one interpreter, in the order they appear (a later block goes on with the names of an
earlier one, as a reader does), and are type-checked with mypy --strict; ```sh, ```bash and
```console blocks (for console, the ``$ `` lines) run with bash against a real server on a free
port of 127.0.0.1, with ``127.0.0.1:8080`` and ``localhost:8080`` rewritten to its address and
nothing else changed. They run in a folder holding what a reader has at hand: ``pyqueue.toml``
(the server's configuration, with a room ``kiel``), ``slots.csv`` and ``./pyqueue-data``
(the saved state of a stopped server), and ``PYQUEUE_ADMIN_TOKEN`` and
``PYQUEUE_SERVICE_TOKEN`` in the environment.

A block that cannot run here is preceded, on the line before its fence, by
``<!-- not run: the reason -->``; keep those few (a build of everything, a server that runs
until stopped, a benchmark). A failure names the block's line and heading.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.server import ROOT, ServerProcess

README = ROOT / "README.md"
RUN_LANGUAGES = {"python", "sh", "bash", "console"}
SHELL_LANGUAGES = RUN_LANGUAGES - {"python"}
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")
BLOCK_TIMEOUT = 300
ADMIN_TOKEN = "an-admin-token-of-the-readme-examples"
SERVICE_TOKEN = "a-service-token-of-the-readme-examples"

CONFIG = f"""
[server]
admin_token = "{ADMIN_TOKEN}"
service_token = "{SERVICE_TOKEN}"
secrets = {{ k1 = "a-secret-of-the-readme-examples-0123" }}

[[rooms]]
id = "kiel"
opens_at = 2021-05-10T07:00:00+02:00
admit_per_minute = 600
timezone = "Europe/Berlin"
release_windows = ["Mon-Fri 07:00", "Mon-Fri 17:00"]
slots_file = "slots.csv"
"""

SLOTS_CSV = """id,group,starts_at
Kiel 2021-05-12/014,Kiel 2021-05-12,2021-05-12T08:00:00+02:00
Kiel 2021-05-12/015,Kiel 2021-05-12,2021-05-12T08:15:00+02:00
"""


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, the line of its opening fence, the heading above it."""

    language: str
    line: int
    heading: str
    text: str
    not_run: str | None

    def where(self) -> str:
        return f"README.md line {self.line} (```{self.language} under {self.heading!r})"


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    heading = "(top)"
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        if fence is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            index += 1
            continue
        indent = len(fence["indent"])
        start = index
        body = []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.match(previous)
        if marker is not None and not marker["reason"]:
            raise AssertionError(f"README.md line {start}: a not-run marker must say why")
        language = fence["info"].strip().split(" ")[0].lower()
        blocks.append(
            Block(
                language,
                start + 1,
                heading,
                "\n".join(body) + "\n",
                marker["reason"] if marker else None,
            )
        )
        index += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
PYTHON = [b for b in BLOCKS if b.language == "python" and b.not_run is None]
SHELL = [b for b in BLOCKS if b.language in SHELL_LANGUAGES and b.not_run is None]


def test_the_readme_has_examples_that_run_and_says_why_for_the_others():
    assert PYTHON and SHELL
    not_run = [b for b in BLOCKS if b.language in RUN_LANGUAGES and b.not_run is not None]
    # Only the few that cannot run here; each says why (readme_blocks refuses an empty reason).
    assert len(not_run) <= 8, [b.where() for b in not_run]


def block_at(line: int) -> Block:
    """The block holding README line ``line``."""
    return max((b for b in PYTHON if b.line <= line), key=lambda b: b.line)


def python_module() -> str:
    """The Python blocks at their own line numbers (everything else blank), so that a
    traceback's or mypy's line number is the README's."""
    total = len(README.read_text(encoding="utf-8").splitlines())
    lines = [""] * total
    for block in PYTHON:
        for offset, code in enumerate(block.text.splitlines()):
            lines[block.line + offset] = code
    return "\n".join(lines) + "\n"


def failure(stderr: str, pattern: str) -> str:
    lines = [int(n) for n in re.findall(pattern, stderr)]
    where = block_at(lines[-1]).where() if lines else "README.md"
    return f"{where}:\n{stderr}"


def test_the_python_examples_run(tmp_path):
    script = tmp_path / "readme_examples.py"
    script.write_text(python_module())
    ran = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    assert ran.returncode == 0, failure(ran.stderr, r'readme_examples\.py", line (\d+)')


def test_the_python_examples_type_check(tmp_path):
    script = tmp_path / "readme_examples.py"
    script.write_text(python_module())
    checked = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--no-error-summary"),
            *("--config-file", os.devnull, "--cache-dir", str(tmp_path / "mypy-cache")),
            str(script),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    assert checked.returncode == 0, failure(checked.stdout, r"readme_examples\.py:(\d+):")


def shell_text(block: Block, port: int) -> str:
    text = block.text
    if block.language == "console":
        # Only the commands, with the lines a trailing backslash continues.
        commands, going_on = [], False
        for line in text.splitlines():
            if line.startswith("$ ") or going_on:
                commands.append(line.removeprefix("$ "))
                going_on = line.endswith("\\")
        text = "\n".join(commands) + "\n"
    return re.sub(r"\b(127\.0\.0\.1|localhost):8080\b", f"127.0.0.1:{port}", text)


@pytest.fixture(scope="module")
def examples_folder(tmp_path_factory):
    """A folder with what a reader has at hand, and the server the examples talk to."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "pyqueue.toml").write_text(CONFIG)
    (folder / "slots.csv").write_text(SLOTS_CSV)
    # A reader runs the examples in a clone: the files the repository ships are at hand.
    (folder / "deploy").symlink_to(ROOT / "deploy")
    # ./pyqueue-data: the saved state of a server that ran with pyqueue.toml and stopped.
    with ServerProcess(["--config", "pyqueue.toml"], cwd=folder):
        pass
    # The running server keeps its state elsewhere: `journal repair` needs a stopped one.
    running = CONFIG.replace("[server]\n", '[server]\ndata_dir = ""\n')
    (folder / "running.toml").write_text(running)
    with ServerProcess(["--config", "running.toml"], cwd=folder) as server:
        yield folder, server
    errors = [e for e in server.logs if e.get("level") in ("error", "critical")]
    assert not errors, errors


@pytest.mark.parametrize("block", SHELL, ids=lambda b: f"line{b.line}")
def test_a_shell_example_runs(block, examples_folder):
    folder, server = examples_folder
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "PYQUEUE_ADMIN_TOKEN": ADMIN_TOKEN,
        "PYQUEUE_SERVICE_TOKEN": SERVICE_TOKEN,
    }
    ran = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", shell_text(block, server.port)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    assert ran.returncode == 0, (
        f"{block.where()} exited with {ran.returncode}:\n{textwrap.indent(block.text, '  ')}"
        f"\nstdout:\n{ran.stdout}\nstderr:\n{ran.stderr}"
    )
