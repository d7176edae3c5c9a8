"""Snapshots under /v1/snapshots: a sheet's records in storage, and restoring a sheet to one."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane
from jobs_core.models.api import JobResponse, SuccessData, SuccessResponse
from jobs_core.models.snapshot import ListSnapshotsResponse, SnapshotCreate, SnapshotListQuery, SnapshotResponse
from tenancy import tenant_of

router = APIGatewayRouter()

SnapshotId = Annotated[str, Path(alias='snapshotId')]


@router.post('/v1/snapshots', summary="Snapshot a sheet's records", tags=['Snapshots'])
def create_snapshot(body: Annotated[SnapshotCreate, Body()]) -> tuple[SnapshotResponse, int]:
    return SnapshotResponse(data=data_plane.snapshots().create(tenant_of(router.current_event), body)), 201


@router.get('/v1/snapshots', summary="List a sheet's snapshots", tags=['Snapshots'])
def list_snapshots(query: Annotated[SnapshotListQuery, Query()]) -> ListSnapshotsResponse:
    snapshots, page = data_plane.snapshots().page(tenant_of(router.current_event), query)
    return ListSnapshotsResponse(
        data=snapshots, pagination=data_plane.pagination(query.page_number, query.page_size, page)
    )


@router.get('/v1/snapshots/<snapshotId>', summary='Get a snapshot', tags=['Snapshots'])
def get_snapshot(snapshot_id: SnapshotId) -> SnapshotResponse:
    return SnapshotResponse(data=data_plane.snapshots().get(tenant_of(router.current_event), snapshot_id))


@router.delete('/v1/snapshots/<snapshotId>', summary='Delete a snapshot', tags=['Snapshots'])
def delete_snapshot(snapshot_id: SnapshotId) -> SuccessResponse:
    data_plane.snapshots().delete(tenant_of(router.current_event), snapshot_id)
    return SuccessResponse(data=SuccessData(success=True))


@router.post(
    '/v1/snapshots/<snapshotId>/restore',
    summary='Restore a sheet to a snapshot',
    description='Creates the sheet:restore-snapshot job that restores it; follow the job to know when it is done.',
    tags=['Snapshots'],
)
def restore_snapshot(snapshot_id: SnapshotId) -> tuple[JobResponse, int]:
    return JobResponse(data=data_plane.snapshots().restore(tenant_of(router.current_event), snapshot_id)), 201
