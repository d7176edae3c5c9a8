"""The Jobs domain: what each endpoint does, in terms of the lifecycle and the store port."""

import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools.metrics import MetricUnit

from jobs_core import ids, lifecycle
from jobs_core.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from jobs_core.lifecycle import TERMINAL, Action, Change
from jobs_core.models.job import (
    Job,
    JobAckDetails,
    JobCancelDetails,
    JobCompleteDetails,
    JobCreate,
    JobListQuery,
    JobOutcome,
    JobSplitDetails,
    JobUpdate,
)
from jobs_core.models.tenant import Tenant
from jobs_core.observability import metrics
from jobs_core.store import ConditionFailed, JobPage, JobStore, PredecessorsChanged
from jobs_core.system.configs import check_config
from jobs_core.system.operations import is_system
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# A part's id is its parent's plus its index, so a transition knows, without reading, that it
# must also count the part on its parent.
PART_ID: Final = re.compile(r'^(?P<parent>us_jb_[a-z0-9]+)_p(?P<index>\d{4})$')
COUNTERS: Final = {'complete': 'partsCompleted', 'failed': 'partsFailed', 'canceled': 'partsCanceled'}
_ATTEMPTS: Final = 5


def part_id(parent_id: str, index: int) -> str:
    return f'{parent_id}_p{index:04d}'


class JobService:
    def __init__(self, store: JobStore, clock: Callable[[], datetime] = now) -> None:
        self._store = store
        self._clock = clock

    def create(self, tenant: Tenant, body: JobCreate) -> Job:
        if body.environment_id is not None and body.environment_id != tenant.environment_id:
            raise BadRequest("environmentId must be the API key's environment", key='environmentId')
        if body.predecessor_ids and body.scheduled_at:
            raise BadRequest('A job waits either for predecessors or for a time, not both', key='scheduledAt')
        system = is_system(body.type, body.operation)
        if system and (body.managed if body.managed is not None else True):
            # the platform runs it: it must be runnable
            check_config(f'{body.type}:{body.operation}', body.config, body.source)
        for _ in range(_ATTEMPTS):
            job = self._new_job(tenant, body)
            try:
                self._store.create(tenant, job)
            except PredecessorsChanged:
                continue  # a predecessor finished meanwhile: decide again from its new status
            metrics.add_metric(name='JobsCreated', unit=MetricUnit.Count, value=1)
            return job
        raise ServiceUnavailable('The predecessors keep changing; retry shortly')

    def _new_job(self, tenant: Tenant, body: JobCreate) -> Job:
        stamp = self._clock()
        fields = body.model_dump(exclude_none=True, exclude={'status', 'environment_id'})
        if fields.get('file_id') is None and body.source.startswith('us_fl_'):
            fields['file_id'] = body.source
        status = lifecycle.initial_status(body)
        gate: dict[str, object] = {}
        if body.scheduled_at is not None and body.scheduled_at > stamp:
            gate = {'status': 'scheduled', 'release_status': status}
        elif body.predecessor_ids and (waiting_on := self._unfinished(tenant, body.predecessor_ids)):
            gate = {'status': 'waiting', 'release_status': status, 'waiting_on': sorted(waiting_on)}
        return Job.model_validate(
            {
                'trigger': 'manual',
                'progress': 0,
                # The platform runs system operations itself unless the caller says it will.
                'managed': is_system(body.type, body.operation),
                **fields,
                'id': ids.new_id(ids.JOB),
                'status': status,
                **gate,
                'environment_id': tenant.environment_id,
                'created_by': tenant.actor_id,
                'created_at': stamp,
                'updated_at': stamp,
                'version': 1,
                'attempt': 1,
            }
        )

    def _unfinished(self, tenant: Tenant, predecessor_ids: list[str]) -> set[str]:
        """The predecessors still to complete; a missing, failed or canceled one is refused."""
        found = self._store.get_many(tenant, predecessor_ids)
        for predecessor in predecessor_ids:
            if predecessor not in found:
                raise BadRequest(f'Predecessor {predecessor} not found', key='predecessorIds')
            if found[predecessor].status in {'failed', 'canceled'}:
                raise Conflict(
                    f'Predecessor {predecessor} is {found[predecessor].status}; nothing can wait for it',
                    key='predecessorIds',
                )
        return {job.id for job in found.values() if job.status != 'complete'}

    def get(self, tenant: Tenant, job_id: str) -> Job:
        job = self._store.get(tenant, job_id)
        if job is None:
            raise _not_found(job_id)
        return job

    def page(self, tenant: Tenant, query: JobListQuery) -> JobPage:
        return self._store.list(tenant, query)

    def update(self, tenant: Tenant, job_id: str, body: JobUpdate) -> Job:
        stamp = self._clock()
        return self._apply(tenant, job_id, lifecycle.update(body, stamp), stamp)

    def execute(self, tenant: Tenant, job_id: str) -> Job:
        return self._transition(tenant, job_id, Action.EXECUTE)

    def ack(self, tenant: Tenant, job_id: str, details: JobAckDetails | None) -> tuple[Job, bool]:
        """Acknowledge a job: ready → executing, or a progress tick while it executes. Also says
        whether this call is the one that started it, so of two listeners racing for a job exactly
        one learns it is theirs (the other's ack is a tick). One conditional write either way."""
        fields = details.model_dump(by_alias=True, exclude_none=True, mode='json') if details else {}
        stamp = self._clock()
        change = lifecycle.transition(Action.ACK, stamp, fields)
        token = secrets.token_hex(8)
        change.assign_if_absent['startToken'] = token
        job = self._apply(tenant, job_id, change, stamp)
        return job, job.start_token == token

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

    def split(self, tenant: Tenant, job_id: str, details: JobSplitDetails) -> Job:
        """Split an executing job into parts: parallel parts are ready at once, sequential ones each
        wait for the one before. The parent counts its parts' outcomes and stays executing."""
        parent = self.get(tenant, job_id)
        if parent.parent_id is not None:
            raise Conflict(f'Job {job_id} is itself a part and cannot be split', key='jobId')
        if parent.parts_total is not None:
            raise Conflict(f'Job {job_id} is already split into {parent.parts_total} parts', key='jobId')
        if parent.status not in lifecycle.TRANSITIONS[Action.SPLIT].sources:
            raise Conflict(f'Cannot split job {job_id}: it is {parent.status} (allowed only when executing)')
        stamp = self._clock()
        datas = [{'part': index} for index in range(details.parts)] if isinstance(details.parts, int) else details.parts
        execution = 'parallel' if details.run_in_parallel else 'sequential'
        shared = parent.model_dump(
            include={'type', 'operation', 'source', 'destination', 'config', 'space_id', 'file_id', 'mode'}
            | {'input', 'subject', 'managed', 'environment_id'},
            exclude_none=True,
        )
        parts = []
        for index, data in enumerate(datas):
            previous = part_id(parent.id, index - 1) if index and execution == 'sequential' else None
            gate = {'status': 'waiting', 'release_status': 'ready', 'waiting_on': [previous]} if previous else {}
            parts.append(
                Job.model_validate(
                    {
                        **shared,
                        'id': part_id(parent.id, index),
                        'status': 'ready',
                        **gate,
                        'predecessor_ids': [previous] if previous else None,
                        'trigger': 'immediate',
                        'progress': 0,
                        'parent_id': parent.id,
                        'part': index,
                        'part_data': data,
                        'part_execution': execution,
                        'created_by': tenant.actor_id,
                        'created_at': stamp,
                        'updated_at': stamp,
                        'version': 1,
                        'attempt': 1,
                    }
                )
            )
        try:
            self._store.split(tenant, parent, parts, format_timestamp(stamp))
        except ConditionFailed as failed:
            raise Conflict(f'Job {job_id} changed while being split; read it and try again', key='jobId') from failed
        return self.get(tenant, job_id)

    # ---------------------------------------------------------------- gates
    def predecessor_finished(self, tenant: Tenant, job_id: str, status: str) -> list[str]:
        """Let the jobs waiting on `job_id` go on (it completed) or fail (it failed or was canceled).
        Returns the dependents acted on; safe to call again for the same event."""
        acted = []
        stamp = self._clock()
        for dependent in self._store.dependents(tenant, job_id):
            if status == 'complete':
                job = self._store.stop_waiting_on(tenant, dependent, job_id, format_timestamp(stamp))
                if job is None or job.waiting_on:
                    continue
                released = self.release(tenant, dependent, job.release_status or 'ready')
            else:
                outcome = JobOutcome(message=f'Predecessor job {job_id} {status}', acknowledge=True)
                change = lifecycle.transition(
                    Action.FAIL, stamp, {'outcome': outcome.model_dump(by_alias=True, exclude_none=True)}
                )
                change.sources = frozenset({'waiting'})
                released = self._try(tenant, dependent, change, stamp)
            if released is not None:
                acted.append(dependent)
        return acted

    def release(self, tenant: Tenant, job_id: str, target: str) -> Job | None:
        """A waiting or scheduled job goes on; None when it already did, or was canceled meanwhile."""
        stamp = self._clock()
        return self._try(tenant, job_id, lifecycle.release(target, stamp), stamp)

    def release_scheduled(self, tenant: Tenant, job_id: str) -> Job | None:
        job = self._store.get(tenant, job_id)
        if job is None or job.status != 'scheduled':
            return None
        return self.release(tenant, job_id, job.release_status or 'created')

    def advance(self, tenant: Tenant, job_id: str, action: Action, fields: dict[str, object], attempt: int) -> Job:
        """A transition made by the platform for one attempt of a job: refused (409) once the job
        has moved on to another attempt, so a stale execution can never write to a retried job."""
        stamp = self._clock()
        change = lifecycle.transition(action, stamp, fields)
        if action is Action.ACK and fields.get('progress', 0):
            change.sources = frozenset({'executing'})  # progress only while running, never re-acking
        change.expect['attempt'] = attempt
        return self._apply(tenant, job_id, change, stamp)

    def record_execution(self, tenant: Tenant, job_id: str, attempt: int, execution_arn: str) -> Job | None:
        """Note the execution running this attempt (so a cancel can stop it); None if it moved on."""
        stamp = self._clock()
        change = Change(action=Action.UPDATE, sources=lifecycle.ACTIVE, assign={'executionArn': execution_arn})
        change.expect['attempt'] = attempt
        return self._try(tenant, job_id, change, stamp)

    def _try(self, tenant: Tenant, job_id: str, change: Change, stamp: datetime) -> Job | None:
        try:
            return self._apply(tenant, job_id, change, stamp)
        except (Conflict, NotFound):
            return None

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

    def apply_with_item(
        self,
        tenant: Tenant,
        job_id: str,
        change: Change,
        item: dict[str, 'AttributeValueTypeDef'],
        *,
        item_is_new: bool = False,
    ) -> Job:
        """`change` and an item that belongs with the job (its plan), written together or not at all;
        refused as any change of the job is (404, 409), or when `item_is_new` and the item exists."""
        return self._apply(tenant, job_id, change, self._clock(), item, item_is_new=item_is_new)

    def _apply(
        self,
        tenant: Tenant,
        job_id: str,
        change: Change,
        stamp: datetime,
        item: 'dict[str, AttributeValueTypeDef] | None' = None,
        *,
        item_is_new: bool = False,
    ) -> Job:
        if PART_ID.match(job_id) and lifecycle.touches_terminal(change):
            return self._apply_to_part(tenant, job_id, change, stamp)
        try:
            if item is None:
                job = self._store.apply(tenant, job_id, change, format_timestamp(stamp))
            else:
                job = self._store.apply_with_item(
                    tenant, job_id, change, format_timestamp(stamp), item, item_is_new=item_is_new
                )
        except ConditionFailed as failed:
            if failed.current is None:
                raise _not_found(job_id) from failed
            if failed.current.status in change.already_done:
                return failed.current
            metrics.add_metric(name='JobTransitionsRefused', unit=MetricUnit.Count, value=1)
            raise Conflict(lifecycle.explain_conflict(change, failed.current), key='status') from failed
        metrics.add_metric(name='JobTransitions', unit=MetricUnit.Count, value=1)
        return job

    def _apply_to_part(self, tenant: Tenant, job_id: str, change: Change, stamp: datetime) -> Job:
        """A part's move into or out of a terminal status is counted on its parent in the same
        transaction: read the part, then write both, conditioned on the part's version."""
        for _ in range(_ATTEMPTS):
            part = self.get(tenant, job_id)
            if part.status not in change.sources:
                if part.status in change.already_done:
                    return part
                raise Conflict(lifecycle.explain_conflict(change, part), key='status')
            counters: dict[str, int] = {}
            target = change.assign.get('status')
            if isinstance(target, str) and target in COUNTERS:
                counters[COUNTERS[target]] = 1
            if part.status in TERMINAL:
                counters[COUNTERS[part.status]] = counters.get(COUNTERS[part.status], 0) - 1
            try:
                job = self._store.apply_to_part(tenant, part, change, format_timestamp(stamp), counters)
            except ConditionFailed:
                continue  # the part changed under us: decide again on what it is now
            metrics.add_metric(name='JobTransitions', unit=MetricUnit.Count, value=1)
            return job
        raise Conflict(f'Job {job_id} keeps changing; read it and try again', key='status')


def _not_found(job_id: str) -> NotFound:
    return NotFound(f'Job {job_id} not found', key='jobId')
