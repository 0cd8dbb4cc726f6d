"""PollerFunction: one scheduled run. Any event starts a run (EventBridge Schedule, Scheduler's string
`detail`, or a manual invoke); its content is not needed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from videohook.observability import logger, metrics, record_backlog, record_run
from videohook.runtime import job_store, poller


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    report = poller().run(context.get_remaining_time_in_millis)
    record_run(report)
    record_backlog(job_store())  # operations: PendingJobs, OldestPendingAgeSeconds
    report.raise_for_failure()  # a provider token could not be read: the invocation fails, naming the secret
    return report.as_dict()
