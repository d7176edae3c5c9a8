"""Puts lifecycle events on the EventBridge bus: the only module besides the stores that talks to AWS.

PutEvents takes 10 entries a call. Entries EventBridge refuses (FailedEntryCount) and whole calls
that fail after botocore's own retries are retried with exponential backoff and full jitter; what
still fails is returned, so the caller can report exactly those stream records as failed.
"""

import os
import random
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from jobs_core.dynamo import CLIENT_CONFIG
from jobs_core.models.event import Event
from jobs_core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SOURCE: Final = 'jobs'
ENTRIES_PER_CALL: Final = 10


class EventPublisher(Protocol):
    def publish(self, events: list[Event]) -> set[str]:
        """Put every event; return the ids of those that could not be put."""
        ...


@cache
def events_client() -> 'EventBridgeClient':
    import boto3  # noqa: PLC0415 - only the publisher pays for it

    return boto3.client('events', config=CLIENT_CONFIG)


def chunks(events: list[Event], size: int = ENTRIES_PER_CALL) -> Iterable[list[Event]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


class EventBridgePublisher:
    def __init__(
        self,
        bus_name: str,
        client: 'EventBridgeClient | None' = None,
        attempts: int = 5,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bus = bus_name
        self._client = client or events_client()
        self._attempts = attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def publish(self, events: list[Event]) -> set[str]:
        pending = events
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(random.uniform(0, self._base_delay * 2**attempt))  # noqa: S311 - jitter, not crypto
            pending = [event for chunk in chunks(pending) for event in self._put(chunk)]
            if not pending:
                return set()
        logger.warning('Events not put after retries', count=len(pending), event_ids=[event.id for event in pending])
        return {event.id for event in pending}

    def _put(self, chunk: list[Event]) -> list[Event]:
        """Put one chunk; return the events EventBridge did not take."""
        trace = os.environ.get('_X_AMZN_TRACE_ID')
        entries: list[PutEventsRequestEntryTypeDef] = []
        for event in chunk:
            entry: PutEventsRequestEntryTypeDef = {
                'Source': SOURCE,
                'DetailType': event.topic,
                'Detail': event.model_dump_json(),
                'EventBusName': self._bus,
            }
            if trace:
                entry['TraceHeader'] = trace
            entries.append(entry)
        try:
            response = self._client.put_events(Entries=entries)
        except (ClientError, BotoCoreError) as error:
            logger.warning('PutEvents failed', error=str(error), count=len(chunk))
            return chunk
        if not response.get('FailedEntryCount'):
            return []
        failed = [event for event, result in zip(chunk, response['Entries'], strict=True) if result.get('ErrorCode')]
        logger.info(
            'PutEvents refused entries',
            count=len(failed),
            codes=sorted({str(result.get('ErrorCode')) for result in response['Entries'] if result.get('ErrorCode')}),
        )
        return failed
