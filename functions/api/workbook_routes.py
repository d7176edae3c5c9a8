"""Workbooks under /v1/workbooks, with their sheets, and the actions they declare."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane
from jobs_core.models.api import Deletion, DeletionResponse, JobResponse
from jobs_core.models.workbook import (
    ListWorkbooksResponse,
    WorkbookActionRun,
    WorkbookCreate,
    WorkbookListQuery,
    WorkbookResponse,
    WorkbookUpdate,
)
from tenancy import tenant_of

router = APIGatewayRouter()

WorkbookId = Annotated[str, Path(alias='workbookId')]


@router.post('/v1/workbooks', summary='Create a workbook with its sheets', tags=['Workbooks'])
def create_workbook(body: Annotated[WorkbookCreate, Body()]) -> tuple[WorkbookResponse, int]:
    return WorkbookResponse(data=data_plane.workbooks().create(tenant_of(router.current_event), body)), 201


@router.get('/v1/workbooks', summary='List workbooks', tags=['Workbooks'])
def list_workbooks(query: Annotated[WorkbookListQuery, Query()]) -> ListWorkbooksResponse:
    workbooks, page = data_plane.workbooks().page(tenant_of(router.current_event), query)
    return ListWorkbooksResponse(
        data=workbooks, pagination=data_plane.pagination(query.page_number, query.page_size, page)
    )


@router.get('/v1/workbooks/<workbookId>', summary='Get a workbook', tags=['Workbooks'])
def get_workbook(workbook_id: WorkbookId) -> WorkbookResponse:
    return WorkbookResponse(data=data_plane.workbooks().get(tenant_of(router.current_event), workbook_id))


@router.patch('/v1/workbooks/<workbookId>', summary='Update a workbook', tags=['Workbooks'])
def update_workbook(workbook_id: WorkbookId, body: Annotated[WorkbookUpdate, Body()]) -> WorkbookResponse:
    return WorkbookResponse(data=data_plane.workbooks().update(tenant_of(router.current_event), workbook_id, body))


@router.delete(
    '/v1/workbooks/<workbookId>',
    summary='Delete a workbook',
    description='The workbook and its sheets are gone at once; the workbook:delete job named removes their records.',
    tags=['Workbooks'],
)
def delete_workbook(workbook_id: WorkbookId) -> DeletionResponse:
    job_id = data_plane.workbooks().delete(tenant_of(router.current_event), workbook_id)
    return DeletionResponse(data=Deletion(success=True, job_id=job_id))


@router.post(
    '/v1/workbooks/<workbookId>/actions/<operation>',
    summary='Run a workbook action',
    description='Creates the action job workbook:<operation> (trigger immediate, not managed); 404 if undeclared.',
    tags=['Workbooks'],
)
def run_workbook_action(
    workbook_id: WorkbookId,
    operation: Annotated[str, Path()],
    body: Annotated[WorkbookActionRun | None, Body()] = None,
) -> tuple[JobResponse, int]:
    job = data_plane.workbooks().run_action(tenant_of(router.current_event), workbook_id, operation, body)
    return JobResponse(data=job), 201
