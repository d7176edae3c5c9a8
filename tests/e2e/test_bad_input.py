"""Every bad input of the issue, over HTTP: the right status, the API's error shape, and nothing changed."""

import json

import httpx
import pytest

from tests.e2e.conftest import assert_errors

pytestmark = pytest.mark.xdist_group('localstack')

ONE_MB = 1024 * 1024


@pytest.fixture
def job(create_job):
    """An executing job: most actions are legal on it, so a refusal is the bad input's doing."""
    created = create_job(trigger='immediate', metadata={'keep': 'me'})
    return created


@pytest.fixture
def executing(client, job):
    response = client.post(f'/v1/jobs/{job["id"]}/ack', json={'progress': 10, 'info': 'working'})
    assert response.status_code == 200, response.text
    return response.json()['data']


def stored(client: httpx.Client, job_id: str) -> dict:
    response = client.get(f'/v1/jobs/{job_id}')
    assert response.status_code == 200, response.text
    return response.json()['data']


@pytest.mark.parametrize(
    ('method', 'suffix'),
    [('PATCH', ''), ('POST', '/ack'), ('POST', '/complete'), ('POST', '/fail'), ('POST', '/cancel')],
)
def test_malformed_json_is_400_and_changes_nothing(client, executing, method, suffix):
    # WHEN the body is not JSON
    response = client.request(
        method,
        f'/v1/jobs/{executing["id"]}{suffix}',
        content=b'{"progress": 50,',
        headers={'Content-Type': 'application/json'},
    )

    # THEN 400 in the error shape, and the job is as it was
    assert_errors(response, 400)
    assert stored(client, executing['id']) == executing


def test_malformed_json_on_create_is_400(client):
    response = client.post('/v1/jobs', content=b'{"type": ', headers={'Content-Type': 'application/json'})
    assert_errors(response, 400, 'body')


@pytest.mark.parametrize(
    ('method', 'suffix', 'body', 'key'),
    [
        ('PATCH', '', {'progress': 'fifty'}, 'progress'),
        ('PATCH', '', {'progress': 50.5}, 'progress'),
        ('PATCH', '', {'metadata': 'not an object'}, 'metadata'),
        ('PATCH', '', {'info': 42}, 'info'),
        ('POST', '/ack', {'progress': True}, 'progress'),
        ('POST', '/ack', {'estimatedCompletionAt': 'next tuesday'}, 'estimatedCompletionAt'),
        ('POST', '/complete', {'outcome': 'done'}, 'outcome'),
        ('POST', '/complete', {'outcome': {'next': {'type': 'url'}}}, None),
        ('POST', '/fail', {'info': ['a']}, 'info'),
    ],
)
def test_wrong_types_are_400_and_change_nothing(client, executing, method, suffix, body, key):
    response = client.request(method, f'/v1/jobs/{executing["id"]}{suffix}', json=body)
    errors = assert_errors(response, 400)
    if key is not None:
        assert any(error['key'].startswith(key) for error in errors), errors
    assert stored(client, executing['id']) == executing


@pytest.mark.parametrize(
    ('method', 'suffix', 'body'),
    [
        ('PATCH', '', {'progress': 20, 'colour': 'red'}),
        ('PATCH', '', {'status': 'executing', 'environmentId': 'us_env_x'}),
        ('POST', '/ack', {'progres': 20}),
        ('POST', '/complete', {'outcome': {'message': 'ok', 'sparkles': True}}),
        ('POST', '/cancel', {'reason': 'x'}),
    ],
)
def test_unknown_fields_are_400_and_change_nothing(client, executing, method, suffix, body):
    response = client.request(method, f'/v1/jobs/{executing["id"]}{suffix}', json=body)
    assert_errors(response, 400)
    assert stored(client, executing['id']) == executing


def test_unknown_field_on_create_is_400_naming_it(client):
    response = client.post('/v1/jobs', json={'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1', 'colour': 1})
    assert_errors(response, 400, 'colour')


@pytest.mark.parametrize('progress', [-1, 101, 1000])
@pytest.mark.parametrize(('method', 'suffix'), [('PATCH', ''), ('POST', '/ack')])
def test_progress_outside_0_to_100_is_400_and_changes_nothing(client, executing, method, suffix, progress):
    response = client.request(method, f'/v1/jobs/{executing["id"]}{suffix}', json={'progress': progress})
    assert_errors(response, 400, 'progress')
    assert stored(client, executing['id']) == executing


def test_progress_outside_0_to_100_on_create_is_400(client):
    body = {'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1', 'progress': 101}
    assert_errors(client.post('/v1/jobs', json=body), 400, 'progress')


def test_create_with_an_initial_status_other_than_created_planning_ready_is_400(client):
    body = {'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1', 'status': 'executing'}
    assert_errors(client.post('/v1/jobs', json=body), 400, 'status')


def test_body_over_one_megabyte_is_413_and_changes_nothing(client, executing):
    # WHEN a PATCH body is just over 1 MB (valid JSON otherwise)
    body = json.dumps({'info': 'x', 'metadata': {'blob': 'a' * ONE_MB}}).encode()
    response = client.patch(f'/v1/jobs/{executing["id"]}', content=body, headers={'Content-Type': 'application/json'})

    # THEN 413 in the error shape, and nothing changed
    assert_errors(response, 413, 'body')
    assert stored(client, executing['id']) == executing


def test_create_body_over_one_megabyte_is_413(client):
    body = {'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1', 'metadata': {'blob': 'a' * ONE_MB}}
    assert_errors(client.post('/v1/jobs', json=body), 413, 'body')


def test_body_over_api_gateways_ten_megabytes_is_413_from_the_gateway(client, executing):
    response = client.patch(f'/v1/jobs/{executing["id"]}', content=b'{' + b' ' * (10 * ONE_MB) + b'}')
    assert_errors(response, 413, 'body')
    assert stored(client, executing['id']) == executing


@pytest.mark.parametrize(
    ('method', 'suffix'),
    [
        ('GET', ''),
        ('PATCH', ''),
        ('DELETE', ''),
        ('POST', '/execute'),
        ('POST', '/ack'),
        ('POST', '/complete'),
        ('POST', '/fail'),
        ('POST', '/cancel'),
        ('POST', '/retry'),
        ('POST', '/outcome/ack'),
    ],
)
def test_unknown_job_is_404(client, method, suffix):
    body = {'progress': 5} if method == 'PATCH' else None
    response = client.request(method, f'/v1/jobs/us_jb_doesnotexist{suffix}', json=body)
    assert_errors(response, 404)


@pytest.mark.parametrize(
    ('method', 'suffix'),
    [('GET', ''), ('PATCH', ''), ('DELETE', ''), ('POST', '/execute'), ('POST', '/cancel'), ('POST', '/complete')],
)
def test_another_environments_job_is_404_and_unchanged(client, other_client, executing, method, suffix):
    # WHEN a key of another environment acts on the job
    body = {'progress': 99} if method == 'PATCH' else None
    response = other_client.request(method, f'/v1/jobs/{executing["id"]}{suffix}', json=body)

    # THEN it does not exist for that key, and it is unchanged for its own
    assert_errors(response, 404)
    assert stored(client, executing['id']) == executing


def test_another_environments_job_is_absent_from_its_list(client, other_client, executing):
    ids = {job['id'] for job in other_client.get('/v1/jobs', params={'pageSize': 100}).json()['data']}
    assert executing['id'] not in ids
    by_source = other_client.get('/v1/jobs', params={'source': executing['source'], 'pageSize': 100})
    assert by_source.status_code == 200
    assert executing['id'] not in {job['id'] for job in by_source.json()['data']}
    # ...while its own environment sees it
    own = client.get('/v1/jobs', params={'source': executing['source'], 'pageSize': 100}).json()['data']
    assert executing['id'] in {job['id'] for job in own}


@pytest.mark.parametrize(
    'headers',
    [
        {},
        {'Authorization': 'Bearer sk_not_a_real_key'},
        {'Authorization': 'Bearer'},
        {'Authorization': 'Basic dXNlcjpwYXNz'},
        {'Authorization': 'sk_no_scheme'},
    ],
    ids=['missing', 'wrong', 'empty', 'basic', 'no-scheme'],
)
@pytest.mark.parametrize(('method', 'path'), [('GET', '/v1/jobs'), ('POST', '/v1/jobs'), ('GET', '/v1/jobs/us_jb_x')])
def test_missing_or_wrong_key_is_401(anonymous, headers, method, path):
    body = {'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1'} if method == 'POST' else None
    response = anonymous.request(method, path, json=body, headers=headers)
    assert_errors(response, 401, 'authorization')


def test_a_wrong_key_does_not_change_a_job(client, anonymous, executing):
    response = anonymous.post(
        f'/v1/jobs/{executing["id"]}/complete', headers={'Authorization': 'Bearer sk_wrong_wrong_wrong'}
    )
    assert_errors(response, 401)
    assert stored(client, executing['id']) == executing


@pytest.mark.parametrize(
    ('setup', 'action'),
    [
        ([], 'ack'),  # created → ack
        ([], 'complete'),
        ([], 'retry'),
        ([], 'outcome/ack'),
        (['execute', 'complete'], 'fail'),
        (['execute', 'complete'], 'cancel'),
        (['execute', 'complete'], 'ack'),
        (['execute', 'complete'], 'retry'),
        (['execute', 'fail'], 'complete'),
        (['cancel'], 'execute'),
        (['cancel'], 'outcome/ack'),
    ],
)
def test_illegal_transition_is_409_naming_the_status_and_changes_nothing(client, create_job, setup, action):
    # GIVEN a job brought to some status
    job = create_job()
    for step in setup:
        assert client.post(f'/v1/jobs/{job["id"]}/{step}').status_code == 200
    before = stored(client, job['id'])

    # WHEN an action its status does not allow is asked for
    response = client.post(f'/v1/jobs/{job["id"]}/{action}')

    # THEN 409, the message names the current status, and nothing changed
    errors = assert_errors(response, 409)
    assert before['status'] in errors[0]['message']
    assert stored(client, job['id']) == before


def test_patching_status_against_the_lifecycle_is_409(client, create_job):
    job = create_job()
    response = client.patch(f'/v1/jobs/{job["id"]}', json={'status': 'complete'})
    assert_errors(response, 409)
    assert stored(client, job['id']) == job
