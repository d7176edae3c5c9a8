"""Sheets under /v1/sheets (their records are in record_routes)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane
from jobs_core.models.api import Deletion, DeletionResponse, JobResponse
from jobs_core.models.record import CountsData, CountsResponse
from jobs_core.models.workbook import ListSheetsResponse, SheetActionRun, SheetListQuery, SheetResponse
from tenancy import tenant_of

router = APIGatewayRouter()

SheetId = Annotated[str, Path(alias='sheetId')]


@router.get('/v1/sheets', summary="List a workbook's sheets", tags=['Sheets'])
def list_sheets(query: Annotated[SheetListQuery, Query()]) -> ListSheetsResponse:
    return ListSheetsResponse(data=data_plane.workbooks().sheets(tenant_of(router.current_event), query.workbook_id))


@router.get('/v1/sheets/<sheetId>', summary='Get a sheet', tags=['Sheets'])
def get_sheet(sheet_id: SheetId) -> SheetResponse:
    return SheetResponse(data=data_plane.workbooks().sheet(tenant_of(router.current_event), sheet_id))


@router.delete(
    '/v1/sheets/<sheetId>',
    summary='Delete a sheet',
    description='The sheet is gone at once; the sheet:delete job named removes its records and snapshots.',
    tags=['Sheets'],
)
def delete_sheet(sheet_id: SheetId) -> DeletionResponse:
    job_id = data_plane.workbooks().delete_sheet(tenant_of(router.current_event), sheet_id)
    return DeletionResponse(data=Deletion(success=True, job_id=job_id))


@router.get('/v1/sheets/<sheetId>/counts', summary="A sheet's record counts", tags=['Sheets'])
def sheet_counts(sheet_id: SheetId) -> CountsResponse:
    counts = data_plane.records().counts(tenant_of(router.current_event), sheet_id)
    return CountsResponse(data=CountsData(counts=counts))


@router.post(
    '/v1/sheets/<sheetId>/actions/<operation>',
    summary='Run a sheet action',
    description=(
        'Creates the action job sheet:<operation> with a collection subject over the records (query: filter, '
        'filterField, searchField, searchValue, ids); 404 if the sheet does not declare the operation.'
    ),
    tags=['Sheets'],
)
def run_sheet_action(
    sheet_id: SheetId,
    operation: Annotated[str, Path()],
    body: Annotated[SheetActionRun | None, Body()] = None,
) -> tuple[JobResponse, int]:
    job = data_plane.workbooks().run_sheet_action(tenant_of(router.current_event), sheet_id, operation, body)
    return JobResponse(data=job), 201
