"""Response envelopes of the API: {"data": …}, lists with pagination, and the error body."""

from pydantic import BaseModel, Field

from jobs_core.models.base import Omittable, OutputModel
from jobs_core.models.event import Event
from jobs_core.models.job import Job


class Pagination(OutputModel):
    current_page: int
    page_count: int
    total_count: int
    next_page_token: Omittable[str] = Field(
        default=None, description='Opaque cursor for the next page; pass it back as pageToken'
    )

    @classmethod
    def of(cls, page_number: int, page_size: int, total: int, next_token: str | None) -> 'Pagination':
        return cls(
            current_page=page_number,
            page_count=-(-total // page_size),
            total_count=total,
            next_page_token=next_token,
        )


class JobResponse(OutputModel):
    data: Job


class ListJobsResponse(OutputModel):
    data: list[Job]
    pagination: Pagination


class EventResponse(OutputModel):
    data: Event


class ListEventsResponse(OutputModel):
    data: list[Event]
    pagination: Pagination


class SuccessData(OutputModel):
    success: bool


class SuccessResponse(OutputModel):
    data: SuccessData


class Health(BaseModel):
    status: str


class ErrorItem(BaseModel):
    key: Omittable[str] = None
    message: str


class Errors(BaseModel):
    errors: list[ErrorItem]


class Deletion(OutputModel):
    success: bool
    job_id: Omittable[str] = Field(
        default=None, description='The job removing what the deleted resource held, when that runs asynchronously'
    )


class DeletionResponse(OutputModel):
    data: Deletion
