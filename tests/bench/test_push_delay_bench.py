"""The push-delay benchmark (bench/push_delay.py) at a tiny size: 12 of notify_sim's jobs, their hour compressed to
4 s, the simulated provider calling back through InboundFunction's handler on moto, next to notify_sim's poll model.

Only what does not depend on the machine is judged: every job's terminal callback sent once and answered 202,
one event per job, each published no earlier than its callback was sent, every completion seen by push, every
scheme's row on the same jobs, and the percentiles in order. No wall time is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JOBS = 12


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("push_delay")
    done = subprocess.run(
        [sys.executable, "-m", "bench.push_delay", "--jobs", str(JOBS), "--seconds", "4", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "## push_delay" in done.stdout
    return json.loads((out / "push_delay.json").read_text())


def test_every_job_is_pushed_once_and_announced_once(result):
    assert result["simulation"] is False and result["jobs"] == JOBS and result["seed"] == 7
    assert result["terminal_callbacks_sent"] == JOBS
    assert result["events"] == JOBS
    assert set(result["callbacks"]) == {"202"}  # every callback verified and recorded, none refused or lost
    assert result["callbacks"]["202"] >= JOBS  # the running callbacks of the APIs that send them, too
    assert result["published_after_sent"] == JOBS
    assert result["seen_completed"] == {"push": JOBS}


def test_one_row_per_scheme_on_the_same_jobs(result):
    rows = {row["providers"]: row for row in result["rows"]}
    assert list(rows) == ["all providers", "replicate", "openrouter", "fal", "kling"]
    assert {row["scheme"] for row in result["rows"][1:]} == {"standard-webhooks", "openrouter", "fal", "token"}
    assert sum(row["jobs"] for row in result["rows"][1:]) == rows["all providers"]["jobs"] == JOBS
    for row in result["rows"]:
        for side in ("push_measured", "push_answer_measured", "poll_simulated", "lost_callback_simulated"):
            assert row[side]["jobs"] == row["jobs"], (row["providers"], side)
            assert row[side]["max_delay_s"] >= row[side]["p95_delay_s"] >= row[side]["p50_delay_s"] >= 0


def test_a_lost_callback_waits_for_the_backstop_poll(result):
    """The model's fact, not a timing: without the callback, no job is heard before its backstop poll is due."""
    everyone = result["rows"][0]
    assert result["backstop_s"] == 300
    assert everyone["lost_callback_simulated"]["p50_delay_s"] > everyone["poll_simulated"]["p95_delay_s"]
