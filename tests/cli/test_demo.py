"""`make demo` as a newcomer runs it (`python -m devtools.demo`, what the target runs once .venv exists): it ends
with what to try next, and a Ctrl-C at any point is one line and exit 130, never a traceback."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT_S = 300  # only ends a hung demo: its own limit is 90 s of polling


def demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    return {**env, "PYTHONUNBUFFERED": "1"}


def interruptible() -> None:
    """In the child, before exec: Ctrl-C (SIGINT) back to its default (a background job's children ignore it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_demo_ends_with_what_to_try_next():
    result = subprocess.run(
        [sys.executable, "-m", "devtools.demo"],
        cwd=ROOT,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.startswith("videohook demo: ")
    summary, _, next_steps = result.stdout.rpartition("\nnext:\n")
    assert summary.rstrip().endswith("2 signed webhooks verified.")
    assert "make local" in next_steps and ".venv/bin/videohook track hingnet video_1" in next_steps
    assert ".venv/bin/videohook --help" in next_steps


def test_ctrl_c_stops_the_demo_with_one_line_and_130():
    # Started in a session of its own so that SIGINT goes to its whole process group, as a terminal's Ctrl-C does
    # (the function invocations it runs get it too).
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.demo"],
        cwd=ROOT,
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=interruptible,  # noqa: PLW1509 (a single signal call, before exec)
    )
    try:
        assert process.stdout is not None
        seen = []
        deadline = time.monotonic() + DEMO_TIMEOUT_S
        while time.monotonic() < deadline:  # until the demo polls: it is in the middle of its work
            line = process.stdout.readline()
            seen.append(line)
            if not line or "poller run 1:" in line:
                break
        assert "poller run 1:" in seen[-1], "".join(seen)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert process.returncode == 130, err
    assert err == "\ndemo interrupted\n"
    assert "Traceback" not in "".join(seen) + out
