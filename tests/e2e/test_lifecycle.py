"""The whole job lifecycle over HTTP, through the local API Gateway, authorizer and API function."""

import pytest

pytestmark = pytest.mark.xdist_group('localstack')

NEXT_VARIANTS = [
    {'type': 'id', 'id': 'us_sh_e2e00000001', 'label': 'Open', 'path': '/sheets', 'query': 'a=1'},
    {'type': 'url', 'url': 'https://example.com/report', 'label': 'Report'},
    {'type': 'download', 'url': 'https://example.com/file.csv', 'label': 'Download', 'fileName': 'file.csv'},
    {'type': 'files', 'files': [{'fileId': 'us_fl_e2e00000001', 'label': 'Export'}], 'label': 'Files'},
    {'type': 'wait', 'fade': True, 'confetti': False},
    {'type': 'snapshot', 'snapshotId': 'us_ss_e2e00000001', 'sheetId': 'us_sh_e2e00000001', 'label': 'Snapshot'},
    {'type': 'retry', 'label': 'Try again'},
    {'type': 'view', 'sheetId': 'us_sh_e2e00000001', 'hiddenColumns': ['email'], 'label': 'View'},
]


def test_create_manual_job_is_created(client, create_job):
    # GIVEN a manual job
    job = create_job(trigger='manual')

    # WHEN it is read back
    response = client.get(f'/v1/jobs/{job["id"]}')

    # THEN it is created, first version and attempt, and stored as returned
    assert response.status_code == 200
    stored = response.json()['data']
    assert stored == job
    assert job['id'].startswith('us_jb_')
    assert (job['status'], job['trigger'], job['version'], job['attempt']) == ('created', 'manual', 1, 1)


def test_create_without_trigger_is_created_and_immediate_is_ready(create_job):
    assert create_job()['status'] == 'created'
    assert create_job(trigger='immediate')['status'] == 'ready'


def test_execute_ack_tick_patch_complete_and_acknowledge_outcome(client, create_job):
    # GIVEN a created job
    job = create_job()
    url = f'/v1/jobs/{job["id"]}'

    # WHEN it is executed
    executed = client.post(f'{url}/execute')
    # THEN it succeeds and the job is ready
    assert executed.status_code == 200
    assert executed.json() == {'data': {'success': True}}
    assert client.get(url).json()['data']['status'] == 'ready'

    # WHEN it is acknowledged, it is executing with a start time
    acked = client.post(f'{url}/ack', json={'info': 'starting', 'progress': 5})
    assert acked.status_code == 200, acked.text
    started = acked.json()['data']
    assert (started['status'], started['progress'], started['info']) == ('executing', 5, 'starting')
    assert started['startedAt']

    # WHEN it ticks with ack, progress, info and the estimate change, and startedAt stays
    ticked = client.post(
        f'{url}/ack', json={'progress': 40, 'info': 'rows 400/1000', 'estimatedCompletionAt': '2030-01-01T00:00:00Z'}
    )
    assert ticked.status_code == 200, ticked.text
    tick = ticked.json()['data']
    assert (tick['status'], tick['progress'], tick['info']) == ('executing', 40, 'rows 400/1000')
    assert tick['estimatedCompletionAt'].startswith('2030-01-01T00:00:00')
    assert tick['startedAt'] == started['startedAt']
    assert tick['version'] == started['version'] + 1

    # WHEN progress is PATCHed
    patched = client.patch(url, json={'progress': 70, 'estimatedCompletionAt': '2030-01-02T00:00:00Z'})
    assert patched.status_code == 200, patched.text
    assert patched.json()['data']['progress'] == 70

    # WHEN it completes with an outcome
    outcome = {'heading': 'Done', 'message': 'All rows exported', 'acknowledge': True, 'next': NEXT_VARIANTS[1]}
    completed = client.post(f'{url}/complete', json={'outcome': outcome, 'info': 'finished'})
    assert completed.status_code == 200, completed.text
    done = completed.json()['data']
    assert (done['status'], done['progress'], done['info']) == ('complete', 100, 'finished')
    assert done['outcome'] == outcome
    assert done['finishedAt']

    # WHEN its outcome is acknowledged, once; the second time is a conflict
    first = client.post(f'{url}/outcome/ack')
    assert first.status_code == 200, first.text
    assert first.json()['data']['outcomeAcknowledgedAt']
    again = client.post(f'{url}/outcome/ack')
    assert again.status_code == 409
    assert client.get(url).json()['data'] == first.json()['data']


@pytest.mark.parametrize('nxt', NEXT_VARIANTS, ids=[variant['type'] for variant in NEXT_VARIANTS])
def test_complete_keeps_every_next_variant(client, create_job, nxt):
    # GIVEN a ready job
    job = create_job(trigger='immediate')

    # WHEN it completes with an outcome whose next is this variant
    response = client.post(f'/v1/jobs/{job["id"]}/complete', json={'outcome': {'message': 'ok', 'next': nxt}})

    # THEN the outcome comes back exactly, and is stored
    assert response.status_code == 200, response.text
    assert response.json()['data']['outcome']['next'] == nxt
    assert client.get(f'/v1/jobs/{job["id"]}').json()['data']['outcome']['next'] == nxt


def test_complete_and_fail_accept_an_empty_body(client, create_job):
    ready = create_job(trigger='immediate')
    assert client.post(f'/v1/jobs/{ready["id"]}/complete').status_code == 200
    other = create_job(trigger='immediate')
    assert client.post(f'/v1/jobs/{other["id"]}/fail').status_code == 200
    created = create_job()
    assert client.post(f'/v1/jobs/{created["id"]}/cancel').status_code == 200


def test_fail_then_retry_is_a_new_attempt(client, create_job):
    # GIVEN an executing job that fails with an outcome
    job = create_job(trigger='immediate')
    url = f'/v1/jobs/{job["id"]}'
    assert client.post(f'{url}/ack', json={'progress': 30}).status_code == 200
    failed = client.post(f'{url}/fail', json={'outcome': {'message': 'boom', 'next': {'type': 'retry'}}, 'info': 'x'})
    assert failed.status_code == 200, failed.text
    assert failed.json()['data']['status'] == 'failed'
    assert failed.json()['data']['finishedAt']

    # WHEN it is retried
    retried = client.post(f'{url}/retry')

    # THEN it is ready again: attempt 2, progress 0, no outcome and no finish time
    assert retried.status_code == 200, retried.text
    again = retried.json()['data']
    assert (again['status'], again['attempt'], again['progress']) == ('ready', 2, 0)
    assert 'outcome' not in again
    assert 'finishedAt' not in again


def test_cancel_then_retry(client, create_job):
    job = create_job()
    url = f'/v1/jobs/{job["id"]}'
    canceled = client.post(f'{url}/cancel', json={'info': 'no longer needed'})
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()['data']['status'] == 'canceled'
    retried = client.post(f'{url}/retry')
    assert retried.status_code == 200, retried.text
    assert (retried.json()['data']['status'], retried.json()['data']['attempt']) == ('ready', 2)


def test_outcome_acknowledged_once_for_a_failed_job(client, create_job):
    job = create_job(trigger='immediate')
    url = f'/v1/jobs/{job["id"]}'
    assert client.post(f'{url}/fail').status_code == 200
    assert client.post(f'{url}/outcome/ack').status_code == 200
    assert client.post(f'{url}/outcome/ack').status_code == 409


def test_delete_then_not_found(client, create_job):
    # GIVEN a job
    job = create_job()
    url = f'/v1/jobs/{job["id"]}'

    # WHEN it is deleted
    deleted = client.delete(url)

    # THEN it is gone: reads and a second delete are 404
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {'data': {'success': True}}
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404


def test_execute_on_a_ready_job_succeeds_and_changes_nothing(client, create_job):
    # GIVEN a ready job
    job = create_job(trigger='immediate')
    url = f'/v1/jobs/{job["id"]}'

    # WHEN it is executed again
    response = client.post(f'{url}/execute')

    # THEN it succeeds and the stored job, its version included, is unchanged
    assert response.status_code == 200, response.text
    assert response.json() == {'data': {'success': True}}
    assert client.get(url).json()['data'] == job
