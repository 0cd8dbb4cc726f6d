"""The operations part of template.yaml: the dashboard's JSON parses (with and without archiving),
charts exactly the metrics the code emits under the dimension it emits them with, its widgets fit the grid,
and the alarms watch emitted metrics and notify the optional topic. (`sam validate --lint`, which covers
the dashboard and the alarms too, runs in test_template.py.)"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.local_invoke import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
NAMESPACE = "videohook"
STACK = "local"  # what AWS::StackName resolves to without a stack

EMIT = """
import time
from collections import Counter
from videohook.observability import metrics, record_backlog, record_run, record_webhook
from videohook.services.poller import RunReport
from videohook.domain.webhooks import Outcome

class Store:
    def backlog(self):
        return 3, int(time.time()) - 120

report = RunReport(faults=Counter({"hingnet:timeout": 1}), unknown_statuses=Counter({"baking": 1}))
record_run(report)
record_backlog(Store())
for outcome in Outcome:
    record_webhook(outcome.value)
metrics.flush_metrics()
"""


@pytest.fixture(scope="module")
def emitted() -> dict[str, set[tuple[str, ...]]]:
    """Metric name -> dimension sets, from the EMF lines the code prints for one run."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "layers" / "common"),
        "POWERTOOLS_SERVICE_NAME": STACK,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    }
    result = subprocess.run(
        [sys.executable, "-c", EMIT], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    found: dict[str, set[tuple[str, ...]]] = {}
    for line in result.stdout.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        blob = json.loads(line)
        assert blob["service"] == STACK
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], set()).update(tuple(sorted(d)) for d in directive["Dimensions"])
    return found


def dashboard(**parameters: str) -> dict:
    body = Resolver(TEMPLATE, parameters).resolve(RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"])
    return json.loads(body)


def charted(body: dict) -> dict[str, set[tuple[str, ...]]]:
    """videohook metric name -> dimension sets the dashboard asks for (plain metrics and SEARCH schemas)."""
    found: dict[str, set[tuple[str, ...]]] = {}
    for widget in body["widgets"]:
        for row in (widget.get("properties") or {}).get("metrics", []):
            if isinstance(row[0], dict):
                match = re.fullmatch(
                    r"SEARCH\('\{(\w+),([\w,]+)\} MetricName=\"(\w+)\" service=\"(\S+)\"', 'Sum', 60\)",
                    row[0]["expression"],
                )
                if match is None or match.group(1) != NAMESPACE:
                    continue
                assert match.group(4) == STACK
                found.setdefault(match.group(3), set()).add(tuple(sorted(match.group(2).split(","))))
            elif row[0] == NAMESPACE:
                name, dimensions = row[1], dict(zip(row[2:-1:2], row[3::2], strict=False))
                assert dimensions == {"service": STACK}, row
                found.setdefault(name, set()).add(("service",))
    return found


@pytest.mark.parametrize("parameters", [{}, {"ArchiveVideos": "true"}])
def test_dashboard_charts_exactly_what_the_code_emits(emitted, parameters):
    body = dashboard(**parameters)
    assert charted(body) == emitted
    assert {"PendingJobs", "OldestPendingAgeSeconds", "UpstreamFaults", "Polled", "WebhooksDeadLettered"} <= set(
        emitted
    )


def test_dead_letters_of_webhooks_always_and_of_the_archive_when_it_is_on():
    def queues(body):
        return [
            row[3]
            for widget in body["widgets"]
            for row in widget.get("properties", {}).get("metrics", [])
            if row[0] == "AWS/SQS"
        ]

    assert queues(dashboard()) == ["WebhookDeadLetterQueue.QueueName"]  # GetAtt, as resolved without a stack
    assert queues(dashboard(ArchiveVideos="true")) == [
        "WebhookDeadLetterQueue.QueueName",
        "ArchiveDeadLetterQueue.QueueName",
    ]
    assert RESOURCES["ArchiveDeadLetterAlarm"]["Condition"] == "ArchiveOn"


def test_widgets_fit_the_grid_without_overlapping():
    cells: set[tuple[int, int]] = set()
    for widget in dashboard()["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        area = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not area & cells, widget
        cells |= area


def test_metrics_carry_the_dimension_the_dashboard_filters_on():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"


def test_alarms_watch_emitted_metrics_and_notify_the_optional_topic(emitted):
    alarms = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {
        "PollerErrorsAlarm",
        "OldestPendingJobAlarm",
        "WebhookDeadLetterAlarm",
        "ArchiveDeadLetterAlarm",
    }
    for properties in alarms.values():
        for actions in ("AlarmActions", "OKActions"):
            assert properties[actions] == {
                "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
            }
        metrics = [properties] + [q["MetricStat"]["Metric"] for q in properties.get("Metrics", []) if "MetricStat" in q]
        for metric in metrics:
            if metric.get("Namespace") == NAMESPACE:
                assert metric["MetricName"] in emitted
                assert metric["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
    oldest = alarms["OldestPendingJobAlarm"]
    assert oldest["Threshold"] == {"Ref": "PendingAgeAlarmSeconds"}
    assert oldest["TreatMissingData"] == "breaching"  # a poller that stopped reporting is an alarm too
    poller_errors = alarms["PollerErrorsAlarm"]["Metrics"]
    lambda_errors = poller_errors[0]["MetricStat"]["Metric"]
    assert lambda_errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "PollerFunction"}}]
    assert TEMPLATE["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
