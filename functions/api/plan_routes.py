"""A map job's execution plan: GET, PUT (replace) and PATCH (update fields) /v1/jobs/{jobId}/plan."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane
from jobs_core.models.plan import JobExecutionPlanConfigRequest, JobExecutionPlanRequest, JobPlanResponse
from tenancy import tenant_of

router = APIGatewayRouter()

_PLANNED = 'Only workbook:map jobs have a plan: the platform computes it while the job is planning and '
_EDITABLE = 'It can change until the job runs (created, planning or ready); each change is a job:updated.'


@router.get(
    '/v1/jobs/<jobId>/plan',
    summary="Get a job's execution plan",
    description=_PLANNED + 'announces it with job:updated (409 until then). ' + _EDITABLE,
    tags=['Jobs'],
)
def get_plan(job_id: Annotated[str, Path(alias='jobId')]) -> JobPlanResponse:
    return JobPlanResponse(data=data_plane.plans().get(tenant_of(router.current_event), job_id))


@router.put(
    '/v1/jobs/<jobId>/plan',
    summary="Replace a job's execution plan",
    description='Every edge must join a field of the source sheet to a field of the destination sheet, each '
    'destination fed once, enum values mapped onto its options. The unmapped fields are worked out again. ' + _EDITABLE,
    tags=['Jobs'],
)
def replace_plan(
    job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobExecutionPlanRequest, Body()]
) -> JobPlanResponse:
    return JobPlanResponse(data=data_plane.plans().replace(tenant_of(router.current_event), job_id, body))


@router.patch(
    '/v1/jobs/<jobId>/plan',
    summary="Update a job's execution plan",
    description="The parts given replace the plan's: a fieldMapping given is the whole new list of edges. " + _EDITABLE,
    tags=['Jobs'],
)
def update_plan(
    job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobExecutionPlanConfigRequest, Body()]
) -> JobPlanResponse:
    return JobPlanResponse(data=data_plane.plans().update(tenant_of(router.current_event), job_id, body))
