"""Releases jobs held back by a gate: predecessors to finish, or a time to come.

Fed through SQS by an EventBridge rule (a job completed, failed, was canceled, or was scheduled)
and by the one-time schedules this function creates. Every action is conditional, so a message
delivered twice changes nothing the second time.
"""

import json
import os
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pydantic import BaseModel, ConfigDict, Field

from jobs_core.jobs import JobService
from jobs_core.models.event import Event
from jobs_core.models.tenant import Tenant
from jobs_core.observability import logger, metrics, tracer
from jobs_core.schedules import EventBridgeSchedules, JobSchedules
from jobs_core.settings import table_settings
from jobs_core.store import DynamoJobStore
from jobs_core.timestamps import now

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

ACTOR: Final = 'us_sys_gates'
FINISHED: Final = frozenset({'complete', 'failed', 'canceled'})


class GatesSettings(BaseModel):
    model_config = ConfigDict(extra='ignore')

    target_arn: str = Field(alias='SCHEDULER_TARGET_ARN', min_length=1)
    role_arn: str = Field(alias='SCHEDULER_ROLE_ARN', min_length=1)


@cache
def service() -> JobService:
    return JobService(DynamoJobStore(table_settings().table_name))


@cache
def schedules() -> JobSchedules:
    settings = GatesSettings.model_validate(dict(os.environ))
    return EventBridgeSchedules(settings.target_arn, settings.role_arn)


def handle(message: dict[str, Any]) -> None:
    if 'release' in message:
        release = message['release']
        tenant = Tenant(release['accountId'], release['environmentId'], ACTOR)
        service().release_scheduled(tenant, release['jobId'])
        return
    event = Event.model_validate(message['detail'])
    tenant = Tenant(event.context.account_id, event.context.environment_id, ACTOR)
    job_id = event.context.job_id
    status = event.payload.get('status')
    if job_id is None:
        return
    if event.topic == 'job:deleted' or status in FINISHED:
        # A deleted predecessor will never complete: what waits for it fails, naming it.
        outcome = 'deleted' if event.topic == 'job:deleted' else str(status)
        released = service().predecessor_finished(tenant, job_id, outcome)
        logger.info('Predecessor finished', job_id=job_id, status=outcome, dependents=released)
    elif event.topic == 'job:scheduled':
        job = service().get(tenant, job_id)
        if job.status != 'scheduled' or job.scheduled_at is None:
            return
        if job.scheduled_at <= now():
            service().release_scheduled(tenant, job_id)  # its time came while the event travelled
        else:
            schedules().release_at(tenant, job_id, job.attempt, job.scheduled_at)


processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: 'SQSRecord') -> None:
    handle(json.loads(record.body))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: 'LambdaContext') -> 'PartialItemFailureResponse':
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
