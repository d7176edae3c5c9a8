"""The system job runtime on the real state machine definition, run by moto's Step Functions
interpreter, with the worker and dispatcher handlers in process."""

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobs_core.dynamo import dynamodb_client
from jobs_core.executions import StepFunctionsExecutions
from jobs_core.jobs import JobService
from jobs_core.models.event import Event, EventContext
from jobs_core.models.job import JobCreate
from jobs_core.store import DynamoJobStore
from jobs_core.system.operations import Context, OperationFailed, Plan, Step
from jobs_core.system.runtime import Runtime
from jobs_local.asl import substitute
from jobs_local.template import ROOT, create_tables
from tests.builders import TENANT, LambdaContext, load_entry

OPERATION = 'sheet:find-replace'
CONFIG = {'fieldKey': 'name'}  # a system job's config is checked when it is created


@dataclass
class Counting:
    """A test operation: `total` units, `per_step` a step; can fail or cancel its job on a step."""

    total: int = 10
    per_step: int = 3
    fail_on_step: int | None = None
    on_step: Any = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    def prepare(self, context: Context) -> Plan:
        return Plan(total=self.total, unit='rows', verb='Counted', cursor={'at': 0})

    def process(self, context: Context, cursor: dict[str, Any], budget: Any) -> Step:
        self.steps.append(dict(cursor))
        if self.on_step:
            self.on_step(len(self.steps), context)
        if self.fail_on_step == len(self.steps):
            raise OperationFailed(f'Row {cursor["at"] + 1}: the value is not a number')
        done = min(self.per_step, self.total - cursor['at'])
        at = cursor['at'] + done
        return Step(cursor={'at': at}, done_units=done, finished=at >= self.total)

    def finalize(self, context: Context, cursor: dict[str, Any]) -> dict[str, Any]:
        return {'message': f'Counted {cursor["at"]} rows', 'acknowledge': False}


@pytest.fixture
def machine(monkeypatch):
    """Jobs table, the worker as a Lambda function, the system job state machine from its ASL."""
    import moto.awslambda.models as lambda_models

    operation = Counting()
    with mock_aws(config={'stepfunctions': {'execute_state_machine': True}}):
        dynamodb_client.cache_clear()
        create_tables(boto3.client('dynamodb'), {'JobsTable': 'jobs-test'})
        service = JobService(DynamoJobStore('jobs-test'))
        # The test operation stands in for a real system operation's implementation.
        runtime = Runtime(service, {OPERATION: lambda: operation})
        worker = load_entry('WorkerFunction').lambda_handler

        def invoke(self, event=None):  # the worker runs in process, as the local stack runs it
            payload = json.loads(event) if isinstance(event, str) else (event or {})
            try:
                return json.dumps(worker(payload, LambdaContext(), steps=runtime)), False, ''
            except Exception as error:  # Lambda reports the exception's type as the error name
                return json.dumps({'errorType': type(error).__name__, 'errorMessage': str(error)}), True, ''

        monkeypatch.setattr(lambda_models.LambdaFunction, '_invoke_lambda', invoke)
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
        definition = substitute(
            (ROOT / 'statemachines' / 'system_job.asl.json').read_text(), {'WorkerFunctionArn': arn}
        )
        sfn = boto3.client('stepfunctions')
        machine_arn = sfn.create_state_machine(name='system-job', definition=definition, roleArn=role)[
            'stateMachineArn'
        ]
        yield SimpleNamespace(sfn=sfn, arn=machine_arn, service=service, operation=operation)
        dynamodb_client.cache_clear()


class SimpleNamespace:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def event_for(job_id: str, topic: str = 'job:ready') -> Event:
    context = EventContext(account_id=TENANT.account_id, environment_id=TENANT.environment_id, job_id=job_id)
    return Event(
        id='us_evt_1', topic=topic, domain='job', created_at='2024-01-01T00:00:00Z', payload={}, context=context
    )


def dispatch(machine, job_id: str, topic: str = 'job:ready') -> None:
    """What the dispatcher does with the event the rule routes to it."""
    load_entry('DispatchFunction').dispatch(
        event_for(job_id, topic), machine.service, StepFunctionsExecutions(machine.arn)
    )


def start(machine) -> str:
    """A ready managed system job, dispatched; returns its id."""
    job = machine.service.create(
        TENANT, JobCreate(type='sheet', operation='find-replace', source='us_sh_1', trigger='immediate', config=CONFIG)
    )
    assert job.managed is True
    dispatch(machine, job.id)
    return job.id


def run(machine, job_id: str) -> dict[str, Any]:
    """Wait for the job's execution to end (polling its status, with a deadline)."""
    execution_arn = machine.service.get(TENANT, job_id).execution_arn
    deadline = time.monotonic() + 120  # generous: moto interprets every state in Python
    while time.monotonic() < deadline:
        described = machine.sfn.describe_execution(executionArn=execution_arn)
        if described['status'] != 'RUNNING':
            return described
        time.sleep(0.02)
    raise AssertionError('the execution did not finish')


def history(machine, execution_arn: str) -> list[dict[str, Any]]:
    return machine.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)['events']


# ---------------------------------------------------------------- tests
def test_a_system_job_runs_to_complete_with_progress(machine):
    # GIVEN a ready system job of 10 rows, 3 a step
    job_id = start(machine)
    # WHEN its execution runs
    execution = run(machine, job_id)
    # THEN it completed the job with the operation's outcome, after four process steps
    assert execution['status'] == 'SUCCEEDED'
    job = machine.service.get(TENANT, job_id)
    assert job.status == 'complete'
    assert job.progress == 100
    assert job.outcome == {'message': 'Counted 10 rows', 'acknowledge': False}
    assert job.info == 'Counted 10 rows'
    assert job.started_at is not None
    assert [step['at'] for step in machine.operation.steps] == [0, 3, 6, 9]
    # and the payloads carried the cursor, never data
    for event in history(machine, execution['executionArn']):
        details = event.get('taskScheduledEventDetails') or {}
        assert len(details.get('parameters', '')) < 2048


def test_progress_is_written_at_most_once_a_percent(machine):
    machine.operation.total = 300
    machine.operation.per_step = 3  # 100 steps
    job_id = start(machine)
    run(machine, job_id)
    job = machine.service.get(TENANT, job_id)
    assert job.status == 'complete'
    # created, ack, ≤ 99 progress writes, complete
    assert job.version <= 1 + 1 + 1 + 99 + 1
    assert job.version > 50  # and progress was written as it went


def test_a_failing_step_fails_the_job_with_its_message(machine):
    machine.operation.fail_on_step = 2
    job_id = start(machine)
    execution = run(machine, job_id)
    assert execution['status'] == 'FAILED'
    job = machine.service.get(TENANT, job_id)
    assert job.status == 'failed'
    assert job.outcome == {'message': 'Row 4: the value is not a number', 'acknowledge': True}


def test_retry_after_a_failure_starts_a_new_execution(machine):
    machine.operation.fail_on_step = 2
    job_id = start(machine)
    first = run(machine, job_id)['executionArn']
    # WHEN the job is retried and the new job:ready dispatched
    machine.operation.fail_on_step = None
    machine.operation.steps.clear()
    machine.service.retry(TENANT, job_id)
    dispatch(machine, job_id)
    second = run(machine, job_id)
    # THEN a second execution, named for attempt 2, completes it
    assert second['executionArn'] != first
    assert second['executionArn'].endswith(f'{job_id}-2')
    assert machine.service.get(TENANT, job_id).status == 'complete'


def test_a_duplicate_ready_event_does_not_start_a_second_execution(machine):
    job_id = start(machine)
    dispatch(machine, job_id)  # the same job:ready, delivered again
    run(machine, job_id)
    executions = machine.sfn.list_executions(stateMachineArn=machine.arn)['executions']
    assert [execution['name'] for execution in executions] == [f'{job_id}-1']
    assert [step['at'] for step in machine.operation.steps] == [0, 3, 6, 9]


def test_a_job_canceled_mid_run_stops_at_the_chunk_boundary_and_is_never_written_again(machine):
    # GIVEN the job is canceled while its second step runs
    canceled = {}

    def cancel_on_second(step, context):
        if step == 2:
            canceled['job'] = machine.service.cancel(TENANT, context.job.id, None)

    machine.operation.on_step = cancel_on_second
    job_id = start(machine)
    execution = run(machine, job_id)
    # THEN the execution ends quietly, no later step ran, and nothing was written after the cancel
    assert execution['status'] == 'SUCCEEDED'
    assert len(machine.operation.steps) == 2
    assert machine.service.get(TENANT, job_id) == canceled['job']


def test_canceling_a_running_job_stops_its_execution(machine):
    # GIVEN an execution that is running
    job_id = start(machine)
    run(machine, job_id)
    job = machine.service.get(TENANT, job_id)
    # WHEN a cancel of a job whose execution is still known reaches the dispatcher
    stopped = []

    class Recorder(StepFunctionsExecutions):
        def stop(self, execution_arn: str, cause: str) -> None:
            stopped.append((execution_arn, cause))

    retried = machine.service.create(
        TENANT, JobCreate(type='sheet', operation='find-replace', source='us_sh_1', trigger='immediate', config=CONFIG)
    )
    load_entry('DispatchFunction').dispatch(event_for(retried.id), machine.service, Recorder(machine.arn))
    machine.service.cancel(TENANT, retried.id, None)
    load_entry('DispatchFunction').dispatch(
        event_for(retried.id, 'job:updated'), machine.service, Recorder(machine.arn)
    )
    # THEN its execution is stopped
    assert stopped == [(machine.service.get(TENANT, retried.id).execution_arn, f'Job {retried.id} was canceled')]
    assert job.status == 'complete'


def test_jobs_that_are_not_managed_system_jobs_are_not_dispatched(machine):
    for body in (
        JobCreate(type='sheet', operation='find-replace', source='us_sh_1', trigger='immediate', managed=False),
        JobCreate(type='workbook', operation='export-to-crm', source='us_wb_1', trigger='immediate'),
    ):
        job = machine.service.create(TENANT, body)
        dispatch(machine, job.id)
        assert machine.service.get(TENANT, job.id).execution_arn is None
    assert machine.sfn.list_executions(stateMachineArn=machine.arn)['executions'] == []


def wait(machine, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120  # generous: moto interprets every state in Python
    while time.monotonic() < deadline:
        described = machine.sfn.describe_execution(executionArn=execution_arn)
        if described['status'] != 'RUNNING':
            return described
        time.sleep(0.05)
    raise AssertionError('the execution did not finish')
