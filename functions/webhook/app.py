"""WebhookFunction: delivers each queued event to its job's callback URL (SQS event source, partial batch
failures: a message whose attempt failed stays in the queue, to come back after its retry delay)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from videohook.observability import logger, metrics, record_webhook
from videohook.runtime import webhook_delivery
from videohook.services.webhook_delivery import QueuedWebhook

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class AttemptFailed(Exception):
    """This message's attempt failed: it stays queued (retry later, or the dead-letter queue)."""


def record_handler(record: SQSRecord) -> str:
    outcome = webhook_delivery().deliver(QueuedWebhook.from_sqs_record(record.raw_event))
    record_webhook(outcome.value)
    if outcome.stays_queued:
        raise AttemptFailed(outcome.value)
    return outcome.value


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
