"""The whole suite's hooks: the reliability ledger (tests/integration/reliability/reliability_ledger.py) printed
at the end of the run and written as JSON (docs/reliability.md quotes it). `make test` runs the suite in
pytest-xdist workers: each worker hands its ledger to the controller, which adds them up and prints the sum."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "integration" / "reliability"))
from reliability_ledger import LEDGER

WIRE_KEY = "videohook_reliability_ledger"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller prints the sum
        workeroutput[WIRE_KEY] = LEDGER.to_wire()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    wire = getattr(node, "workeroutput", {}).get(WIRE_KEY)
    if wire is not None:
        LEDGER.absorb(wire)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not LEDGER.tests and not LEDGER.api_answers:
        return
    summary = LEDGER.summary()
    target = Path(
        os.environ.get("VIDEOHOOK_RELIABILITY_JSON") or Path(tempfile.gettempdir(), "videohook-reliability.json")
    )
    target.write_text(json.dumps(summary, indent=2) + "\n")
    terminalreporter.write_sep("-", "videohook reliability figures")
    terminalreporter.write_line(json.dumps(summary))
    terminalreporter.write_line(f"written to {target}")
