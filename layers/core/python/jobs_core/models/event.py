"""The Flatfile event envelope (spec §3.1), as put on the bus and served by the Events API."""

from typing import Literal

from pydantic import Field

from jobs_core.models.base import JsonObject, Omittable, OutputModel, Timestamp

JOB_TOPICS = (
    'job:created',
    'job:ready',
    'job:scheduled',
    'job:updated',
    'job:completed',
    'job:failed',
    'job:outcome-acknowledged',
    'job:parts-completed',
    'job:deleted',
)
Domain = Literal['job', 'commit']


class EventContext(OutputModel):
    account_id: str
    environment_id: str
    space_id: Omittable[str] = None
    workbook_id: Omittable[str] = None
    sheet_id: Omittable[str] = None
    sheet_slug: Omittable[str] = None
    file_id: Omittable[str] = None
    job_id: Omittable[str] = None
    commit_id: Omittable[str] = None
    actor_id: Omittable[str] = None
    slugs: Omittable[dict[str, str]] = None


class Event(OutputModel):
    id: str = Field(description='us_evt_…, stable: a redelivered change yields the same id')
    topic: str = Field(examples=['job:ready'])
    domain: Domain
    context: EventContext
    payload: JsonObject
    created_at: Timestamp
    version: Omittable[int] = Field(
        default=None, description="The job's version when this event happened; drop events older than one you have"
    )
    acknowledged_at: Omittable[Timestamp] = None
    acknowledged_by: Omittable[str] = None
