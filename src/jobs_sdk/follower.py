"""Following the Events API from anywhere: what `jobs listen` runs.

Every poll lists the events created since a cursor, oldest first, and hands each new one to every
target once (deduplicated by event id). The window reaches `overlap` seconds back before the
cursor, because the store is written in delivery order, not creation order: an event created a
little before one already seen may be stored after it. Nothing created before `since` (the start,
by default) is ever handed over.

An event every target handled is acknowledged (`POST /v1/events/{id}/ack`), off the delivery path:
acknowledgements run on a few threads while the next events are delivered, and all of a poll's are
done when the poll returns. A target that raises
gets the event again on the next polls, up to `max_attempts` in all; then it is logged and left
unacknowledged. A stop request is honoured between events, never in the middle of one.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import httpx

from jobs_core.timestamps import format_timestamp, now
from jobs_sdk.client import JobsClient
from jobs_sdk.errors import JobsApiError

logger = logging.getLogger('jobs_sdk.listen')

Target = Callable[[dict[str, Any]], object]  # takes the Flatfile envelope, raises if it failed
PAGE_SIZE: Final = 100
ACK_THREADS: Final = 4
# One change of a job can mean several events with one creation time (job:created and job:ready for
# a job created ready): the store orders those by id, which is arbitrary; hand them over in this order.
TOPIC_ORDER: Final = {
    topic: rank
    for rank, topic in enumerate(
        [
            'job:created',
            'job:scheduled',
            'job:ready',
            'job:updated',
            'job:completed',
            'job:failed',
            'job:outcome-acknowledged',
            'job:parts-completed',
            'job:deleted',
        ]
    )
}


@dataclass
class PollReport:
    delivered: int = 0  # (event, target) deliveries that succeeded
    failed: int = 0  # that raised and will be tried again
    abandoned: int = 0  # that raised for the last time


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class EventFollower:
    def __init__(
        self,
        api: JobsClient,
        targets: Sequence[Target],
        *,
        since: datetime | None = None,
        overlap: float = 5.0,
        max_attempts: int = 3,
        clock: Callable[[], datetime] = now,
    ) -> None:
        if max_attempts < 1:
            raise ValueError('max_attempts is at least 1')
        self._api = api
        self._targets = list(targets)
        self._floor = since or clock()
        self._cursor = self._floor  # the newest creation time seen
        self._overlap = timedelta(seconds=overlap)
        self._max_attempts = max_attempts
        self._done: dict[tuple[str, int], datetime] = {}  # (event id, target) → the event's createdAt
        self._attempts: dict[tuple[str, int], int] = {}
        self._pending: dict[str, datetime] = {}  # events a target is still to be retried on
        self._abandoned: dict[str, datetime] = {}  # events a target gave up on: never acknowledged
        self._stop = threading.Event()

    @property
    def since(self) -> datetime:
        return self._floor

    def _window_start(self) -> datetime:
        return max(self._floor, min([self._cursor, *self._pending.values()]) - self._overlap)

    def _events(self, since: datetime) -> list[dict[str, Any]]:
        params = {'since': format_timestamp(since), 'sortDirection': 'asc', 'pageSize': str(PAGE_SIZE)}
        events: list[dict[str, Any]] = []
        while True:
            page = self._api.request('GET', '/v1/events', params=params)
            events += page['data']
            token = (page.get('pagination') or {}).get('nextPageToken')
            if not token:
                return events
            params = {**params, 'pageToken': token}

    def poll(self) -> PollReport:
        """One poll: hand every new event to the targets. Transient API failures are logged and
        left for the next poll; a refused key (401, 403) or request (400) raises."""
        with ThreadPoolExecutor(ACK_THREADS, thread_name_prefix='event-ack') as acks:
            report = self._poll(acks)
        return report

    def _poll(self, acks: ThreadPoolExecutor) -> PollReport:
        report = PollReport()
        try:
            events = self._events(self._window_start())
        except httpx.TransportError as error:
            logger.warning('Cannot reach the Events API (%s); trying again', error)
            return report
        except JobsApiError as error:
            if error.status < 500 and error.status != 429:
                raise
            logger.warning('The Events API answered %d (%s); trying again', error.status, error)
            return report
        events.sort(key=lambda item: (item['createdAt'], item.get('version') or 0, TOPIC_ORDER.get(item['topic'], 99)))
        for envelope in events:
            if self._stop.is_set():
                break
            created = parse_time(envelope['createdAt'])
            if created < self._floor:
                continue
            self._cursor = max(self._cursor, created)
            self._deliver(envelope, created, report, acks)
        window = self._window_start()
        self._done = {key: created for key, created in self._done.items() if created >= window}
        self._abandoned = {key: created for key, created in self._abandoned.items() if created >= window}
        return report

    def _deliver(
        self, envelope: dict[str, Any], created: datetime, report: PollReport, acks: ThreadPoolExecutor
    ) -> None:
        event_id = envelope['id']
        keys = [(event_id, index) for index in range(len(self._targets))]
        if all(key in self._done for key in keys):
            return
        for key, target in zip(keys, self._targets, strict=True):
            if key in self._done:
                continue
            try:
                target(envelope)
            except Exception as error:
                attempt = self._attempts.get(key, 0) + 1
                if attempt < self._max_attempts:
                    self._attempts[key] = attempt
                    report.failed += 1
                    logger.warning(
                        '%s %s failed (attempt %d of %d): %s',
                        envelope['topic'],
                        event_id,
                        attempt,
                        self._max_attempts,
                        error,
                    )
                    self._pending[event_id] = created
                    continue
                report.abandoned += 1
                logger.error('%s %s failed %d times; giving up: %s', envelope['topic'], event_id, attempt, error)
                self._abandoned[event_id] = created
            else:
                report.delivered += 1
                logger.info('%s %s (job %s)', envelope['topic'], event_id, envelope.get('context', {}).get('jobId'))
            self._attempts.pop(key, None)
            self._done[key] = created
        if all(key in self._done for key in keys):
            self._pending.pop(event_id, None)
            if event_id not in self._abandoned:
                acks.submit(self._acknowledge, event_id)

    def _acknowledge(self, event_id: str) -> None:
        try:
            self._api.request('POST', f'/v1/events/{quote(event_id, safe="")}/ack')
        except (httpx.TransportError, JobsApiError) as error:
            logger.warning('Could not acknowledge event %s: %s', event_id, error)

    def stop(self) -> None:
        """Stop after the event being handled (safe from a signal handler or another thread)."""
        self._stop.set()

    def run(self, poll_interval: float = 1.0, on_poll: Callable[[PollReport], None] | None = None) -> None:
        """Poll until `stop()`."""
        while not self._stop.is_set():
            report = self.poll()
            if on_poll is not None:
                on_poll(report)
            self._stop.wait(poll_interval)
