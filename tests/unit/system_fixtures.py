"""Fixtures for the system operations through the real state machine: the data plane's API on moto
(tables from template.yaml, the files bucket), the system job ASL run by moto's Step Functions
interpreter, the worker and the dispatcher in process, and the real operations with small batches.

Test modules import the fixture functions (`dynamodb_fixture`, `data_api_fixture`, `system_fixture`);
each registers under its `name`.
"""

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobs_core.data_jobs import data_plane
from jobs_core.dynamo import dynamodb_client
from jobs_core.executions import StepFunctionsExecutions
from jobs_core.jobs import JobService
from jobs_core.models.event import Event, EventContext
from jobs_core.store import DynamoJobStore
from jobs_core.system.catalog import operations
from jobs_core.system.export import Export
from jobs_core.system.extract import Extract
from jobs_core.system.map import Map
from jobs_core.system.operations import Operation
from jobs_core.system.record_edits import DeleteRecords, FindReplace
from jobs_core.system.runtime import Runtime, TimeBudget
from jobs_local.asl import substitute
from jobs_local.template import ROOT, create_tables
from tests.builders import TENANT, LambdaContext, load_entry
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - a fixture the system fixture uses

SMALL_PART = 1024  # bytes: S3's 5 MiB minimum part is lowered to this in moto


@dataclass
class Sizes:
    """How big a system job's chunks are in a test: small, so a few rows make several batches."""

    batch_rows: int = 10
    min_rows: int = 0
    page_size: int = 10
    part_bytes: int = SMALL_PART
    budget_seconds: float = 60.0  # 0: every step stops at its first chance, so jobs take many steps


@dataclass
class System:
    data_api: Any
    sfn: Any
    arn: str
    service: JobService
    sizes: Sizes
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def dispatch(self, job_id: str, topic: str = 'job:ready') -> None:
        """What the dispatcher does with the event the system jobs rule routes to it."""
        context = EventContext(account_id=TENANT.account_id, environment_id=TENANT.environment_id, job_id=job_id)
        event = Event(
            id='us_evt_1', topic=topic, domain='job', created_at='2024-01-01T00:00:00Z', payload={}, context=context
        )
        load_entry('DispatchFunction').dispatch(event, self.service, StepFunctionsExecutions(self.arn))

    def wait(self, job_id: str) -> dict[str, Any]:
        """Wait (with a deadline) for the job's execution to end; the execution as described."""
        execution_arn = self.service.get(TENANT, job_id).execution_arn
        assert execution_arn, f'job {job_id} was not started'
        deadline = time.monotonic() + 120  # generous: moto interprets every state in Python
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described['status'] != 'RUNNING':
                return dict(described)
            time.sleep(0.02)
        raise AssertionError('the execution did not finish')

    def run(self, job_id: str) -> dict[str, Any]:
        """Dispatch a ready job, wait for its execution, and return the job as the API shows it."""
        self.dispatch(job_id)
        self.wait(job_id)
        return self.job(job_id)

    def job(self, job_id: str) -> dict[str, Any]:
        reply = self.data_api.call('GET', f'/v1/jobs/{job_id}')
        assert reply.status == 200, reply.body
        return dict(reply.data)

    def create(self, **fields: Any) -> dict[str, Any]:
        reply = self.data_api.call('POST', '/v1/jobs', {'trigger': 'immediate', **fields})
        assert reply.status == 201, reply.body
        return dict(reply.data)

    def history(self, job_id: str) -> list[dict[str, Any]]:
        execution_arn = self.service.get(TENANT, job_id).execution_arn
        return list(self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)['events'])

    def extract_job(self, file_id: str) -> dict[str, Any]:
        jobs = self.data_api.call('GET', '/v1/jobs', query={'fileId': file_id}).data
        [job] = [job for job in jobs if (job['type'], job['operation']) == ('file', 'extract')]
        return dict(job)


def sized_operations(sizes: Sizes) -> dict[str, Callable[[], Operation]]:
    """The catalog's operations, with the test's chunk sizes."""

    def extract() -> Operation:
        wired = data_plane()
        return Extract(
            wired.files,
            wired.objects,
            wired.records,
            wired.workbooks,
            wired.jobs,
            batch_rows=sizes.batch_rows,
            min_rows=sizes.min_rows,
        )

    def export() -> Operation:
        wired = data_plane()
        return Export(
            wired.files,
            wired.objects,
            wired.records,
            wired.workbooks,
            part_bytes=sizes.part_bytes,
            page_size=sizes.page_size,
            min_records=sizes.min_rows,
        )

    def delete_records() -> Operation:
        wired = data_plane()
        return DeleteRecords(
            wired.records, wired.snapshots, wired.jobs, page_size=sizes.page_size, min_records=sizes.min_rows
        )

    def find_replace() -> Operation:
        wired = data_plane()
        return FindReplace(
            wired.records, wired.snapshots, wired.jobs, page_size=sizes.page_size, min_records=sizes.min_rows
        )

    def map_records() -> Operation:
        wired = data_plane()
        return Map(
            wired.plans,
            wired.plan_store,
            wired.records,
            wired.jobs,
            batch_records=sizes.batch_rows,
            min_records=sizes.min_rows,
        )

    return {
        **operations(),
        'workbook:map': map_records,
        'file:extract': extract,
        'sheet:export': export,
        'workbook:export': export,
        'sheet:delete-records': delete_records,
        'workbook:delete-records': delete_records,
        'sheet:find-replace': find_replace,
    }


@pytest.fixture(name='dynamodb')
def dynamodb_fixture() -> Iterator[Any]:
    """The jobs table in moto, with its Step Functions interpreter on (overrides tests/conftest.py's)."""
    with mock_aws(config={'stepfunctions': {'execute_state_machine': True}}):
        dynamodb_client.cache_clear()
        client = boto3.client('dynamodb')
        create_tables(client, {'JobsTable': 'jobs-test'})
        yield client
        dynamodb_client.cache_clear()


@pytest.fixture(name='system')
def system_fixture(data_api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[System]:
    import moto.awslambda.models as lambda_models

    monkeypatch.setattr('moto.s3.models.S3_UPLOAD_PART_MIN_SIZE', SMALL_PART)
    sizes = Sizes()
    service = JobService(DynamoJobStore('jobs-test'))
    worker_module = load_entry('WorkerFunction')
    hooks: dict[str, Callable[..., Any]] = {}

    def runtime() -> Runtime:
        return Runtime(service, sized_operations(sizes))

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:  # the worker in process, as locally
        payload = json.loads(event) if isinstance(event, str) else (event or {})
        try:
            if 'before' in hooks:
                hooks['before'](payload)
            result = worker_module.lambda_handler(payload, LambdaContext(), steps=runtime())
            return json.dumps(result), False, ''
        except Exception as error:  # Lambda reports the exception's type as the error name
            return json.dumps({'errorType': type(error).__name__, 'errorMessage': str(error)}), True, ''

    monkeypatch.setattr(lambda_models.LambdaFunction, '_invoke_lambda', invoke)
    monkeypatch.setattr(worker_module, 'budget_for', lambda context: TimeBudget(sizes.budget_seconds))
    role = boto3.client('iam').create_role(RoleName='worker', AssumeRolePolicyDocument='{}')['Role']['Arn']
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as bundle:
        bundle.writestr('app.py', 'def lambda_handler(event, context): pass')
    arn = boto3.client('lambda').create_function(
        FunctionName='worker',
        Runtime='python3.12',
        Role=role,
        Handler='app.lambda_handler',
        Code={'ZipFile': archive.getvalue()},
    )['FunctionArn']
    definition = substitute((ROOT / 'statemachines' / 'system_job.asl.json').read_text(), {'WorkerFunctionArn': arn})
    sfn = boto3.client('stepfunctions')
    machine = sfn.create_state_machine(name='system-job', definition=definition, roleArn=role)['stateMachineArn']
    yield System(data_api=data_api, sfn=sfn, arn=machine, service=service, sizes=sizes, hooks=hooks)


def csv_bytes(rows: list[list[Any]], *, newline: str = '\r\n', encoding: str = 'utf-8') -> bytes:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    return buffer.getvalue().encode(encoding)


def all_records(data_api: Any, sheet_id: str) -> list[dict[str, Any]]:
    """Every record of a sheet, in order (pages of 1,000)."""
    records: list[dict[str, Any]] = []
    token = None
    while True:
        query = {'pageSize': '1000', **({'pageToken': token} if token else {})}
        reply = data_api.records(sheet_id, **query)
        assert reply.status == 200, reply.body
        records += reply.data['records']
        token = reply.data.get('nextPageToken')
        if not token:
            return records


def values_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: cell['value'] for key, cell in record['values'].items()} for record in records]
