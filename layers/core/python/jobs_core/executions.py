"""Step Functions executions of system jobs (AWS adapter): start one per attempt, stop on cancel."""

import json
from functools import cache
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from jobs_core.dynamo import CLIENT_CONFIG, error_code
from jobs_core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from jobs_core.models.job import Job
    from jobs_core.models.tenant import Tenant

_BUSY = frozenset({'ThrottlingException', 'ServiceUnavailable', 'InternalServerError'})


class Executions(Protocol):
    def start(self, tenant: 'Tenant', job: 'Job') -> str: ...
    def stop(self, execution_arn: str, cause: str) -> None: ...


@cache
def stepfunctions_client() -> 'SFNClient':
    import boto3  # noqa: PLC0415 - only the dispatcher pays for it

    return boto3.client('stepfunctions', config=CLIENT_CONFIG)


def execution_name(job: 'Job') -> str:
    # Named after the job and its attempt: a duplicate job:ready cannot start a second execution.
    return f'{job.id}-{job.attempt}'


class StepFunctionsExecutions:
    def __init__(self, state_machine_arn: str, client: 'SFNClient | None' = None) -> None:
        self._machine = state_machine_arn
        self._client = client or stepfunctions_client()

    def start(self, tenant: 'Tenant', job: 'Job') -> str:
        name = execution_name(job)
        task = {
            'jobId': job.id,
            'environmentId': tenant.environment_id,
            'accountId': tenant.account_id,
            'attempt': job.attempt,
        }
        try:
            return self._client.start_execution(stateMachineArn=self._machine, name=name, input=json.dumps(task))[
                'executionArn'
            ]
        except ClientError as error:
            if error_code(error) == 'ExecutionAlreadyExists':
                return self._machine.replace(':stateMachine:', ':execution:') + f':{name}'
            if error_code(error) in _BUSY:
                raise ServiceUnavailable('Step Functions is busy') from error
            raise

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            self._client.stop_execution(executionArn=execution_arn, error='JobCanceled', cause=cause)
        except ClientError as error:
            if error_code(error) == 'ExecutionDoesNotExist':
                return
            if error_code(error) in _BUSY:
                raise ServiceUnavailable('Step Functions is busy') from error
            raise
