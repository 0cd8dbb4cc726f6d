"""`videohook local up` is quiet: its poller loop calls PollerFunction's handler hundreds of times in one process
with POWERTOOLS_METRICS_DISABLED=true, and Powertools on its own still printed an EMF blob (~5 KB) each time a
metric reached 100 values, and one per `single_metric`. videohook.observability silences both; with metrics on,
what the functions print is unchanged (CloudWatch reads it)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INVOCATIONS = 120  # past Powertools' 100 values of one metric

HANDLER_LOOP = """
import sys
from collections import Counter
from videohook.observability import metrics, record_backlog, record_run, record_webhook
from videohook.services.poller.report import RunReport

class Store:  # the backlog query's answer
    def backlog(self):
        return 3, 1

@metrics.log_metrics
def handler(event, context):
    report = RunReport(polled=1, faults=Counter({"hingnet:timeout": 1}), unknown_statuses=Counter({"weird": 1}))
    record_run(report)  # counts, and single metrics for faults and unknown statuses
    record_backlog(Store())
    record_webhook("delivered")
    return {}

for _ in range(int(sys.argv[1])):
    handler({}, None)
"""


def run_invocations(metrics_disabled: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "layers" / "common"),
        "POWERTOOLS_SERVICE_NAME": "local",
        "POWERTOOLS_METRICS_NAMESPACE": "videohook",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    if metrics_disabled is not None:
        env["POWERTOOLS_METRICS_DISABLED"] = metrics_disabled
    return subprocess.run(
        [sys.executable, "-c", HANDLER_LOOP, str(INVOCATIONS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_disabled_metrics_print_nothing_however_many_invocations():
    result = run_invocations("true")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""  # not even Powertools' "No application metrics to publish" warning


@pytest.mark.parametrize("flag", ["false", None])
def test_enabled_metrics_are_still_emitted_every_invocation(flag: str | None):
    result = run_invocations(flag)
    assert result.returncode == 0, result.stderr
    blobs = [line for line in result.stdout.splitlines() if '"_aws"' in line]
    # per invocation: the flushed set, one UpstreamFaults and one UnknownStatuses
    assert len(blobs) == 3 * INVOCATIONS
    assert sum('"WebhooksDelivered"' in blob for blob in blobs) == INVOCATIONS
