"""The steps of every system job, as the state machine calls them.

acknowledge → prepare → process (repeated until finished, each call within a time budget) →
finalize; any failure → fail. Every write is conditioned on the job still running the attempt
this execution was started for, so a canceled or retried job is never written by a stale
execution: the step raises JobStopped and the machine ends without touching it again.
"""

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from jobs_core.errors import Conflict, NotFound
from jobs_core.jobs import JobService
from jobs_core.lifecycle import Action
from jobs_core.models.tenant import Tenant
from jobs_core.observability import logger
from jobs_core.system.operations import Budget, Completion, Context, JobStopped, Operation, OperationFailed

__all__ = ['ACTOR', 'MAX_CURSOR_BYTES', 'JobStopped', 'Runtime', 'Task', 'TimeBudget']

ACTOR: Final = 'us_sys_runtime'
# A cursor rides in every Step Functions payload (256 KiB at most): keep it to ids and offsets.
MAX_CURSOR_BYTES: Final = 8 * 1024


class Task(BaseModel):
    """The state machine's payload between steps: ids, counts and a small cursor, never data."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True)

    job_id: str
    environment_id: str
    account_id: str
    attempt: int
    operation: str = ''
    total: int | None = None
    estimated: bool = False  # the total is an estimate (learnt on the way)
    processed: int = 0
    percent: int = 0
    unit: str = 'items'
    verb: str = 'Processed'
    cursor: dict[str, Any] = Field(default_factory=dict)
    started: float | None = None
    finished: bool = False

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.account_id, self.environment_id, ACTOR)


class TimeBudget:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def left(self) -> float:
        return max(0.0, self._end - self._clock())


class Runtime:
    def __init__(
        self,
        service: JobService,
        operations: Mapping[str, Callable[[], Operation]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._service = service
        self._operations = operations
        self._clock = clock

    # ------------------------------------------------------------ steps
    def acknowledge(self, task: Task) -> Task:
        job = self._running(task, statuses=frozenset({'ready', 'executing'}))
        self._advance(task, Action.ACK, {'info': 'Starting', 'progress': 0})
        return task.model_copy(update={'operation': f'{job.type}:{job.operation}'})

    def prepare(self, task: Task) -> Task:
        context = self._context(task)
        plan = self._operation(task).prepare(context)
        self._check_cursor(plan.cursor)
        return task.model_copy(
            update={
                'total': plan.total,
                'estimated': plan.estimated,
                'unit': plan.unit,
                'verb': plan.verb,
                'cursor': plan.cursor,
                'started': self._clock(),
            }
        )

    def process(self, task: Task, budget: Budget) -> Task:
        context = self._context(task)  # the chunk boundary: a canceled job stops here
        step = self._operation(task).process(context, task.cursor, budget)
        self._check_cursor(step.cursor)
        processed = task.processed + step.done_units
        total = step.total if step.total is not None else task.total
        percent = min(99, processed * 100 // total) if total else task.percent
        advanced = task.model_copy(
            update={
                'cursor': step.cursor,
                'processed': processed,
                'total': total,
                'estimated': step.estimated if step.total is not None else task.estimated,
                'finished': step.finished,
            }
        )
        # One write per whole percent at most: a job emits about 100 job:updated events, whatever its size.
        if percent > task.percent:
            self._advance(task, Action.ACK, self._progress(advanced, percent))
            advanced = advanced.model_copy(update={'percent': percent})
        return advanced

    def finalize(self, task: Task) -> Task:
        finished = self._operation(task).finalize(self._context(task), task.cursor)
        completion = finished if isinstance(finished, Completion) else Completion(outcome=finished)
        extra = {name: value for name, value in completion.fields.items() if name in {'config', 'result'}}
        info = f'{task.verb} {task.processed:,} {task.unit}'
        self._advance(task, Action.COMPLETE, {**extra, 'outcome': completion.outcome, 'info': info})
        return task

    def fail(self, task: Task, error: str, cause: str) -> Task:
        """Fail the job with a message a person can act on; nothing if it is no longer ours."""
        message = _message(error, cause)
        logger.warning('System job failed', job_id=task.job_id, error=error, reason=message)
        with contextlib.suppress(JobStopped):  # already canceled or retried: nothing of ours to fail
            self._advance(task, Action.FAIL, {'outcome': {'message': message, 'acknowledge': True}, 'info': message})
        return task

    # ------------------------------------------------------------ helpers
    def _operation(self, task: Task) -> Operation:
        factory = self._operations.get(task.operation)
        if factory is None:
            raise OperationFailed(f'{task.operation} is not an operation this platform runs')
        return factory()

    def _running(self, task: Task, statuses: frozenset[str] = frozenset({'executing'})) -> Any:
        try:
            job = self._service.get(task.tenant, task.job_id)
        except NotFound as gone:
            raise JobStopped(f'Job {task.job_id} was deleted') from gone
        if job.attempt != task.attempt or job.status not in statuses:
            raise JobStopped(f'Job {task.job_id} is {job.status} (attempt {job.attempt}); this execution stops')
        return job

    def _context(self, task: Task) -> Context:
        return Context(tenant=task.tenant, job=self._running(task))

    def _advance(self, task: Task, action: Action, fields: dict[str, Any]) -> None:
        try:
            self._service.advance(task.tenant, task.job_id, action, fields, attempt=task.attempt)
        except (Conflict, NotFound) as stopped:
            raise JobStopped(str(stopped)) from stopped

    def _progress(self, task: Task, percent: int) -> dict[str, Any]:
        fields: dict[str, Any] = {'progress': percent}
        if task.total:
            about = 'about ' if task.estimated else ''
            fields['info'] = f'{task.verb} {task.processed:,} of {about}{task.total:,} {task.unit}'
        if task.started is not None and task.processed and task.total:
            elapsed = self._clock() - task.started
            remaining = elapsed / task.processed * (task.total - task.processed)
            eta = datetime.fromtimestamp(self._clock(), UTC) + timedelta(seconds=remaining)
            fields['estimatedCompletionAt'] = eta.isoformat(timespec='milliseconds').replace('+00:00', 'Z')
        return fields

    @staticmethod
    def _check_cursor(cursor: dict[str, Any]) -> None:
        if len(json.dumps(cursor)) > MAX_CURSOR_BYTES:
            raise OperationFailed('Internal: an operation cursor grew past its limit')


def _message(error: str, cause: str) -> str:
    """What Step Functions caught, as a sentence: the operation's own message when it gave one."""
    try:
        detail = json.loads(cause)
        message = str(detail.get('errorMessage') or '')
        error = str(detail.get('errorType') or error)
    except (ValueError, TypeError, AttributeError):
        message = cause
    if error == 'OperationFailed' and message:
        return message
    if error in {'States.Timeout', 'Sandbox.Timedout'}:
        return 'The job took too long and was stopped; retry it, or split the work'
    return f'The job failed unexpectedly ({error}); retry it, and contact support if it fails again'
