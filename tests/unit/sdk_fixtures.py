"""Fixtures for the SDK's unit tests: a JobsClient whose HTTP goes, without a socket, to the real
API handler in process (on moto), and the events table behind the Events API.

The test_sdk_* modules import the fixture functions (`events_table_fixture`, …); each registers
under its `name` (`events_table`, …), so a test's parameter never shadows the import.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jobs_core.event_store import EventStore
from jobs_core.models.event import Event, EventContext
from jobs_core.settings import events_settings
from jobs_local.functions import handler_of
from jobs_local.template import create_tables
from jobs_sdk import JobsClient
from tests.builders import TENANT, LambdaContext, api_event

EVENTS_TABLE = 'jobs-events-test'


def api_response(request: httpx.Request) -> httpx.Response:
    """One HTTP request answered by the API function, as API Gateway would invoke it."""
    body = request.content.decode() or None
    event = api_event(request.method, request.url.path, raw_body=body, query=dict(request.url.params) or None)
    reply = handler_of('ApiFunction')(event, LambdaContext())
    headers = {
        **(reply.get('headers') or {}),
        **{name: values[-1] for name, values in (reply.get('multiValueHeaders') or {}).items()},
    }
    return httpx.Response(int(reply['statusCode']), headers=headers, content=(reply.get('body') or '').encode())


class Recorder:
    """The requests a transport saw, in order, as (method, path, JSON body or None)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def calls(self) -> list[tuple[str, str, Any]]:
        return [
            (each.method, each.url.path, httpx.Response(200, content=each.content).json() if each.content else None)
            for each in self.requests
        ]


def in_process_client(
    handle: Callable[[httpx.Request], httpx.Response] = api_response, **options: Any
) -> tuple[JobsClient, Recorder]:
    recorder = Recorder()

    def transport(request: httpx.Request) -> httpx.Response:
        recorder(request)
        return handle(request)

    options.setdefault('sleep', lambda _: None)
    client = JobsClient('http://jobs.test', 'sk_test', transport=httpx.MockTransport(transport), **options)
    return client, recorder


@pytest.fixture(name='events_table')
def events_table_fixture(dynamodb, monkeypatch) -> Iterator[EventStore]:
    """The events table from template.yaml, as the Events API's store."""
    monkeypatch.setenv('EVENTS_TABLE_NAME', EVENTS_TABLE)
    monkeypatch.setenv('EVENT_RETENTION_DAYS', '30')
    create_tables(dynamodb, {'EventsTable': EVENTS_TABLE})
    events_settings.cache_clear()
    yield EventStore(EVENTS_TABLE)
    events_settings.cache_clear()


@pytest.fixture(name='sdk')
def sdk_fixture(api, events_table) -> Iterator[JobsClient]:
    """A JobsClient talking to the real API handler on moto, with the tenant of tests.builders."""
    client, _ = in_process_client()
    with client:
        yield client


@pytest.fixture(name='recorded')
def recorded_fixture(api, events_table) -> Iterator[tuple[JobsClient, Recorder]]:
    client, recorder = in_process_client()
    with client:
        yield client, recorder


def envelope(
    topic: str = 'job:ready',
    *,
    job: str = 'workbook:export',
    job_id: str = 'us_jb_test00000001',
    event_id: str | None = None,
    created_at: datetime | None = None,
    context: dict[str, Any] | None = None,
    **payload: Any,
) -> dict[str, Any]:
    """A Flatfile envelope as the publisher writes it (jobs_core.lifecycle_events), on the wire."""
    job_type, _, operation = job.partition(':')
    event = Event(
        id=event_id or f'us_evt_{abs(hash((topic, job_id, str(created_at)))):024d}'[:31],
        topic=topic,
        domain='job',
        context=EventContext(
            account_id=TENANT.account_id,
            environment_id=TENANT.environment_id,
            job_id=job_id,
            actor_id=TENANT.actor_id,
            **(context or {}),
        ),
        payload={
            'domain': job_type,
            'operation': operation,
            'job': job,
            'status': 'ready',
            'isPart': False,
            'progress': 0,
            'managed': False,
            **payload,
        },
        created_at=created_at or datetime.now(UTC),
        version=2,
    )
    return event.model_dump(mode='json')
