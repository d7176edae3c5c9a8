"""Limits by design, read off the state machine definition, the template and the worker."""

import json

from jobs_local.template import ROOT, resources
from tests.builders import load_entry

DEFINITION = json.loads((ROOT / 'statemachines' / 'system_job.asl.json').read_text())
LAMBDA_LIMIT_SECONDS = 15 * 60


def tasks(states: dict) -> dict[str, dict]:
    return {name: state for name, state in states.items() if state['Type'] == 'Task'}


def test_every_task_has_a_timeout_longer_than_the_worker_can_run():
    worker_timeout = resources('AWS::Serverless::Function')['WorkerFunction']['Properties']['Timeout']
    for name, state in tasks(DEFINITION['States']).items():
        assert 'TimeoutSeconds' in state, name
        # A Task must not give up on a Lambda that is still running (and may still write).
        if state['Parameters']['Payload']['step'] in {'prepare', 'process', 'finalize'}:
            assert state['TimeoutSeconds'] > worker_timeout, name


def test_no_worker_invocation_comes_near_fifteen_minutes():
    worker = load_entry('WorkerFunction')
    timeout = resources('AWS::Serverless::Function')['WorkerFunction']['Properties']['Timeout']
    assert timeout <= LAMBDA_LIMIT_SECONDS / 2
    # a process step stops taking work with a safety margin before its timeout
    assert timeout >= worker.BUDGET_SECONDS + worker.SAFETY_SECONDS


def test_every_task_retries_transient_errors_with_backoff_and_jitter():
    for name, state in tasks(DEFINITION['States']).items():
        [retry] = state['Retry']
        assert 'Lambda.TooManyRequestsException' in retry['ErrorEquals'], name
        assert retry['BackoffRate'] > 1
        assert retry['JitterStrategy'] == 'FULL'


def test_every_failure_is_caught_and_fails_the_job():
    for name, state in tasks(DEFINITION['States']).items():
        if name == 'Fail job':
            continue
        caught = [entry['ErrorEquals'] for entry in state['Catch']]
        assert ['JobStopped'] in caught and ['States.ALL'] in caught, name
        assert state['Catch'][-1]['Next'] == 'Fail job'


def test_payloads_carry_the_task_never_data():
    # Each step gets the task (ids, counts, a bounded cursor) and returns it: nothing else flows.
    for name, state in tasks(DEFINITION['States']).items():
        assert set(state['Parameters']['Payload']) == {'step', 'task.$'}, name
        assert state['Parameters']['Payload']['task.$'] == '$'
        assert state['OutputPath'] == '$.Payload'
