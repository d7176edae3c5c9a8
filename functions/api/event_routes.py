"""The Events API: the event store, scoped by environment, for listeners outside AWS."""

from datetime import datetime
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import Field

from jobs_core.errors import NotFound
from jobs_core.event_store import EventQuery, EventStore
from jobs_core.models.api import EventResponse, ListEventsResponse, Pagination
from jobs_core.models.base import InputModel, ResourceId
from jobs_core.settings import events_settings
from jobs_core.timestamps import now
from tenancy import tenant_of

router = APIGatewayRouter()


@cache
def store() -> EventStore:
    settings = events_settings()
    return EventStore(settings.events_table_name, settings.event_retention_days)


class EventListQuery(InputModel):
    topic: Annotated[str, Field(max_length=64, examples=['job:ready'])] | None = None
    job_id: ResourceId | None = None
    domain: Literal['job', 'commit'] | None = None
    since: datetime | None = Field(default=None, description='Only events created at or after this time')
    sort_direction: Literal['asc', 'desc'] = Field(default='asc', description='By createdAt; oldest first')
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    page_number: Annotated[int, Field(ge=1, le=10_000)] = 1
    page_token: Annotated[str, Field(max_length=2048)] | None = None


def _not_found(event_id: str) -> NotFound:
    return NotFound(f'Event {event_id} not found', key='eventId')


@router.get('/v1/events', summary='List events', tags=['Events'])
def list_events(query: Annotated[EventListQuery, Query()]) -> ListEventsResponse:
    page = store().list(
        tenant_of(router.current_event),
        EventQuery(
            topic=query.topic,
            job_id=query.job_id,
            domain=query.domain,
            since=query.since,
            ascending=query.sort_direction == 'asc',
            page_size=query.page_size,
            page_number=query.page_number,
            page_token=query.page_token,
        ),
    )
    return ListEventsResponse(
        data=page.events,
        pagination=Pagination.of(query.page_number, query.page_size, page.total, page.next_token),
    )


@router.get('/v1/events/<eventId>', summary='Get an event', tags=['Events'])
def get_event(event_id: Annotated[str, Path(alias='eventId')]) -> EventResponse:
    event = store().get(tenant_of(router.current_event), event_id)
    if event is None:
        raise _not_found(event_id)
    return EventResponse(data=event)


@router.post('/v1/events/<eventId>/ack', summary='Acknowledge an event', tags=['Events'])
def ack_event(event_id: Annotated[str, Path(alias='eventId')]) -> EventResponse:
    event = store().acknowledge(tenant_of(router.current_event), event_id, now())
    if event is None:
        raise _not_found(event_id)
    return EventResponse(data=event)
