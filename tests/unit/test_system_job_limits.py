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


# ---------------------------------------------------------------- the operations' steps and history
# Events Step Functions records per state it passes through (Standard workflows).
EVENTS_PER_STATE = {'Task': 5, 'Choice': 2, 'Pass': 2, 'Succeed': 2, 'Fail': 2, 'Wait': 3}
EVENTS_PER_RETRY = 3  # TaskFailed, then TaskScheduled and TaskStarted again
HISTORY_LIMIT = 25_000
TEN_MILLION = 10_000_000
# A rate far below what the operations do (see bench/extract_throughput.py): the floor of units a step
# does before it heeds its budget must take no longer than the worker's safety margin even at this rate.
CONSERVATIVE_UNITS_PER_SECOND = 500


def floors() -> dict[str, int]:
    """Each operation's declared floor: the units a process step does (unless the job ends) before it
    yields to its time budget. It bounds the number of steps, so the history, of a job of any size."""
    from jobs_core.system import export, extract, record_edits

    return {
        'file:extract': extract.MIN_ROWS_PER_STEP,
        'sheet:export': export.MIN_RECORDS_PER_STEP,
        'workbook:export': export.MIN_RECORDS_PER_STEP,
        'sheet:delete-records': record_edits.MIN_RECORDS_PER_STEP,
        'workbook:delete-records': record_edits.MIN_RECORDS_PER_STEP,
        'sheet:find-replace': record_edits.MIN_RECORDS_PER_STEP,
    }


def loop_events(states: dict) -> int:
    """The events of one turn of the process loop: from Process, along Next and the Choice's default,
    back to Process."""
    events, name = 0, 'Process'
    while True:
        state = states[name]
        events += EVENTS_PER_STATE[state['Type']]
        name = state.get('Next') or state.get('Default')
        if name == 'Process':
            return events


def fixed_events(states: dict) -> int:
    """ExecutionStarted and ExecutionSucceeded, and every state outside the loop on the way to Done."""
    return 2 + sum(EVENTS_PER_STATE[states[name]['Type']] for name in ('Acknowledge', 'Prepare', 'Finalize', 'Done'))


def test_a_ten_million_row_job_stays_far_below_the_history_limit():
    states = DEFINITION['States']
    assert loop_events(states) == 7  # Process (a Task) and Finished? (a Choice)
    for job, floor in floors().items():
        steps = -(-TEN_MILLION // floor)
        retried = steps // 10  # one step in ten retried once, far more than Lambda's errors make
        events = fixed_events(states) + steps * loop_events(states) + retried * EVENTS_PER_RETRY
        assert events < HISTORY_LIMIT / 5, (job, events)


def test_a_steps_floor_is_done_well_within_the_workers_safety_margin():
    worker = load_entry('WorkerFunction')
    for job, floor in floors().items():
        assert floor / CONSERVATIVE_UNITS_PER_SECOND <= worker.SAFETY_SECONDS, job


def test_the_operations_cursors_stay_small_at_their_largest():
    from jobs_core import ids
    from jobs_core.models.workbook import MAX_SHEETS
    from jobs_core.paging import IndexQuery, encode_token
    from jobs_core.system.extract import MAX_IGNORED_LISTED
    from jobs_core.system.runtime import MAX_CURSOR_BYTES

    sheet_ids = [ids.new_id(ids.SHEET) for _ in range(MAX_SHEETS)]
    query = IndexQuery('', 'pk', f'SHEET#us_env_{"x" * 12}#{sheet_ids[0]}', sort_attribute='sk')
    token = encode_token(query, {'pk': {'S': query.partition}, 'sk': {'S': f'REC#{ids.new_record_ids(1, 0)[0]}'}})
    extract = {
        'format': 'xlsx',
        'workbookId': ids.new_id(ids.WORKBOOK),
        'sheets': [[index, sheet_id] for index, sheet_id in enumerate(sheet_ids)],
        'headerRow': 9,
        'ignored': ['x' * 50] * MAX_IGNORED_LISTED,
        'part': 49,
        'position': 10**12,
        'line': 10**9,
        'index': 10**9,
        'counts': [10**7] * MAX_SHEETS,
        'valid': 10**9,
        'error': 10**9,
        'bytes': 10**12,
    }
    export = {
        'format': 'csv',
        'sheets': sheet_ids,
        'part': 49,
        'after': token,
        'uploadId': 'u' * 512,  # S3's upload ids are opaque; far longer than seen
        'partNumber': 10_000,
        'size': 5 * 10**12,
        'rows': 10**9,
        'files': [ids.new_id(ids.FILE) for _ in range(MAX_SHEETS)],
    }
    edits = {'sheetId': sheet_ids[0], 'after': token, 'changed': 10**9, 'snapshotId': ids.new_id(ids.SNAPSHOT)}
    for cursor in (extract, export, edits):
        assert len(json.dumps(cursor)) < MAX_CURSOR_BYTES / 2, cursor
