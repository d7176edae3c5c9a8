"""Snapshots, restoring one as a job, and the jobs that remove what a deleted space, workbook or sheet
held, run through the system-job worker as the state machine runs it."""

import gzip
import json
from typing import Any

import pytest

from jobs_core.jobs import JobService
from jobs_core.object_store import snapshot_key
from jobs_core.store import DynamoJobStore
from jobs_core.system.catalog import operations
from jobs_core.system.runtime import Runtime
from tests.builders import OTHER_TENANT, TENANT, LambdaContext, load_function
from tests.unit.data_fixtures import BUCKET, data_api_fixture, stored_items  # noqa: F401 - fixtures

PEOPLE = [{'name': 'Ann', 'age': 31}, {'name': 'Bob', 'age': 'forty'}, {'name': 'Cy', 'email': 'cy@x'}]


def run(job_id: str) -> dict[str, Any]:
    """Drive a job through the worker's steps as the system job state machine does; the job after."""
    worker = load_function('worker').lambda_handler
    runtime = Runtime(JobService(DynamoJobStore('jobs-test')), operations())
    task: dict[str, Any] = {
        'jobId': job_id,
        'environmentId': TENANT.environment_id,
        'accountId': TENANT.account_id,
        'attempt': 1,
    }
    try:
        task = worker({'step': 'acknowledge', 'task': task}, LambdaContext(), steps=runtime)
        task = worker({'step': 'prepare', 'task': task}, LambdaContext(), steps=runtime)
        for _ in range(1000):
            if task['finished']:
                break
            task = worker({'step': 'process', 'task': task}, LambdaContext(), steps=runtime)
        worker({'step': 'finalize', 'task': task}, LambdaContext(), steps=runtime)
    except Exception as error:  # the machine's Catch: the fail step, with what Lambda reported
        cause = json.dumps({'errorType': type(error).__name__, 'errorMessage': str(error)})
        failing = {**task, 'error': {'Error': type(error).__name__, 'Cause': cause}}
        worker({'step': 'fail', 'task': failing}, LambdaContext(), steps=runtime)
    return dict(JobService(DynamoJobStore('jobs-test')).get(TENANT, job_id).model_dump(mode='json', by_alias=True))


def cells(data_api, sheet_id: str) -> dict[str, dict]:
    return {
        record['id']: {key: cell['value'] for key, cell in record['values'].items()}
        for record in data_api.records(sheet_id).data['records']
    }


# ---------------------------------------------------------------- snapshots
def test_a_snapshot_stores_the_sheet_compressed(data_api):
    # GIVEN a sheet with three records, one invalid
    sheet = data_api.sheet()
    inserted = data_api.insert(sheet['id'], PEOPLE).data['records']

    # WHEN it is snapshotted
    reply = data_api.call('POST', '/v1/snapshots', {'sheetId': sheet['id'], 'label': 'before cleanup'})

    # THEN the snapshot says what it holds, and its object is gzip JSON Lines of the records
    assert reply.status == 201, reply.body
    snapshot = reply.data
    assert snapshot['id'].startswith('us_ss_')
    assert (snapshot['sheetId'], snapshot['workbookId'], snapshot['label']) == (
        sheet['id'],
        sheet['workbookId'],
        'before cleanup',
    )
    assert snapshot['counts'] == {'total': 3, 'valid': 2, 'error': 1}
    key = snapshot_key(TENANT.environment_id, sheet['id'], snapshot['id'])
    stored = data_api.s3.get_object(Bucket=BUCKET, Key=key)['Body'].read()
    assert snapshot['size'] == len(stored)
    lines = [json.loads(line) for line in gzip.decompress(stored).splitlines()]
    assert [line['id'] for line in lines] == [record['id'] for record in inserted]
    assert lines[1]['errors']['age'][0]['message'] == 'age must be a number'

    # AND it reads back and lists by sheet, for its tenant only
    assert data_api.call('GET', f'/v1/snapshots/{snapshot["id"]}').data == snapshot
    assert data_api.call('GET', '/v1/snapshots', query={'sheetId': sheet['id']}).data == [snapshot]
    assert data_api.call('GET', f'/v1/snapshots/{snapshot["id"]}', tenant=OTHER_TENANT).status == 404
    assert data_api.call('GET', '/v1/snapshots', query={'sheetId': sheet['id']}, tenant=OTHER_TENANT).status == 404


def test_a_snapshot_of_an_unknown_sheet_is_404_and_a_bad_body_400(data_api):
    assert data_api.call('POST', '/v1/snapshots', {'sheetId': 'us_sh_unknown'}).status == 404
    assert data_api.call('POST', '/v1/snapshots', {'sheet': 'us_sh_1'}).status == 400
    assert data_api.call('GET', '/v1/snapshots').status == 400  # sheetId is required


def test_deleting_a_snapshot_removes_its_object(data_api):
    sheet = data_api.sheet()
    snapshot = data_api.call('POST', '/v1/snapshots', {'sheetId': sheet['id']}).data
    assert data_api.call('DELETE', f'/v1/snapshots/{snapshot["id"]}').body == {'data': {'success': True}}
    assert data_api.call('GET', f'/v1/snapshots/{snapshot["id"]}').status == 404
    assert data_api.s3.list_objects_v2(Bucket=BUCKET).get('KeyCount') == 0


def test_restore_is_a_job_that_puts_the_sheet_back(data_api):
    # GIVEN a snapshot, then changes: one record updated, one deleted, one added
    sheet = data_api.sheet()
    ann, bob, cy = (record['id'] for record in data_api.insert(sheet['id'], PEOPLE).data['records'])
    before = cells(data_api, sheet['id'])
    snapshot = data_api.call('POST', '/v1/snapshots', {'sheetId': sheet['id'], 'label': 'v1'}).data
    data_api.call('PUT', f'/v1/sheets/{sheet["id"]}/records', [{'id': bob, 'values': {'age': {'value': 40}}}])
    data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}/records', query={'ids': cy})
    data_api.insert(sheet['id'], [{'name': 'Dee'}])
    assert data_api.counts(sheet['id']) == {'total': 3, 'valid': 3, 'error': 0}

    # WHEN the snapshot is restored
    reply = data_api.call('POST', f'/v1/snapshots/{snapshot["id"]}/restore')

    # THEN a managed, immediate restore job is ready
    assert reply.status == 201, reply.body
    job = reply.data
    assert {key: job.get(key) for key in ('type', 'operation', 'source', 'status', 'managed', 'trigger')} == {
        'type': 'sheet',
        'operation': 'restore-snapshot',
        'source': sheet['id'],
        'status': 'ready',
        'managed': True,
        'trigger': 'immediate',
    }
    assert job['config'] == {'snapshotId': snapshot['id']}

    # WHEN it runs, it completes and the sheet is as it was, counts and all
    finished = run(job['id'])
    assert finished['status'] == 'complete', finished
    assert finished['outcome']['message'] == 'Sheet contacts restored to snapshot v1: 3 records changed'
    assert cells(data_api, sheet['id']) == before
    assert list(cells(data_api, sheet['id'])) == [ann, bob, cy]
    assert data_api.counts(sheet['id']) == {'total': 3, 'valid': 2, 'error': 1}
    restored_bob = next(record for record in data_api.records(sheet['id']).data['records'] if record['id'] == bob)
    assert restored_bob['values']['age']['messages'][0]['message'] == 'age must be a number'
    # AND one commit of kind restore records it
    commits = [
        item
        for item in data_api.dynamodb.scan(TableName='jobs-test')['Items']
        if item['entity']['S'] == 'commit' and item['kind']['S'] == 'restore'
    ]
    assert [(commit['count']['N'], commit['jobId']['S']) for commit in commits] == [('3', job['id'])]


def test_a_restore_of_a_snapshot_deleted_meanwhile_fails_with_a_reason(data_api):
    sheet = data_api.sheet()
    snapshot = data_api.call('POST', '/v1/snapshots', {'sheetId': sheet['id']}).data
    job = data_api.call('POST', f'/v1/snapshots/{snapshot["id"]}/restore').data
    data_api.call('DELETE', f'/v1/snapshots/{snapshot["id"]}')
    finished = run(job['id'])
    assert finished['status'] == 'failed'
    assert 'no longer exists' in finished['outcome']['message']


def test_restoring_an_unknown_or_foreign_snapshot_is_404(data_api):
    sheet = data_api.sheet()
    snapshot = data_api.call('POST', '/v1/snapshots', {'sheetId': sheet['id']}).data
    assert data_api.call('POST', '/v1/snapshots/us_ss_unknown/restore').status == 404
    assert data_api.call('POST', f'/v1/snapshots/{snapshot["id"]}/restore', tenant=OTHER_TENANT).status == 404
    assert data_api.call('GET', '/v1/jobs').data == []


def test_a_big_restore_takes_many_steps_and_stays_exact(data_api, monkeypatch):
    # GIVEN 120 records snapshotted, then 40 of them deleted and 20 added, and restore chunks kept small
    # (moto copies every table for each transaction, so the test stays small; the steps are what matter)
    monkeypatch.setattr('jobs_core.snapshots._WRITE_CHUNK', 15)
    monkeypatch.setattr('jobs_core.snapshots._READ_PAGE', 30)
    sheet = data_api.sheet(sheets=[{'name': 'Numbers', 'fields': [{'key': 'n', 'type': 'number'}]}])
    data_api.insert(sheet['id'], [{'n': index} for index in range(120)])
    snapshot = data_api.call('POST', '/v1/snapshots', {'sheetId': sheet['id']}).data
    doomed = list(cells(data_api, sheet['id']))[40:80]
    data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}/records', query={'ids': ','.join(doomed)})
    data_api.insert(sheet['id'], [{'n': -1}] * 20)
    assert data_api.counts(sheet['id'])['total'] == 100

    # WHEN it is restored
    job = data_api.call('POST', f'/v1/snapshots/{snapshot["id"]}/restore').data
    finished = run(job['id'])

    # THEN every record is back and the extra ones gone, each counted once
    assert finished['status'] == 'complete'
    assert finished['outcome']['message'].endswith(': 60 records changed')
    assert data_api.counts(sheet['id']) == {'total': 120, 'valid': 120, 'error': 0}
    assert sorted(values['n'] for values in cells(data_api, sheet['id']).values()) == list(range(120))


# ---------------------------------------------------------------- deleting what a resource held
def populate(data_api) -> dict[str, Any]:
    space = data_api.space()
    files = [data_api.upload(b'a,b\n1,2\n', space_id=space['id']).data for _ in range(3)]
    workbooks = [data_api.workbook(space['id']) for _ in range(2)]
    for workbook in workbooks:
        sheet = workbook['sheets'][0]
        data_api.insert(sheet['id'], [{'name': f'n{index}', 'email': f'{index}@x'} for index in range(30)])
        data_api.call('POST', '/v1/snapshots', {'sheetId': sheet['id']})
    return {'space': space, 'files': files, 'workbooks': workbooks}


def test_deleting_a_space_removes_everything_it_held(data_api):
    # GIVEN a space with files, workbooks, records (with unique values) and snapshots, and another space
    kept = populate(data_api)
    kept_items = len(stored_items(data_api.dynamodb))
    doomed = populate(data_api)

    # WHEN the space is deleted and its job runs
    job_id = data_api.call('DELETE', f'/v1/spaces/{doomed["space"]["id"]}').data['jobId']
    finished = run(job_id)

    # THEN the job completes, and nothing of the space is left: items, records, counters, objects
    assert finished['status'] == 'complete', finished
    assert finished['outcome']['message'] == f'Space {doomed["space"]["id"]} and everything it held are deleted'
    remaining = stored_items(data_api.dynamodb)
    assert not any(doomed['space']['id'] in json.dumps(item) for item in remaining)
    for workbook in doomed['workbooks']:
        assert not any(workbook['sheets'][0]['id'] in json.dumps(item) for item in remaining)
    assert len(remaining) == kept_items
    objects = [item['Key'] for item in data_api.s3.list_objects_v2(Bucket=BUCKET).get('Contents', [])]
    assert not any(file['id'] in key for file in doomed['files'] for key in objects)
    assert len(objects) == 3 + 2  # the other space's files and snapshots

    # AND the other space is untouched
    for workbook in kept['workbooks']:
        assert data_api.counts(workbook['sheets'][0]['id']) == {'total': 30, 'valid': 30, 'error': 0}
    assert len(data_api.call('GET', '/v1/files', query={'spaceId': kept['space']['id']}).data) == 3


def test_deleting_a_workbook_or_a_sheet_removes_their_records(data_api):
    space = data_api.space()
    workbook = data_api.workbook(space['id'])
    other = data_api.sheet(space_id=space['id'])
    for sheet in (workbook['sheets'][0], other):
        data_api.insert(sheet['id'], [{'name': str(index)} for index in range(40)])

    for path in (f'/v1/workbooks/{workbook["id"]}', f'/v1/sheets/{other["id"]}'):
        job_id = data_api.call('DELETE', path).data['jobId']
        assert run(job_id)['status'] == 'complete'

    left = [item for item in stored_items(data_api.dynamodb) if item['pk']['S'].startswith('SHEET#')]
    assert left == []
    assert data_api.call('GET', f'/v1/spaces/{space["id"]}').status == 200


@pytest.mark.parametrize('kind', ['space', 'workbook', 'sheet'])
def test_a_deletion_job_run_twice_is_harmless(data_api, kind):
    data = populate(data_api)
    target = {'space': data['space']['id'], 'workbook': data['workbooks'][0]['id']}.get(kind) or data['workbooks'][1][
        'sheets'
    ][0]['id']
    path = {'space': '/v1/spaces/', 'workbook': '/v1/workbooks/', 'sheet': '/v1/sheets/'}[kind] + target
    job_id = data_api.call('DELETE', path).data['jobId']
    assert run(job_id)['status'] == 'complete'
    # the same steps again, as a redelivered message or a retried execution would run them
    from jobs_core.data_jobs import operations as data_operations
    from jobs_core.jobs import JobService as Service
    from jobs_core.system.operations import Context

    job = Service(DynamoJobStore('jobs-test')).get(TENANT, job_id)
    operation = data_operations()[f'{kind}:delete']()

    class Forever:
        def left(self) -> float:
            return 60.0

    step = operation.process(Context(tenant=TENANT, job=job), {}, Forever())
    assert step.finished is True


def test_a_space_delete_job_created_directly_hides_the_space_first(data_api):
    # GIVEN a space and a space:delete job made through the jobs API rather than DELETE
    data = populate(data_api)
    space_id = data['space']['id']
    job = data_api.call(
        'POST', '/v1/jobs', {'type': 'space', 'operation': 'delete', 'source': space_id, 'trigger': 'immediate'}
    ).data
    assert job['managed'] is True  # a system operation: the platform runs it

    # WHEN it runs, the space is gone with all it held
    assert run(job['id'])['status'] == 'complete'
    assert data_api.call('GET', f'/v1/spaces/{space_id}').status == 404
    assert not any(space_id in json.dumps(item) for item in stored_items(data_api.dynamodb))
