"""The steps of the system job state machine: one Lambda, the step named in the payload."""

from functools import cache
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel

from jobs_core.jobs import JobService
from jobs_core.observability import logger, tracer
from jobs_core.settings import table_settings
from jobs_core.store import DynamoJobStore
from jobs_core.system.catalog import operations
from jobs_core.system.runtime import Runtime, Task, TimeBudget

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Each process call stops taking new work this long before Lambda's timeout, and never runs
# longer than BUDGET_SECONDS: far from 15 minutes, and the state machine continues the work.
SAFETY_SECONDS: Final = 60
BUDGET_SECONDS: Final = 240


class StepRequest(BaseModel):
    step: Literal['acknowledge', 'prepare', 'process', 'finalize', 'fail']
    task: Task


@cache
def runtime() -> Runtime:
    return Runtime(JobService(DynamoJobStore(table_settings().table_name)), operations())


def budget_for(context: 'LambdaContext') -> TimeBudget:
    remaining = context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    return TimeBudget(max(1.0, min(BUDGET_SECONDS, remaining)))


@logger.inject_lambda_context(correlation_id_path='task.jobId')
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: 'LambdaContext', steps: Runtime | None = None) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    run = steps or runtime()
    task = request.task
    match request.step:
        case 'acknowledge':
            task = run.acknowledge(task)
        case 'prepare':
            task = run.prepare(task)
        case 'process':
            task = run.process(task, budget_for(context))
        case 'finalize':
            task = run.finalize(task)
        case 'fail':
            error = event['task'].get('error') or {}
            task = run.fail(task, str(error.get('Error', 'Unknown')), str(error.get('Cause', '')))
    return task.model_dump(mode='json', by_alias=True)
