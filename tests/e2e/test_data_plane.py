"""The data plane in the local stack, over real HTTP, as a user walks it: a space, a CSV uploaded
directly and through a presigned URL (PUT straight to the local S3), a workbook, records inserted,
queried, updated and deleted, an action whose job becomes ready, commit events, a snapshot restored
by its job, and a space deleted by its job. Waits poll an observable outcome to a bounded deadline.
"""

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import assert_errors

pytestmark = pytest.mark.xdist_group('localstack')

WITHIN_SECONDS = 45
CSV = 'name,email,age\nAnn,ann@example.com,31\n\u00c9mile,emile@example.com,forty\n'.encode()
CONTACTS = {
    'name': 'Contacts',
    'slug': 'contacts',
    'fields': [
        {'key': 'name', 'type': 'string', 'constraints': [{'type': 'required'}]},
        {'key': 'email', 'type': 'string', 'constraints': [{'type': 'unique'}]},
        {'key': 'age', 'type': 'number'},
    ],
    'actions': [{'operation': 'dedupe', 'label': 'Dedupe', 'mode': 'foreground'}],
}


def eventually(observe: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
    deadline = time.monotonic() + WITHIN_SECONDS
    while True:
        seen = observe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f'{what} within {WITHIN_SECONDS} s; last seen: {seen!r}')
        time.sleep(0.1)  # the next poll


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()['data']


def finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return eventually(
        lambda: data(client.get(f'/v1/jobs/{job_id}')),
        lambda job: job['status'] in {'complete', 'failed'},
        f'job {job_id} finished',
    )


def events(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    return list(data(client.get('/v1/events', params={'pageSize': '100', **query})))


@pytest.fixture
def space(client: httpx.Client) -> dict[str, Any]:
    return dict(data(client.post('/v1/spaces', json={'name': 'e2e data plane'}), 201))


@pytest.fixture
def sheet(client: httpx.Client, space: dict[str, Any]) -> dict[str, Any]:
    body = {
        'name': 'Onboarding',
        'spaceId': space['id'],
        'sheets': [CONTACTS],
        'actions': [{'operation': 'submit', 'label': 'Submit', 'mode': 'background'}],
    }
    workbook = data(client.post('/v1/workbooks', json=body), 201)
    return {**workbook['sheets'][0], 'spaceId': space['id']}


def values(record: dict[str, Any]) -> dict[str, Any]:
    return {key: cell['value'] for key, cell in record['values'].items()}


# ---------------------------------------------------------------- files
def test_a_csv_uploaded_directly_downloads_byte_for_byte(client, space):
    # WHEN a CSV (with a non-ASCII name in it) is uploaded as a form
    file = data(
        client.post('/v1/files', files={'file': ('contacts.csv', CSV, 'text/csv')}, data={'spaceId': space['id']}),
        201,
    )

    # THEN it is complete, and its download redirects to the local S3, which serves the same bytes
    assert (file['status'], file['size'], file['mimetype'], file['mode']) == (
        'complete',
        len(CSV),
        'text/csv',
        'import',
    )
    redirect = client.get(f'/v1/files/{file["id"]}/download')
    assert redirect.status_code == 302
    downloaded = httpx.get(redirect.headers['location'], timeout=30)
    assert downloaded.status_code == 200
    assert downloaded.content == CSV
    assert 'contacts.csv' in downloaded.headers['content-disposition']


def test_a_file_over_the_direct_limit_is_413_naming_the_presigned_route(client, space):
    big = b'x' * (4 * 1024 * 1024 + 1)
    response = client.post('/v1/files', files={'file': ('big.csv', big, 'text/csv')}, data={'spaceId': space['id']})
    [error] = assert_errors(response, 413)
    assert 'POST /v1/files/uploads' in error['message']


def test_a_presigned_upload_put_to_the_local_s3_completes(client, space):
    # GIVEN a presigned upload
    started = data(
        client.post('/v1/files/uploads', json={'spaceId': space['id'], 'name': 'big.csv', 'size': len(CSV)}), 201
    )
    upload, file = started['upload'], started['file']
    assert file['status'] == 'partial'

    # WHEN the bytes are PUT to the presigned URL, as a browser or curl would (no API key)
    put = httpx.put(upload['url'], content=CSV, headers=upload['headers'], timeout=30)
    assert put.status_code == 200, put.text

    # THEN completing it makes it complete, with every byte
    completed = data(client.post(upload['completeUrl']))
    assert (completed['status'], completed['bytesReceived']) == ('complete', len(CSV))
    redirect = client.get(f'/v1/files/{file["id"]}/download')
    assert httpx.get(redirect.headers['location'], timeout=30).content == CSV


def test_a_multipart_presigned_upload_completes_with_its_parts(client, space):
    size = 5 * 1024 * 1024 + 7  # over one part: the declared size decides single PUT or multipart
    started = data(
        client.post('/v1/files/uploads', json={'spaceId': space['id'], 'name': 'big.bin', 'size': 200 * 1024 * 1024}),
        201,
    )
    upload = started['upload']
    content = [b'a' * (5 * 1024 * 1024), b'b' * 7]
    parts = []
    for part, chunk in zip(upload['parts'], content, strict=False):
        put = httpx.put(part['url'], content=chunk, timeout=60)
        assert put.status_code == 200, put.text
        parts.append({'partNumber': part['partNumber'], 'etag': put.headers['etag']})
    # The parts sent are fewer than declared, so the size check refuses it, after S3 assembled them.
    response = client.post(upload['completeUrl'], json={'parts': parts})
    [error] = assert_errors(response, 400, 'size')
    assert f'{size:,} bytes were uploaded' in error['message']


# ---------------------------------------------------------------- records
def test_records_insert_query_update_delete(client, sheet):
    sheet_id = sheet['id']
    records_url = f'/v1/sheets/{sheet_id}/records'

    # WHEN records are inserted, one with a value of the wrong type
    inserted = data(
        client.post(
            records_url,
            json=[
                {'name': {'value': 'Ann'}, 'email': {'value': 'ann@x'}, 'age': {'value': '31'}},
                {'name': {'value': 'Bob'}, 'email': {'value': 'bob@x'}, 'age': {'value': 'forty'}},
                {'name': {'value': 'Cy'}, 'email': {'value': 'ann@x'}},
            ],
        ),
        201,
    )
    ann, bob, cy = inserted['records']

    # THEN values are coerced or kept and marked, duplicates of a unique field flagged, and counted
    assert values(ann) == {'name': 'Ann', 'email': 'ann@x', 'age': 31}
    assert bob['values']['age'] == {
        'value': 'forty',
        'valid': False,
        'messages': [{'type': 'error', 'message': 'age must be a number'}],
    }
    assert cy['values']['email']['messages'][0]['source'] == 'unique-constraint'
    assert inserted['counts'] == {'total': 3, 'valid': 1, 'error': 2}

    # AND they can be queried by validity, search and page
    assert [record['id'] for record in data(client.get(records_url, params={'filter': 'error'}))['records']] == [
        bob['id'],
        cy['id'],
    ]
    found = data(client.get(records_url, params={'searchField': 'name', 'searchValue': '"Bob"'}))['records']
    assert [record['id'] for record in found] == [bob['id']]
    first = data(client.get(records_url, params={'pageSize': '2'}))
    rest = data(client.get(records_url, params={'pageSize': '2', 'pageToken': first['nextPageToken']}))
    assert [record['id'] for record in first['records'] + rest['records']] == [ann['id'], bob['id'], cy['id']]

    # WHEN Bob's age is fixed and Cy deleted, the counts follow
    updated = data(client.put(records_url, json=[{'id': bob['id'], 'values': {'age': {'value': 40}}}]))
    assert updated['records'][0]['valid'] is True
    assert data(client.delete(records_url, params={'ids': cy['id']})) == {'success': True}
    counts = data(client.get(f'/v1/sheets/{sheet["id"]}/counts'))['counts']
    assert counts == {'total': 2, 'valid': 2, 'error': 0}

    # AND each write reached the bus as commit:created for the contacts sheet
    commits = eventually(
        lambda: [
            event for event in events(client, topic='commit:created') if event['context']['sheetId'] == sheet['id']
        ],
        lambda found: len(found) == 3,
        'three commit:created events of the sheet',
    )
    assert sorted(event['payload']['kind'] for event in commits) == ['delete', 'insert', 'update']
    assert all(event['context']['slugs'] == {'sheet': 'contacts'} for event in commits)


def test_an_unknown_field_key_is_400_and_a_foreign_sheet_404(client, other_client, sheet):
    records_url = f'/v1/sheets/{sheet["id"]}/records'
    assert_errors(client.post(records_url, json=[{'nickname': {'value': 'A'}}]), 400, 'values')
    assert_errors(other_client.get(records_url), 404, 'sheetId')
    assert data(client.get(f'/v1/sheets/{sheet["id"]}/counts'))['counts']['total'] == 0


# ---------------------------------------------------------------- actions
def test_running_an_action_creates_its_job_and_it_becomes_ready(client, sheet):
    job = data(client.post(f'/v1/workbooks/{sheet["workbookId"]}/actions/submit', json={'input': {'to': 'crm'}}), 201)
    assert (job['type'], job['operation'], job['status'], job['managed'], job['input']) == (
        'workbook',
        'submit',
        'ready',
        False,
        {'to': 'crm'},
    )
    listed = data(client.get('/v1/jobs', params={'workbookId': sheet['workbookId']}))
    assert job['id'] in [item['id'] for item in listed]
    eventually(
        lambda: events(client, jobId=job['id']),
        lambda found: 'job:ready' in [event['topic'] for event in found],
        f'job:ready of {job["id"]}',
    )

    sheet_job = data(client.post(f'/v1/sheets/{sheet["id"]}/actions/dedupe', json={'query': {'filter': 'valid'}}), 201)
    assert sheet_job['subject']['type'] == 'collection'
    assert_errors(client.post(f'/v1/sheets/{sheet["id"]}/actions/undeclared'), 404, 'operation')


# ---------------------------------------------------------------- snapshots, deletion
def test_a_snapshot_is_restored_by_its_job(client, sheet):
    records_url = f'/v1/sheets/{sheet["id"]}/records'
    data(client.post(records_url, json=[{'name': {'value': 'Ann'}}, {'name': {'value': 'Bob'}}]), 201)
    before = data(client.get(records_url))['records']
    snapshot = data(client.post('/v1/snapshots', json={'sheetId': sheet['id'], 'label': 'before'}), 201)
    assert snapshot['counts'] == {'total': 2, 'valid': 2, 'error': 0}

    # WHEN the sheet changes and the snapshot is restored
    data(client.delete(records_url, params={'ids': before[0]['id']}))
    data(client.post(records_url, json=[{'name': {'value': 'Zed'}}]), 201)
    job = data(client.post(f'/v1/snapshots/{snapshot["id"]}/restore'), 201)
    assert (job['type'], job['operation'], job['managed']) == ('sheet', 'restore-snapshot', True)

    # THEN its job completes and the sheet is as it was (written again by the restore's commit)
    done = finished(client, job['id'])
    assert done['status'] == 'complete', done
    restored = data(client.get(records_url))['records']
    assert [(record['id'], record['values']) for record in restored] == [
        (record['id'], record['values']) for record in before
    ]
    assert data(client.get(f'/v1/sheets/{sheet["id"]}/counts'))['counts'] == {'total': 2, 'valid': 2, 'error': 0}


def test_deleting_a_space_removes_what_it_held_through_its_job(client, space, sheet):
    data(client.post(f'/v1/sheets/{sheet["id"]}/records', json=[{'name': {'value': 'Ann'}}]), 201)
    file = data(
        client.post('/v1/files', files={'file': ('a.csv', CSV, 'text/csv')}, data={'spaceId': space['id']}), 201
    )

    job_id = data(client.delete(f'/v1/spaces/{space["id"]}'))['jobId']

    assert_errors(client.get(f'/v1/spaces/{space["id"]}'), 404, 'spaceId')
    done = finished(client, job_id)
    assert done['status'] == 'complete', done
    assert_errors(client.get(f'/v1/sheets/{sheet["id"]}'), 404, 'sheetId')
    assert_errors(client.get(f'/v1/workbooks/{sheet["workbookId"]}'), 404, 'workbookId')
    assert_errors(client.get(f'/v1/files/{file["id"]}'), 404, 'fileId')
