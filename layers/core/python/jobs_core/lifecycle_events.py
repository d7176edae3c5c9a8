"""Lifecycle events from one DynamoDB stream record of a job item (pure; the publisher sends them).

An event's id is derived from the stream record and its topic, so a redelivered record yields
the same ids and consumers can drop duplicates; `version` lets them drop stale updates.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from jobs_core.dynamo import from_item
from jobs_core.models.event import Event, EventContext
from jobs_core.resources import file_of, sheet_of, workbook_of
from jobs_core.topics import PART_COUNTERS, job_topics

# EventBridge takes 256 KiB per entry; past this the job's input is left out of the payload
# (it stays on the job, which the event names).
MAX_DETAIL_BYTES: Final = 200 * 1024


@dataclass(frozen=True, slots=True)
class StreamChange:
    """The parts of a stream record an event is made from (images already plain dicts)."""

    record_id: str
    event_name: str  # INSERT | MODIFY | REMOVE
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    happened_at: datetime


def event_id(record_id: str, topic: str) -> str:
    return 'us_evt_' + hashlib.sha256(f'{record_id}|{topic}'.encode()).hexdigest()[:24]


def job_events(change: StreamChange) -> list[Event]:
    image = change.new if change.new is not None else change.old
    if image is None:
        return []
    return [_event(change, image, topic) for topic in job_topics(change.event_name, change.old, change.new)]


def _event(change: StreamChange, job: dict[str, Any], topic: str) -> Event:
    payload: dict[str, Any] = {
        'domain': job.get('type'),
        'operation': job.get('operation'),
        'job': f'{job.get("type")}:{job.get("operation")}',
        'status': job.get('status'),
        'info': job.get('info'),
        'isPart': job.get('parentId') is not None,
        'input': job.get('input'),
        'progress': job.get('progress'),
        'managed': job.get('managed'),
    }
    if topic == 'job:parts-completed':
        payload['parts'] = {
            'total': int(job.get('partsTotal', 0)),
            **{counter.removeprefix('parts').lower(): int(job.get(counter, 0)) for counter in PART_COUNTERS},
        }
    payload = {key: value for key, value in payload.items() if value is not None}
    if len(json.dumps(payload.get('input', ''))) > MAX_DETAIL_BYTES:
        payload.pop('input')
        payload['inputOmitted'] = True

    created_at = job.get('updatedAt') if change.new is not None else None
    return Event(
        id=event_id(change.record_id, topic),
        topic=topic,
        domain='job',
        context=EventContext(
            account_id=job['accountId'],
            environment_id=job['environmentId'],
            space_id=job.get('spaceId'),
            workbook_id=workbook_of(job),
            sheet_id=sheet_of(job),
            file_id=file_of(job),
            job_id=job['id'],
            actor_id=job.get('updatedBy') or job.get('createdBy'),
        ),
        payload=payload,
        created_at=created_at or change.happened_at.astimezone(UTC),
        version=job.get('version'),
    )


def change_of(record: dict[str, Any]) -> StreamChange:
    """A DynamoDB stream record (as Lambda delivers it) as a StreamChange."""
    stream = record['dynamodb']
    return StreamChange(
        record_id=record['eventID'],
        event_name=record['eventName'],
        old=from_item(stream['OldImage']) if 'OldImage' in stream else None,
        new=from_item(stream['NewImage']) if 'NewImage' in stream else None,
        happened_at=datetime.fromtimestamp(float(stream.get('ApproximateCreationDateTime', 0)), UTC),
    )


def commit_events(change: StreamChange) -> list[Event]:
    """A records write's commit item, when it is created: `commit:created`, in Flatfile's shape, with the
    sheet's slug in the context (`slugs.sheet`, `sheetSlug`) so a listener filter {sheet: 'contacts'} matches."""
    commit = change.new
    if change.event_name != 'INSERT' or commit is None:
        return []
    payload = {
        'commitId': commit['id'],
        'sheetId': commit.get('sheetId'),
        'count': commit.get('count'),
        'kind': commit.get('kind'),
        'jobId': commit.get('jobId'),
    }
    slug = commit.get('sheetSlug')
    return [
        Event(
            id=event_id(change.record_id, 'commit:created'),
            topic='commit:created',
            domain='commit',
            context=EventContext(
                account_id=commit['accountId'],
                environment_id=commit['environmentId'],
                space_id=commit.get('spaceId'),
                workbook_id=commit.get('workbookId'),
                sheet_id=commit.get('sheetId'),
                sheet_slug=slug,
                commit_id=commit['id'],
                job_id=commit.get('jobId'),
                actor_id=commit.get('createdBy'),
                slugs={'sheet': slug} if slug else None,
            ),
            payload={key: value for key, value in payload.items() if value is not None},
            created_at=commit.get('createdAt') or change.happened_at.astimezone(UTC),
        )
    ]


def events_of(record: dict[str, Any]) -> list[Event]:
    """The events of one stream record of the jobs table: a job's lifecycle, a records commit; other
    entities (keys, dependency edges) have none."""
    change = change_of(record)
    image = change.new if change.new is not None else change.old
    if not image:
        return []
    if image.get('entity') == 'job':
        return job_events(change)
    if image.get('entity') == 'commit':
        return commit_events(change)
    return []
