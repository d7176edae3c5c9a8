"""EventBridge Scheduler's one-time schedules, fired by the local stack (moto keeps schedules but never fires them).

Each poll lists the schedules; an ENABLED `at(...)` schedule whose time has come (in its
ScheduleExpressionTimezone, UTC by default) sends its Target's Input to the target, once, and is
deleted when its ActionAfterCompletion is DELETE. A target that cannot be reached is tried again on
the next polls, up to its RetryPolicy's MaximumRetryAttempts, then the Input goes to its
DeadLetterConfig queue (or, without one, is logged as dropped, as Scheduler drops it).

Not emulated: rate() and cron() schedules (logged once each), flexible time windows (a schedule fires
at the start of its window), StartDate and EndDate, and targets other than SQS queues and event buses.
On AWS a schedule fires within the minute of its time; locally within a poll interval.
"""

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

log = logging.getLogger('jobs_local.events')

SUPPORTED_TARGETS = frozenset({'sqs', 'events'})
_AT = re.compile(r'at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)')


class ScheduleStore(Protocol):
    def names(self) -> list[tuple[str, str, str]]:
        """(group, name, last modification) of every schedule."""
        ...

    def get(self, group: str, name: str) -> dict[str, Any]:
        """The schedule as GetSchedule returns it."""
        ...

    def delete(self, group: str, name: str) -> None: ...


Send = Callable[[str, str, dict[str, Any]], None]  # (target ARN, body, the whole target)


def target_service(arn: str) -> str:
    """The service of a target ARN: arn:aws:sqs:… → sqs."""
    parts = arn.split(':')
    return parts[2] if len(parts) > 2 else ''


def due_at(schedule: dict[str, Any]) -> datetime | None:
    """When a one-time schedule fires; None for an expression the local stack does not fire."""
    found = _AT.fullmatch(str(schedule.get('ScheduleExpression', '')).strip())
    if found is None:
        return None
    zone = ZoneInfo(schedule.get('ScheduleExpressionTimezone') or 'UTC')
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=zone).astimezone(UTC)


@dataclass
class _Pending:
    stamp: str
    schedule: dict[str, Any]
    failures: int = 0


class Scheduler:
    def __init__(self, store: ScheduleStore, send: Send, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._send = send
        self._clock = clock
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._finished: dict[tuple[str, str], str] = {}  # fired, dropped or not fired locally, by version

    def poll_once(self) -> None:
        listed = self._store.names()
        present = {(group, name) for group, name, _ in listed}
        for gone in set(self._pending) - present:
            del self._pending[gone]
        for gone in set(self._finished) - present:
            del self._finished[gone]
        now = self._clock()
        for group, name, stamp in listed:
            key = (group, name)
            if self._finished.get(key) == stamp:
                continue
            pending = self._pending.get(key)
            if pending is None or pending.stamp != stamp:
                pending = self._pending[key] = _Pending(stamp, self._store.get(group, name))
            self._consider(key, pending, now)

    def _consider(self, key: tuple[str, str], pending: _Pending, now: datetime) -> None:
        schedule = pending.schedule
        if schedule.get('State', 'ENABLED') != 'ENABLED':
            return
        due = due_at(schedule)
        if due is None:
            log.warning('Schedule %s/%s: %s is not fired locally', *key, schedule.get('ScheduleExpression'))
            self._finish(key, pending)
            return
        if due > now:
            return
        target = schedule['Target']
        if target_service(target['Arn']) not in SUPPORTED_TARGETS:
            log.warning('Schedule %s/%s: its target %s is not invoked locally', *key, target['Arn'])
            self._finish(key, pending)
            return
        body = target.get('Input', '{}')
        try:
            self._send(target['Arn'], body, target)
        except Exception as error:
            pending.failures += 1
            allowed = int(target.get('RetryPolicy', {}).get('MaximumRetryAttempts', 185))
            log.warning('Schedule %s/%s: cannot reach %s (%s)', *key, target['Arn'], error)
            if pending.failures <= allowed:
                return
            self._dead_letter(key, target, body)
        self._finish(key, pending)
        if schedule.get('ActionAfterCompletion') == 'DELETE':
            self._store.delete(*key)

    def _dead_letter(self, key: tuple[str, str], target: dict[str, Any], body: str) -> None:
        queue = target.get('DeadLetterConfig', {}).get('Arn')
        if queue is None:
            log.warning('Schedule %s/%s: retries exhausted and no DeadLetterConfig; the invocation is dropped', *key)
            return
        try:
            self._send(queue, body, {'Arn': queue})
        except Exception as error:
            log.warning('Schedule %s/%s: cannot reach its dead-letter queue %s (%s); dropped', *key, queue, error)

    def _finish(self, key: tuple[str, str], pending: _Pending) -> None:
        self._finished[key] = pending.stamp
        self._pending.pop(key, None)


class SchedulerApi:
    """The schedules of moto's EventBridge Scheduler."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def names(self) -> list[tuple[str, str, str]]:
        found = []
        for page in self._client.get_paginator('list_schedules').paginate():
            for schedule in page.get('Schedules', []):
                stamp = schedule.get('LastModificationDate')
                found.append((schedule.get('GroupName', 'default'), schedule['Name'], str(stamp)))
        return found

    def get(self, group: str, name: str) -> dict[str, Any]:
        return dict(self._client.get_schedule(GroupName=group, Name=name))

    def delete(self, group: str, name: str) -> None:
        with contextlib.suppress(self._client.exceptions.ResourceNotFoundException):  # deleted meanwhile
            self._client.delete_schedule(GroupName=group, Name=name)


class TargetSender:
    """Invokes a schedule's target: a message to an SQS queue, or an event on an EventBridge bus."""

    def __init__(self, sqs: Any, events: Any, queue_urls: dict[str, str]) -> None:
        self._sqs = sqs
        self._events = events
        self._queue_urls = queue_urls

    def send(self, arn: str, body: str, target: dict[str, Any]) -> None:
        if target_service(arn) == 'sqs':
            url = self._queue_urls.get(arn) or self._sqs.get_queue_url(QueueName=arn.rsplit(':', 1)[-1])['QueueUrl']
            extra = {}
            group = target.get('SqsParameters', {}).get('MessageGroupId')
            if group:
                extra['MessageGroupId'] = group
            self._sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
            return
        parameters = target.get('EventBridgeParameters', {})
        entry = {
            'EventBusName': arn,
            'Source': parameters.get('Source', 'aws.scheduler'),
            'DetailType': parameters.get('DetailType', 'Scheduled Event'),
            'Detail': body,
        }
        response = self._events.put_events(Entries=[entry])
        if response.get('FailedEntryCount'):
            raise RuntimeError(f'PutEvents refused the event: {response["Entries"][0].get("ErrorCode")}')
