"""The CLI tests' local stack: `videohook local up` in its own process, as a user runs it, found through its state
file, driven by the console script (.venv/bin/videohook, what `make setup` installs) in a process per command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.processes import interrupt

# The console script `make setup` installs next to the interpreter running the tests (.venv/bin/videohook).
VIDEOHOOK = Path(sys.executable).with_name("videohook")
START_TIMEOUT_S = 60
COMMAND_TIMEOUT_S = 60


def interruptible() -> None:
    """In the child, before exec: Ctrl-C (SIGINT) back to its default, so the program sees KeyboardInterrupt even
    when this test runs where SIGINT is ignored (a shell's background job ignores it, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli_env(state_file: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no AWS settings, no PYTHONPATH (the console script finds its packages itself)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(
        {
            "VIDEOHOOK_STATE_FILE": str(state_file),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Cli:
    env: dict[str, str]
    cwd: Path

    def argv(self, *args: str) -> list[str]:
        assert VIDEOHOOK.is_file(), f"{VIDEOHOOK}: `make setup` installs the videohook command there"
        return [str(VIDEOHOOK), *args]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=timeout, check=False
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def start(self, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
        """A long-running command; its output to pipes, or both streams to `log` (never a full pipe)."""
        out: Any = subprocess.PIPE if log is None else log.open("w")
        try:
            return subprocess.Popen(
                self.argv(*args),
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.PIPE if log is None else subprocess.STDOUT,
                text=True,
                preexec_fn=interruptible,  # noqa: PLW1509 (a single signal call, before exec)
            )
        finally:
            if log is not None:
                out.close()  # the child has its own copy of the descriptor


@dataclass
class LocalStack:
    cli: Cli
    process: subprocess.Popen[str]
    state_file: Path
    log: Path

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return self.cli.run(*args, timeout=timeout)

    def json(self, *args: str) -> Any:
        return self.cli.json(*args)


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """`videohook local up` for the module's tests, stopped by `local down` after them (exit 0, state file gone).

    Once per module: the session would keep it running (and polling) through every module run in between, and
    past its --max-seconds, when a random order puts the CLI modules far apart (pytest's package scope is the
    session's for a directory that is not a package)."""
    home = tmp_path_factory.mktemp("cli")
    state_file = home / "local-stack.json"
    # Run from an unrelated directory: `local up` must find the checkout by itself.
    cli = Cli(cli_env(state_file), cwd=home)
    log = home / "local-up.log"
    # --max-seconds: only a safety net (the fixture stops the stack with `local down`), generous for a loaded machine
    process = cli.start("local", "up", "--sim-seconds", "3", "--poll-every", "0.5", "--max-seconds", "900", log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"local up did not start (exit {process.poll()}): {log.read_text()}")
            time.sleep(0.1)
        yield LocalStack(cli, process, state_file, log)
        # Then `local down` stops it cleanly: exit 0, state file removed
        down = cli.run("local", "down")
        assert down.returncode == 0, down.stderr
        assert process.wait(timeout=30) == 0, log.read_text()
        assert not state_file.exists()
    finally:
        interrupt(process)
