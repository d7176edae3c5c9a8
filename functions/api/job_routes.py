"""The 17 job endpoints of the Flatfile Jobs API under /v1 (spec §1)."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane  # it imports this module too: each uses the other only when called
from jobs_core.jobs import JobService
from jobs_core.models.api import JobResponse, ListJobsResponse, Pagination, SuccessData, SuccessResponse
from jobs_core.models.job import (
    JobAckDetails,
    JobCancelDetails,
    JobCompleteDetails,
    JobCreate,
    JobListQuery,
    JobSplitDetails,
    JobUpdate,
)
from jobs_core.models.mutation import DiffRecordsResponse
from jobs_core.settings import table_settings
from jobs_core.store import DynamoJobStore, JobPage
from jobs_core.system.configs import MutateJobConfig
from tenancy import tenant_of

router = APIGatewayRouter()


@cache
def service() -> JobService:
    # Built on the first request, once per container: the client is reused by every invocation.
    return JobService(DynamoJobStore(table_settings().table_name))


@router.get('/v1/jobs', summary='List jobs', tags=['Jobs'])
def list_jobs(query: Annotated[JobListQuery, Query()]) -> ListJobsResponse:
    tenant = tenant_of(router.current_event)
    if query.environment_id not in {None, tenant.environment_id}:
        # Another environment's jobs never appear: to this key that environment is empty.
        page = JobPage(jobs=[], total=0, next_token=None)
    else:
        page = service().page(tenant, query)
    return ListJobsResponse(
        data=page.jobs,
        pagination=Pagination.of(query.page_number, query.page_size, page.total, page.next_token),
    )


@router.post('/v1/jobs', summary='Create a job', tags=['Jobs'])
def create_job(body: Annotated[JobCreate, Body()]) -> tuple[JobResponse, int]:
    return JobResponse(data=service().create(tenant_of(router.current_event), body)), 201


@router.post(
    '/v1/jobs/preview-mutation',
    summary='Preview a mutation',
    description='The first 100 records the config selects as `mutateRecord` (a JSONata expression) would '
    'leave them: each value validated, with `snapshotValue` the value it holds now. Writes nothing.',
    tags=['Jobs'],
)
def preview_mutation(body: Annotated[MutateJobConfig, Body()]) -> DiffRecordsResponse:
    from jobs_core.system.mutate import preview_mutation  # noqa: PLC0415 - jsonata only on this path

    return DiffRecordsResponse(data=preview_mutation(data_plane.records(), tenant_of(router.current_event), body))


@router.get('/v1/jobs/<jobId>', summary='Get a job', tags=['Jobs'])
def get_job(job_id: Annotated[str, Path(alias='jobId')]) -> JobResponse:
    return JobResponse(data=service().get(tenant_of(router.current_event), job_id))


@router.patch('/v1/jobs/<jobId>', summary='Update a job', tags=['Jobs'])
def update_job(job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobUpdate, Body()]) -> JobResponse:
    return JobResponse(data=service().update(tenant_of(router.current_event), job_id, body))


@router.delete('/v1/jobs/<jobId>', summary='Delete a job', tags=['Jobs'])
def delete_job(job_id: Annotated[str, Path(alias='jobId')]) -> SuccessResponse:
    service().delete(tenant_of(router.current_event), job_id)
    return SuccessResponse(data=SuccessData(success=True))


@router.post('/v1/jobs/<jobId>/execute', summary='Execute a job', tags=['Jobs'])
def execute_job(job_id: Annotated[str, Path(alias='jobId')]) -> SuccessResponse:
    service().execute(tenant_of(router.current_event), job_id)
    return SuccessResponse(data=SuccessData(success=True))


@router.post(
    '/v1/jobs/<jobId>/ack',
    summary='Acknowledge a job',
    description='ready → executing, or a progress tick while executing. The header `Job-Started: true` '
    'tells the one caller whose ack started the job; for every other caller it is `false`.',
    tags=['Jobs'],
)
def ack_job(
    job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobAckDetails | None, Body()] = None
) -> Response[JobResponse]:
    job, started = service().ack(tenant_of(router.current_event), job_id, body)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=JobResponse(data=job),
        headers={'Job-Started': 'true' if started else 'false'},
    )


@router.post('/v1/jobs/<jobId>/outcome/ack', summary='Acknowledge a job outcome', tags=['Jobs'])
def ack_outcome(job_id: Annotated[str, Path(alias='jobId')]) -> JobResponse:
    return JobResponse(data=service().acknowledge_outcome(tenant_of(router.current_event), job_id))


@router.post('/v1/jobs/<jobId>/complete', summary='Complete a job', tags=['Jobs'])
def complete_job(
    job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobCompleteDetails | None, Body()] = None
) -> JobResponse:
    return JobResponse(data=service().complete(tenant_of(router.current_event), job_id, body))


@router.post('/v1/jobs/<jobId>/fail', summary='Fail a job', tags=['Jobs'])
def fail_job(
    job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobCompleteDetails | None, Body()] = None
) -> JobResponse:
    return JobResponse(data=service().fail(tenant_of(router.current_event), job_id, body))


@router.post('/v1/jobs/<jobId>/cancel', summary='Cancel a job', tags=['Jobs'])
def cancel_job(
    job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobCancelDetails | None, Body()] = None
) -> JobResponse:
    return JobResponse(data=service().cancel(tenant_of(router.current_event), job_id, body))


@router.post('/v1/jobs/<jobId>/retry', summary='Retry a failed or canceled job', tags=['Jobs'])
def retry_job(job_id: Annotated[str, Path(alias='jobId')]) -> JobResponse:
    return JobResponse(data=service().retry(tenant_of(router.current_event), job_id))


@router.post('/v1/jobs/<jobId>/split', summary='Split a job into parts', tags=['Jobs'])
def split_job(job_id: Annotated[str, Path(alias='jobId')], body: Annotated[JobSplitDetails, Body()]) -> JobResponse:
    return JobResponse(data=service().split(tenant_of(router.current_event), job_id, body))
