"""The job-handler helper, in the spirit of Flatfile's `@flatfile/plugin-job-handler`.

```python
@listener.job('workbook:export')
def export(event: Event, tick: Tick) -> dict[str, Any]:
    tick(50, 'Halfway there')
    return {'message': 'Exported 1,000 rows'}
```

On `job:ready` for the job it:
1. acks the job (`info: "Accepted"`, `progress: 0`). A 409 (the job was finished or canceled
   meanwhile) or an ack that finds the job already started by someone else means another
   listener has it: the event is skipped quietly;
2. calls the function with `(event, tick)`, or `(event, tick, api)` if it takes three arguments;
   `tick(progress, info)` acks again with the progress;
3. completes the job with what the function returns: a `JobOutcome` or its dict, a
   `JobCompleteDetails` or its dict (`{'outcome': ..., 'info': ...}`), or None for a default message;
4. if the function raised (or returned something that is not a valid outcome), fails the job with
   `outcome: {message: str(error), acknowledge: true}`, so a job is never left executing because
   its code failed.

Whether the job was already started by someone else is the ack's own answer (`jobs.claim`, the
API's `Job-Started` header): of several listeners acking one ready job, exactly one is told it
started it; for the others the ack was a progress tick, and they leave the job alone.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from jobs_core.models.job import Job, JobCompleteDetails, JobOutcome
from jobs_sdk.errors import JobsApiError
from jobs_sdk.listener import positional_arity, settle

if TYPE_CHECKING:
    from jobs_core.models.event import Event
    from jobs_sdk.client import JobsClient
    from jobs_sdk.listener import ListenerNode
    from jobs_sdk.matching import Filter

logger = logging.getLogger('jobs_sdk')

ACCEPTED: Final = 'Accepted'
DEFAULT_MESSAGE: Final = 'Job complete'
_COMPLETE_DETAILS_KEYS: Final = frozenset({'outcome', 'info'})

JobResult = JobOutcome | JobCompleteDetails | Mapping[str, Any] | None
JobFunction = Callable[..., object]


class Tick:
    """`tick(progress, info=None)`: report progress (0-100) on the job, with an ack."""

    def __init__(self, api: 'JobsClient', job_id: str) -> None:
        self.api = api
        self.job_id = job_id

    def __call__(self, progress: float, info: str | None = None) -> Job:
        return self.api.jobs.ack(self.job_id, progress=min(max(round(progress), 0), 100), info=info)


def completion(result: object) -> JobCompleteDetails:
    """What a job function returned, as the body of the complete call."""
    if result is None:
        return JobCompleteDetails(outcome=JobOutcome(message=DEFAULT_MESSAGE))
    if isinstance(result, JobCompleteDetails):
        return result
    if isinstance(result, JobOutcome):
        return JobCompleteDetails(outcome=result)
    if isinstance(result, Mapping):
        if result and result.keys() <= _COMPLETE_DETAILS_KEYS:
            return JobCompleteDetails.model_validate(result)
        return JobCompleteDetails(outcome=JobOutcome.model_validate(result))
    raise TypeError(f'A job function returns a JobOutcome, a dict or None, not {type(result).__name__}')


def run_job(event: 'Event', api: 'JobsClient', function: JobFunction) -> Job | None:
    """Ack, run, complete or fail one job. Returns the finished job, or None when it was skipped
    (another listener has it) or changed under us (e.g. canceled while running)."""
    job_id = event.context.job_id
    if not job_id:
        logger.warning('%s %s names no job; skipped', event.topic, event.id)
        return None
    try:
        acked, started = api.jobs.claim(job_id, info=ACCEPTED, progress=0)
    except JobsApiError as error:
        if error.status != 409:
            raise
        logger.info('Job %s skipped: %s', job_id, error)
        return None
    if not started:
        logger.info('Job %s skipped: another listener started it at %s', job_id, acked.started_at)
        return None

    tick = Tick(api, job_id)
    try:
        arguments = (event, tick, api) if positional_arity(function) >= 3 else (event, tick)
        details = completion(settle(function(*arguments)))
    except Exception as error:  # the function's own failure, or a return value that is no outcome
        logger.exception('Job %s failed', job_id)
        return _finish(api.jobs.fail, job_id, JobOutcome(message=str(error) or type(error).__name__, acknowledge=True))
    try:
        return _finish(api.jobs.complete, job_id, details.outcome, details.info)
    except JobsApiError as error:
        if error.status != 400:
            raise
        # The API refused the outcome (e.g. a message over its limit): the job must still end.
        return _finish(api.jobs.fail, job_id, JobOutcome(message=str(error), acknowledge=True))


def _finish(call: Callable[..., Job], job_id: str, outcome: JobOutcome | None, info: str | None = None) -> Job | None:
    try:
        return call(job_id, outcome=outcome, info=info)
    except JobsApiError as error:
        if error.status != 409:
            raise
        logger.info('Job %s was not finished here: %s', job_id, error)  # canceled meanwhile, say
        return None


def job_handler(
    job: str | Sequence[str], function: JobFunction, event_filter: 'Filter | None' = None, **filters: Any
) -> 'Callable[[ListenerNode], None]':
    """A plugin for `listener.use(...)`: `function` handles `job:ready` for `job` (a glob or a list,
    e.g. 'workbook:export'); extra filters narrow it further (`isPart=False`)."""

    def install(listener: 'ListenerNode') -> None:
        def handle(event: 'Event', api: 'JobsClient') -> None:
            run_job(event, api, function)

        handle.__qualname__ = getattr(function, '__qualname__', 'job_handler')
        listener.on(
            'job:ready', {**(event_filter or {}), 'job': job if isinstance(job, str) else list(job), **filters}
        )(handle)

    return install
