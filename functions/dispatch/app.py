"""Starts the state machine of each ready system job, stops it when the job is canceled, and plans
the jobs the platform plans (a map job's plan, while it is `planning`).

Fed through SQS by EventBridge rules on managed system jobs (job:ready, and job:updated when
canceled; job:created and job:updated of planning map jobs). Starting is idempotent (the execution
is named after the job's attempt), and so is planning (a plan already there is kept).
"""

import json
import os
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pydantic import BaseModel, ConfigDict, Field

from jobs_core.errors import NotFound
from jobs_core.executions import Executions, StepFunctionsExecutions
from jobs_core.jobs import JobService
from jobs_core.lifecycle import planned
from jobs_core.models.event import Event
from jobs_core.models.tenant import Tenant
from jobs_core.observability import logger, metrics, tracer
from jobs_core.settings import table_settings
from jobs_core.store import DynamoJobStore
from jobs_core.system.operations import is_system

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from jobs_core.plans import PlanService

ACTOR: Final = 'us_sys_dispatch'


class DispatchSettings(BaseModel):
    model_config = ConfigDict(extra='ignore')

    state_machine_arn: str = Field(alias='STATE_MACHINE_ARN', min_length=1)


@cache
def service() -> JobService:
    return JobService(DynamoJobStore(table_settings().table_name))


@cache
def executions() -> Executions:
    return StepFunctionsExecutions(DispatchSettings.model_validate(dict(os.environ)).state_machine_arn)


def planner() -> 'PlanService':
    from jobs_core.data_jobs import data_plane  # noqa: PLC0415 - the data plane only when a job plans

    return data_plane().plans


def dispatch(event: Event, jobs: JobService, runs: Executions, plans: 'Callable[[], PlanService]' = planner) -> None:
    if event.context.job_id is None:
        return
    tenant = Tenant(event.context.account_id, event.context.environment_id, ACTOR)
    try:
        job = jobs.get(tenant, event.context.job_id)
    except NotFound:
        return  # deleted since: nothing to run or stop
    if not job.managed or not is_system(job.type, job.operation):
        return
    if job.status == 'planning' and planned(job.type, job.operation):
        if plans().plan(tenant, job) is not None:
            logger.info('Job planned', job_id=job.id)
    elif job.status == 'ready':
        arn = runs.start(tenant, job)
        jobs.record_execution(tenant, job.id, job.attempt, arn)
        logger.info('System job started', job_id=job.id, attempt=job.attempt, execution_arn=arn)
    elif job.status == 'canceled' and job.execution_arn:
        runs.stop(job.execution_arn, cause=f'Job {job.id} was canceled')
        logger.info('System job stopped', job_id=job.id, execution_arn=job.execution_arn)


processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: 'SQSRecord') -> None:
    dispatch(Event.model_validate(json.loads(record.body)['detail']), service(), executions())


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: 'LambdaContext') -> 'PartialItemFailureResponse':
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
