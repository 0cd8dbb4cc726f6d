"""Ending a child process the way a terminal does: Ctrl-C (SIGINT) first, a kill only if it does not exit
within `grace_s`. For tests and tools that start `videohook local up` and similar long-running commands."""

from __future__ import annotations

import signal
import subprocess


def interrupt(process: subprocess.Popen[str], *, grace_s: float = 30.0) -> None:
    """Stop `process` if it still runs (SIGINT, then SIGKILL after `grace_s`), and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
