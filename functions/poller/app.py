"""PollerFunction: one scheduled run. Any event starts a run (EventBridge Schedule, Scheduler's string
`detail`, or a manual invoke); its content is not needed. With POLLER_WORKERS > 1 the run only hands the
due index's shards to that many PollerWorkerFunction invocations (fan_out.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from videohook.observability import logger, metrics, record_backlog, record_dispatch, record_run
from videohook.runtime import dispatcher, job_store, poller


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    fan_out = dispatcher()
    if fan_out is not None:
        dispatched = fan_out.dispatch()
        record_dispatch(dispatched)
        record_backlog(job_store())  # operations: PendingJobs, OldestPendingAgeSeconds
        return dispatched.as_dict()
    report = poller().run(context.get_remaining_time_in_millis)
    record_run(report)
    record_backlog(job_store())  # operations: PendingJobs, OldestPendingAgeSeconds
    report.raise_for_failure()  # a provider token could not be read: the invocation fails, naming the secret
    return report.as_dict()
