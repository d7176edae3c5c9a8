"""Whether a system job may still write: it executes the attempt its execution was started for.

The runtime checks it at every step (the chunk boundary). Inside a step, an operation checks again
around its writes: a guard it calls (one consistent read of the job), or a guard that rides in the
write's own transaction (records_store.JobGuard), so that nothing lands after a cancel.
"""

from typing import TYPE_CHECKING

from jobs_core.errors import NotFound
from jobs_core.records_store import JobGuard
from jobs_core.system.operations import JobStopped

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.system.operations import Context


class Running:
    """A check that the context's job is still executing its attempt; raises JobStopped when not."""

    def __init__(self, jobs: 'JobService', context: 'Context') -> None:
        self._jobs = jobs
        self._context = context

    def __call__(self) -> None:
        job = self._context.job
        try:
            current = self._jobs.get(self._context.tenant, job.id)
        except NotFound as gone:
            raise JobStopped(f'Job {job.id} was deleted') from gone
        if current.status != 'executing' or current.attempt != job.attempt:
            raise JobStopped(f'Job {job.id} is {current.status} (attempt {current.attempt}); this step stops')

    def transactional(self) -> JobGuard:
        job = self._context.job
        return JobGuard(self._context.tenant.environment_id, job.id, job.attempt)
