"""ArchiveFunction: copies completed videos into the ArchiveBucket, then announces their events (SQS batch,
one video per record; a record that fails transiently is reported and redelivered by SQS)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from videohook.observability import logger
from videohook.runtime import archiver

# A failed record is reported (ReportBatchItemFailures) and redelivered by SQS, even when it is the only one.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    archiver().handle(json.loads(record.body), attempt=int(record.attributes.approximate_receive_count))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
