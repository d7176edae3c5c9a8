"""Bus → event store: every event an EventBridge rule routes here (through SQS) is stored once by id."""

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from jobs_core.event_store import EventStore
from jobs_core.models.event import Event
from jobs_core.observability import logger, metrics, tracer
from jobs_core.settings import events_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def store() -> EventStore:
    settings = events_settings()
    return EventStore(settings.events_table_name, settings.event_retention_days)


processor = BatchProcessor(event_type=EventType.SQS)


def keep(record: 'SQSRecord') -> None:
    # The message is the EventBridge event; our envelope is its detail. A malformed one raises,
    # is retried, and after maxReceiveCount lands in the queue's dead-letter queue.
    event = Event.model_validate(json.loads(record.body)['detail'])
    if not store().put(event):
        logger.debug('Duplicate event ignored', event_id=event.id)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: 'LambdaContext') -> 'PartialItemFailureResponse':
    return process_partial_response(event=event, record_handler=keep, processor=processor, context=context)
