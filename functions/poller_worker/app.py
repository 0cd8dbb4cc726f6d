"""PollerWorkerFunction: a run over the shards the scheduled PollerFunction handed it, `{"shards": [...]}`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from videohook.config import JOBS, load_settings
from videohook.observability import logger, metrics, record_run
from videohook.runtime import poller
from videohook.services.fan_out import shards_of


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    shards = shards_of(event, load_settings(JOBS).due_shards)
    report = poller().run(context.get_remaining_time_in_millis, shards=shards)
    record_run(report)
    return {**report.as_dict(), "shards": shards}
