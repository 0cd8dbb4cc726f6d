"""The commands in README.md and docs/*.md work as written: every fenced shell block is marked either runnable
(and then run here, in a subprocess, against a local stack that `videohook local up` runs) or not-run with the
reason (it needs AWS, Docker, or is what runs these tests). The convention is in CONTRIBUTING.md.

A runnable block runs with `bash -e -o pipefail` as a user who ran `make setup` and `source .venv/bin/activate`
would run it: `videohook` on PATH, no AWS settings, the local stack found through its state file. It runs from
a scratch copy of the checkout (a directory of symlinks to the repository's top-level entries), so files a
block writes (an env.json, a log) do not land in the repository. It must exit 0 (or the `exit=N` it states)
and print every `expect="..."` text. Blocks run in the order they appear, each page against the same stack."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docs_markdown import ROOT, Block, documents, read_page

from devtools.processes import interrupt

BIN = Path(sys.executable).parent  # the virtualenv running the tests: .venv/bin after `make setup`
START_TIMEOUT_S = 90
BLOCK_TIMEOUT_S = 180
# How the stack is started: the README's own command, with a shorter simulated video so watch ends sooner
LOCAL_UP = ["videohook", "local", "up", "--sim-seconds", "6", "--poll-every", "0.5", "--max-seconds", "1800"]

ALL_BLOCKS = [block for path in documents() for block in read_page(path).blocks]
SHELL_BLOCKS = [block for block in ALL_BLOCKS if block.is_shell]
RUNNABLE = [block for block in SHELL_BLOCKS if block.marker == "runnable"]


def user_env(state_file: Path, home: Path) -> dict[str, str]:
    """A user's shell after `source .venv/bin/activate`: the venv's bin first on PATH, no AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOHOOK_")) and k != "PYTHONPATH"}
    env.update(
        {
            "PATH": os.pathsep.join([str(BIN), env.get("PATH", "")]),
            "VIRTUAL_ENV": str(BIN.parent),
            "VIDEOHOOK_STATE_FILE": str(state_file),
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": str(home),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def scratch_checkout(where: Path) -> Path:
    """A directory that looks like the checkout (symlinks to its top-level entries), to run blocks from."""
    where.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != ".git":
            (where / entry.name).symlink_to(entry)
    return where


def interruptible() -> None:
    """In the child, before exec: Ctrl-C back to its default (a background shell job ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("docs")
    state_file = home / "local-stack.json"
    env = user_env(state_file, home)
    log = home / "local-up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            LOCAL_UP,
            env=env,
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=interruptible,  # noqa: PLW1509 (a single signal call, before exec)
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"`videohook local up` did not start (exit {process.poll()}): {log.read_text()}")
            time.sleep(0.2)
        yield env, scratch_checkout(home / "checkout")
        down = subprocess.run(
            ["videohook", "local", "down"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert down.returncode == 0, down.stderr
        process.wait(timeout=30)
    finally:
        interrupt(process)


def run_block(block: Block, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The block as one bash script, in a session of its own: whatever it leaves running is stopped after. Its
    output goes to files, not pipes, so a background job still holding them cannot keep the test waiting."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", "-c", block.code],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        try:
            process.wait(timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # background jobs the block left (a receiver, a tail)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(process.args, process.returncode, out.read(), err.read())


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda block: block.name)
def test_a_runnable_block_runs_as_written(block, stack):
    # Given the local stack, a user's shell and a copy of the checkout
    env, cwd = stack
    # When the block runs
    result = run_block(block, env, cwd)
    assert result.returncode != -signal.SIGKILL, (
        f"{block.name} ran over {BLOCK_TIMEOUT_S} s\n{result.stdout}{result.stderr}"
    )
    # Then it exits as stated and prints what it says it prints
    output = result.stdout + result.stderr
    assert result.returncode == block.exit_status, f"{block.name}: exit {result.returncode}\n{block.code}\n{output}"
    for text in block.expect:
        assert text in output, f"{block.name}: no {text!r} in the output\n{block.code}\n{output}"


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda block: block.name)
def test_every_shell_block_says_whether_it_is_run(block):
    # A block without a marker is a command nothing checks: say runnable, or not-run and why
    assert block.marker is not None, (
        f"{block.name}: mark it <!-- runnable --> or <!-- not-run: why --> (CONTRIBUTING.md)"
    )
    if block.marker == "not-run":
        assert block.reason, f"{block.name}: a not-run block says why"


def test_the_readme_commands_are_run():
    # The README's first screen is what a newcomer types: its CLI block is run, and the stack it needs is the
    # one this module starts
    readme = [block for block in RUNNABLE if block.path.name == "README.md"]
    assert any("videohook track" in block.code for block in readme)
    assert any(" ".join(LOCAL_UP[:3]) in block.code for block in read_page(ROOT / "README.md").blocks)


def videohook_command_lines(block: Block) -> list[list[str]]:
    """The `videohook ...` commands of a block, as argument lists: split as the shell splits them (continuation
    lines joined, comments dropped, `&&`, `|`, `;`, `&` ending a command, redirections left out), placeholders
    (`<a real video id>`, `$(...)`) made plain words."""
    text = re.sub(r"\\\n", " ", block.code)
    text += "".join(f"\n{inner}" for inner in re.findall(r"\$\((videohook [^)]*)\)", text))  # $(videohook ...)
    commands = []
    for raw in text.splitlines():
        if "videohook" not in raw:
            continue
        line = re.sub(r"\"?\$\([^)]*\)\"?", "PLACEHOLDER", re.sub(r"<[^>]*>", "PLACEHOLDER", raw))
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        tokens = list(lexer)
        index = 0
        while index <= len(tokens):
            token = tokens[index] if index < len(tokens) else ";"
            if token in ("&&", "||", "|", ";", "&"):
                if words and words[0] == "videohook":
                    commands.append(words[1:])
                words = []
            elif token in (">", ">>", "<", "2>", "&>"):
                index += 1  # the redirection's target
            else:
                words.append(token)
            index += 1
    return commands


@pytest.mark.parametrize("block", [b for b in SHELL_BLOCKS if "videohook " in b.code], ids=lambda block: block.name)
def test_every_videohook_command_line_parses(block):
    # Not-run blocks included: a command or option the CLI does not have fails here, whatever the block needs
    from videohook_cli.main import build_parser

    for words in videohook_command_lines(block):
        try:
            build_parser().parse_args(words)
        except SystemExit as exit_:  # --help exits 0; argparse's own errors exit 2
            assert exit_.code == 0, f"{block.name}: `videohook {' '.join(words)}` does not parse"
        except Exception as exc:  # the CLI's one-line usage errors
            raise AssertionError(f"{block.name}: `videohook {' '.join(words)}`: {exc}") from None
