"""Logger and metrics, made once (Powertools; service and namespace come from POWERTOOLS_* variables).

POWERTOOLS_METRICS_DISABLED=true (the local stack sets it) silences every metric. Powertools itself honours
the flag only when the handler's `log_metrics` flushes, and then keeps what was added: its `add_metric` still
prints the whole EMF set once a metric holds 100 values, and `single_metric` prints on exit whatever the flag
says. A process running many invocations (`videohook local up` calls the poller's handler in a loop) printed
a ~5 KB blob every 100 runs. Here, disabled means nothing is added, nothing kept, nothing printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

if TYPE_CHECKING:
    from videohook.adapters.job_store import DynamoJobStore
    from videohook.services.fan_out import DispatchReport
    from videohook.services.poller import RunReport


class _EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' CloudWatch EMF provider, silent (and empty) while metrics are disabled."""

    def add_metric(
        self, name: str, unit: MetricUnit | str, value: float, resolution: MetricResolution | int = 60
    ) -> None:
        if not is_metrics_disabled():  # else Powertools prints the set itself at 100 values of a metric
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if is_metrics_disabled():
            self.clear_metrics()  # Powertools' disabled flush keeps the set (and warns when it is empty)
            return
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


@contextmanager
def _single_metric(name: str, value: float) -> Iterator[Any]:
    """Powertools' `single_metric` (a count with dimensions of its own), or a sink while metrics are disabled."""
    if is_metrics_disabled():
        yield _NoMetric()
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
        yield metric


class _NoMetric:
    def add_dimension(self, name: str, value: str) -> None:
        return


logger = Logger()
metrics = Metrics(provider=_EmfProvider())

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
        with _single_metric("UpstreamFaults", count) as metric:
            metric.add_dimension(name="provider", value=provider)
            metric.add_dimension(name="kind", value=kind)
    for provider, count in report.seen_by_poll.items():
        with _single_metric("TransitionsSeen", count) as metric:
            metric.add_dimension(name="provider", value=provider)
            metric.add_dimension(name="via", value="poll")
    for provider, count in report.throttled.items():
        with _single_metric("ThrottledPolls", count) as metric:
            metric.add_dimension(name="provider", value=provider)
    for raw_status, count in report.unknown_statuses.items():
        with _single_metric("UnknownStatuses", count) as metric:
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


# -- inbound callbacks ----------------------------------------------------------------------------------------
def record_inbound(provider: str, outcome: str) -> None:
    """EMF count of callbacks by provider and outcome (received, verified, refused) and of the transitions
    they were the first to record (`TransitionsSeen` with `via` push; the poller's runs count `via` poll)."""
    if outcome == "transition":
        with _single_metric("TransitionsSeen", 1) as metric:
            metric.add_dimension(name="provider", value=provider)
            metric.add_dimension(name="via", value="push")
        return
    with _single_metric("InboundCallbacks", 1) as metric:
        metric.add_dimension(name="provider", value=provider)
        metric.add_dimension(name="outcome", value=outcome)


# -- webhooks -----------------------------------------------------------------------------------------------
def record_webhook(outcome: str) -> None:
    """EMF count of one webhook message by outcome (delivered, retrying, dead_lettered, gone, refused...)."""
    if outcome != "skipped":  # most events have no callback_url: not worth a metric
        metrics.add_metric(
            name="Webhooks" + "".join(part.title() for part in outcome.split("_")), unit=MetricUnit.Count, value=1
        )
