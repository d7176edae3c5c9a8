"""Stream → EventBridge: turns each change of a job item into its lifecycle events and puts them on the bus.

PutEvents takes 10 entries from any records, so the whole batch is published first; the batch
processor then reports as failed exactly the records whose events did not all land (Lambda retries
from the first of them, bisecting, and sends a record that keeps failing to the on-failure queue).
"""

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pydantic import BaseModel, ConfigDict, Field

from jobs_core.lifecycle_events import events_of
from jobs_core.observability import logger, metrics, tracer
from jobs_core.publisher import EventBridgePublisher, EventPublisher

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from jobs_core.models.event import Event


class PublisherSettings(BaseModel):
    model_config = ConfigDict(extra='ignore')

    event_bus_name: str = Field(alias='EVENT_BUS_NAME', min_length=1)


class NotPublished(Exception):
    """Some of a record's events are not on the bus yet; Lambda redelivers the record."""


@cache
def publisher() -> EventPublisher:
    return EventBridgePublisher(PublisherSettings.model_validate(dict(os.environ)).event_bus_name)


processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def publish(records: list[dict[str, Any]], events_publisher: EventPublisher) -> set[str]:
    """Publish every record's events; return the sequence numbers of records not fully published."""
    events_by_record: dict[str, list[Event]] = {}
    unpublished: set[str] = set()
    for record in records:
        sequence = record['dynamodb']['SequenceNumber']
        try:
            events_by_record[sequence] = events_of(record)
        except Exception:  # a record we cannot read is reported, never dropped
            logger.exception('Unreadable stream record', sequence_number=sequence)
            unpublished.add(sequence)
    events = [event for batch in events_by_record.values() for event in batch]
    failed = events_publisher.publish(events)
    unpublished |= {sequence for sequence, batch in events_by_record.items() if any(e.id in failed for e in batch)}
    metrics.add_metric(name='EventsPublished', unit=MetricUnit.Count, value=len(events) - len(failed))
    if failed:
        metrics.add_metric(name='EventsNotPublished', unit=MetricUnit.Count, value=len(failed))
    return unpublished


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(
    event: dict[str, Any], context: 'LambdaContext', events_publisher: EventPublisher | None = None
) -> 'PartialItemFailureResponse':
    unpublished = publish(event['Records'], events_publisher or publisher())

    def confirm(record: 'DynamoDBRecord') -> None:
        if record.dynamodb and record.dynamodb.sequence_number in unpublished:
            raise NotPublished(record.dynamodb.sequence_number)

    return process_partial_response(event=event, record_handler=confirm, processor=processor, context=context)
