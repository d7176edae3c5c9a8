"""Snapshots: a sheet's records at one moment, stored compressed in S3, restorable as a job."""

from typing import Annotated

from pydantic import Field

from jobs_core.models.api import Pagination
from jobs_core.models.base import InputModel, Omittable, OutputModel, ResourceId, Timestamp
from jobs_core.models.workbook import RecordCounts

Label = Annotated[str, Field(min_length=1, max_length=255)]


class SnapshotCreate(InputModel):
    sheet_id: ResourceId
    label: Label | None = None
    thread_id: ResourceId | None = None


class Snapshot(OutputModel):
    id: str
    sheet_id: str
    workbook_id: str
    space_id: str
    counts: RecordCounts = Field(description="The sheet's record counts when the snapshot was taken")
    size: int = Field(description='Bytes stored (gzip-compressed JSON Lines)')
    created_by: str
    created_at: Timestamp
    label: Omittable[str] = None
    thread_id: Omittable[str] = None


class SnapshotResponse(OutputModel):
    data: Snapshot


class SnapshotListQuery(InputModel):
    sheet_id: ResourceId
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    page_number: Annotated[int, Field(ge=1, le=10_000)] = 1
    page_token: Annotated[str, Field(max_length=2048)] | None = None


class ListSnapshotsResponse(OutputModel):
    data: list[Snapshot]
    pagination: Pagination
