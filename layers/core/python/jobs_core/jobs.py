"""The Jobs domain: what each endpoint does, in terms of the lifecycle and the store port."""

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from jobs_core import ids, lifecycle
from jobs_core.errors import BadRequest, Conflict, NotFound
from jobs_core.lifecycle import Action, Change
from jobs_core.models.job import (
    Job,
    JobAckDetails,
    JobCancelDetails,
    JobCompleteDetails,
    JobCreate,
    JobListQuery,
    JobUpdate,
)
from jobs_core.models.tenant import Tenant
from jobs_core.observability import metrics
from jobs_core.store import ConditionFailed, JobPage, JobStore
from jobs_core.timestamps import format_timestamp, now


class JobService:
    def __init__(self, store: JobStore, clock: Callable[[], datetime] = now) -> None:
        self._store = store
        self._clock = clock

    def create(self, tenant: Tenant, body: JobCreate) -> Job:
        if body.environment_id is not None and body.environment_id != tenant.environment_id:
            raise BadRequest("environmentId must be the API key's environment", key='environmentId')
        stamp = self._clock()
        fields = body.model_dump(exclude_none=True, exclude={'status', 'environment_id'})
        if fields.get('file_id') is None and body.source.startswith('us_fl_'):
            fields['file_id'] = body.source
        job = Job.model_validate(
            {
                'trigger': 'manual',
                'progress': 0,
                'managed': False,
                **fields,
                'id': ids.new_id(ids.JOB),
                'status': lifecycle.initial_status(body),
                'environment_id': tenant.environment_id,
                'created_by': tenant.actor_id,
                'created_at': stamp,
                'updated_at': stamp,
                'version': 1,
                'attempt': 1,
            }
        )
        self._store.create(tenant, job)
        metrics.add_metric(name='JobsCreated', unit=MetricUnit.Count, value=1)
        return job

    def get(self, tenant: Tenant, job_id: str) -> Job:
        job = self._store.get(tenant, job_id)
        if job is None:
            raise _not_found(job_id)
        return job

    def list(self, tenant: Tenant, query: JobListQuery) -> JobPage:
        return self._store.list(tenant, query)

    def update(self, tenant: Tenant, job_id: str, body: JobUpdate) -> Job:
        stamp = self._clock()
        return self._apply(tenant, job_id, lifecycle.update(body, stamp), stamp)

    def execute(self, tenant: Tenant, job_id: str) -> Job:
        return self._transition(tenant, job_id, Action.EXECUTE)

    def ack(self, tenant: Tenant, job_id: str, details: JobAckDetails | None) -> Job:
        return self._transition(tenant, job_id, Action.ACK, details)

    def complete(self, tenant: Tenant, job_id: str, details: JobCompleteDetails | None) -> Job:
        return self._transition(tenant, job_id, Action.COMPLETE, details)

    def fail(self, tenant: Tenant, job_id: str, details: JobCompleteDetails | None) -> Job:
        return self._transition(tenant, job_id, Action.FAIL, details)

    def cancel(self, tenant: Tenant, job_id: str, details: JobCancelDetails | None) -> Job:
        return self._transition(tenant, job_id, Action.CANCEL, details)

    def retry(self, tenant: Tenant, job_id: str) -> Job:
        return self._transition(tenant, job_id, Action.RETRY)

    def acknowledge_outcome(self, tenant: Tenant, job_id: str) -> Job:
        return self._transition(tenant, job_id, Action.ACKNOWLEDGE_OUTCOME)

    def delete(self, tenant: Tenant, job_id: str) -> Job:
        job = self._store.delete(tenant, job_id)
        if job is None:
            raise _not_found(job_id)
        return job

    def _transition(
        self,
        tenant: Tenant,
        job_id: str,
        action: Action,
        details: JobAckDetails | JobCompleteDetails | JobCancelDetails | None = None,
    ) -> Job:
        fields = details.model_dump(by_alias=True, exclude_none=True, mode='json') if details else {}
        stamp = self._clock()
        return self._apply(tenant, job_id, lifecycle.transition(action, stamp, fields), stamp)

    def _apply(self, tenant: Tenant, job_id: str, change: Change, stamp: datetime) -> Job:
        try:
            job = self._store.apply(tenant, job_id, change, format_timestamp(stamp))
        except ConditionFailed as failed:
            if failed.current is None:
                raise _not_found(job_id) from failed
            if failed.current.status in change.already_done:
                return failed.current
            metrics.add_metric(name='JobTransitionsRefused', unit=MetricUnit.Count, value=1)
            raise Conflict(lifecycle.explain_conflict(change, failed.current), key='status') from failed
        metrics.add_metric(name='JobTransitions', unit=MetricUnit.Count, value=1)
        return job


def _not_found(job_id: str) -> NotFound:
    return NotFound(f'Job {job_id} not found', key='jobId')
