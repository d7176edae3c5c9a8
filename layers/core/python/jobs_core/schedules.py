"""One-time EventBridge Scheduler schedules that release scheduled jobs (AWS adapter)."""

import json
from functools import cache
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from jobs_core.dynamo import CLIENT_CONFIG, error_code
from jobs_core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_scheduler import EventBridgeSchedulerClient

    from jobs_core.models.tenant import Tenant


class JobSchedules(Protocol):
    def release_at(self, tenant: 'Tenant', job_id: str, attempt: int, when: 'datetime') -> None: ...


@cache
def scheduler_client() -> 'EventBridgeSchedulerClient':
    import boto3  # noqa: PLC0415 - only the gates function pays for it

    return boto3.client('scheduler', config=CLIENT_CONFIG)


def release_message(tenant: 'Tenant', job_id: str) -> dict[str, dict[str, str]]:
    return {'release': {'accountId': tenant.account_id, 'environmentId': tenant.environment_id, 'jobId': job_id}}


class EventBridgeSchedules:
    """Each schedule sends a release message to the gates queue at the job's time, then deletes itself."""

    def __init__(
        self, target_arn: str, role_arn: str, group: str = 'default', client: 'EventBridgeSchedulerClient | None' = None
    ) -> None:
        self._target = target_arn
        self._role = role_arn
        self._group = group
        self._client = client or scheduler_client()

    def release_at(self, tenant: 'Tenant', job_id: str, attempt: int, when: 'datetime') -> None:
        try:
            self._client.create_schedule(
                Name=f'{job_id}-{attempt}',  # one per attempt: a redelivered event creates nothing new
                GroupName=self._group,
                ScheduleExpression=f'at({when.strftime("%Y-%m-%dT%H:%M:%S")})',
                ScheduleExpressionTimezone='UTC',
                FlexibleTimeWindow={'Mode': 'OFF'},
                ActionAfterCompletion='DELETE',
                Target={
                    'Arn': self._target,
                    'RoleArn': self._role,
                    'Input': json.dumps(release_message(tenant, job_id)),
                    'RetryPolicy': {'MaximumRetryAttempts': 185, 'MaximumEventAgeInSeconds': 86400},
                },
            )
        except ClientError as error:
            if error_code(error) == 'ConflictException':
                return
            if error_code(error) in {'ThrottlingException', 'InternalServerException', 'ServiceQuotaExceededException'}:
                raise ServiceUnavailable('The scheduler is busy') from error
            raise
