"""Logger and metrics, made once (Powertools; service and namespace come from POWERTOOLS_* variables)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from videohook.adapters.job_store import DynamoJobStore
    from videohook.services.fan_out import DispatchReport
    from videohook.services.poller import RunReport

logger = Logger()
metrics = Metrics()

_RUN_COUNTS = (
    "due",
    "polled",
    "changed",
    "completed",
    "failed",
    "published",
    "publish_failed",
    "conflicts",
    "skipped",
    "errors",
)
_NAMES = {name: "".join(part.title() for part in name.split("_")) for name in _RUN_COUNTS}


def record_run(report: RunReport) -> None:
    """EMF metrics of one poller run: totals, plus upstream faults and unknown statuses by provider and kind."""
    for name in _RUN_COUNTS:
        metrics.add_metric(name=_NAMES[name], unit=MetricUnit.Count, value=getattr(report, name))
    for label, count in report.faults.items():
        provider, kind = label.split(":", 1)
        with single_metric(name="UpstreamFaults", unit=MetricUnit.Count, value=count) as metric:
            metric.add_dimension(name="provider", value=provider)
            metric.add_dimension(name="kind", value=kind)
    for raw_status, count in report.unknown_statuses.items():
        with single_metric(name="UnknownStatuses", unit=MetricUnit.Count, value=count) as metric:
            metric.add_dimension(name="raw_status", value=raw_status[:64] or "empty")
    logger.info("poller run finished", extra={"report": report.as_dict()})


def record_dispatch(report: DispatchReport) -> None:
    """EMF metrics of one fanned-out scheduled run: workers started, and those that could not be."""
    metrics.add_metric(name="WorkersStarted", unit=MetricUnit.Count, value=report.launched)
    metrics.add_metric(name="WorkersNotStarted", unit=MetricUnit.Count, value=report.failed)
    logger.info("poller workers started", extra={"report": report.as_dict()})


def record_backlog(store: DynamoJobStore) -> None:
    """`PendingJobs` (jobs still polled or with an event to publish) and `OldestPendingAgeSeconds` (since the
    oldest of them was tracked; 0 when none), for the dashboard and the OldestPendingJobAlarm. Emitted at
    every run, so missing data means the poller is not running. Never fails the run."""
    try:
        pending, oldest_tracked_at = store.backlog()
    except Exception:
        logger.exception("cannot measure the backlog")
        return
    age = max(0, int(time.time()) - oldest_tracked_at) if oldest_tracked_at is not None else 0
    metrics.add_metric(name="PendingJobs", unit=MetricUnit.Count, value=pending)
    metrics.add_metric(name="OldestPendingAgeSeconds", unit=MetricUnit.Seconds, value=age)


# -- webhooks -----------------------------------------------------------------------------------------------
def record_webhook(outcome: str) -> None:
    """EMF count of one webhook message by outcome (delivered, retrying, dead_lettered, gone, refused...)."""
    if outcome != "skipped":  # most events have no callback_url: not worth a metric
        metrics.add_metric(
            name="Webhooks" + "".join(part.title() for part in outcome.split("_")), unit=MetricUnit.Count, value=1
        )
