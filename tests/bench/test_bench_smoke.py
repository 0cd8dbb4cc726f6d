"""`make bench` still runs: every benchmark at tiny sizes (`python -m bench --smoke`), each producing a
well-formed result. Figures are not judged here (timings belong in the benchmarks), only their shape and
the facts that do not depend on the machine: every due job polled exactly once, items within one write unit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["item_size", "cold_start", "notify_sim", "sweep", "scale_out", "lease_recovery", "cost", "push_delay"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in NAMES:
        assert f"## {name}" in done.stdout, f"{name} printed no table"
    return {name: json.loads((out / f"{name}.json").read_text()) for name in NAMES}


def test_every_result_states_the_machine_and_how_to_reproduce(results):
    for name, result in results.items():
        assert result["benchmark"] == name
        assert result["machine"]["nproc"] >= 1 and result["machine"]["cpu_model"] and result["machine"]["python"]
        assert result["reproduce"].startswith(f"python -m bench.{name}")


def test_typical_items_of_both_seed_styles_fit_one_write_unit(results):
    items = results["item_size"]["items"]
    assert {item["job"].split(" / ")[0] for item in items} == {"HingNet", "SkyEngine"}
    for item in items:
        assert item["bytes"] > 0
        if "prompt" not in item["job"]:
            assert item["table_wru"] == 1, item


def test_cold_start_measures_every_function(results):
    functions = {f["function"]: f for f in results["cold_start"]["functions"]}
    assert set(functions) == {"PollerFunction", "PollerWorkerFunction", "ApiFunction"}
    assert all(f["init_ms"] > 0 and f["ready_ms"] >= f["init_ms"] for f in functions.values())


def test_notify_sim_compares_the_caller_loop_with_videohook(results):
    rows = results["notify_sim"]["rows"]
    assert results["notify_sim"]["simulation"] is True
    policies = {row["policy"] for row in rows}
    assert "caller 10 s loop" in policies and any(p.startswith("videohook") for p in policies)
    assert all(row["requests_per_job"] >= 1 and row["p95_delay_s"] >= row["p50_delay_s"] for row in rows)


def test_sweep_polls_every_due_job_once_and_counts_its_calls(results):
    sweep = results["sweep"]
    assert {s["store"] for s in sweep["sweeps"]} == {"moto", "stand-in"}
    for run in sweep["sweeps"]:
        assert run["polled"] == run["jobs"] == run["upstream_requests"]
        assert run["max_requests_per_job"] == 1
        assert run["dynamodb_calls_per_job"] >= 1 and run["peak_rss_mb"] > 0
        assert run["report"]["errors"] == 0 and run["report"]["conflicts"] == 0
    assert {b["store"] for b in sweep["baselines"]} == {"moto", "stand-in"}
    assert all(b["dynamodb_calls_per_job"] == 2 for b in sweep["baselines"])  # one get_item, one put_item
    assert sweep["http_clients"] and sweep["upstreams"]
    # HTTP/1.1 against HTTP/2 over TLS: each row's answers came over the protocol it is labelled with
    assert sweep["http2"] and all(row["requests"] > 0 for row in sweep["http2"])
    for row in sweep["http2"]:
        wanted = "HTTP/2" if ", HTTP/2" in row["transport"] else "HTTP/1.1"
        assert row["protocols_seen"] == {wanted: row["requests"]}, row
    # the store's part of a sweep alone: its due query, one write per job, a fifth of them recorded and cleared
    store = sweep["store_path_moto"]
    assert store["jobs"] > 0 and store["ceiling_jobs_per_s"] > 0
    assert store["saved"] == store["jobs"] and store["cleared"] == -(-store["jobs"] // 5)
    assert sweep["store_work_ratio_to_ceiling"] > 0 and sweep["ratio_to_store_work"] > 0
    # the due query's time is part of it: never above the write rate (<=: both are rounded, and on a slow
    # machine the query's share can round away)
    assert store["ceiling_jobs_per_s"] <= store["saves_per_s"]


def test_scale_out_workers_together_poll_every_job_exactly_once(results):
    for cycle in results["scale_out"]["cycles"]:
        assert cycle["worker_runs"] == cycle["workers"]
        assert cycle["all_polled"] and cycle["max_requests_per_job"] == 1 and cycle["errors"] == 0
        assert cycle["runs_failed"] == 0 and cycle["run_failures"] == []


def test_cost_model_prices_both_volumes_for_videohook_and_step_functions(results):
    monthly = results["cost"]["monthly_usd"]
    assert any(label.startswith("Step Functions") for label in monthly)
    for by_volume in monthly.values():
        assert set(by_volume) == {"100000", "1000000"}
        assert all(lines["total"] > 0 for lines in by_volume.values())


def test_a_killed_runs_jobs_are_all_announced_after_its_lease(results):
    lease = results["lease_recovery"]
    assert lease["announced"] == lease["jobs"] == 3
    # the runs after the kill first found the dead run's shards leased or polled them, never both at once:
    # once a run polled, no later run found them leased (the dead run renews nothing)
    first_polling = next(i for i, run in enumerate(lease["runs"]) if run["polled"])
    assert all(run["shards_busy"] == 0 for run in lease["runs"][first_polling:])
