"""The job endpoints through the real API handler, on moto with the table from template.yaml."""

import pytest

from tests.builders import OTHER_TENANT

OUTCOME_NEXTS = [
    {'type': 'id', 'id': 'us_sp_1', 'path': 'files', 'query': 'mode=export', 'label': 'View Files'},
    {'type': 'url', 'url': 'https://example.com', 'label': 'View Results'},
    {'type': 'download', 'fileName': 'export.csv', 'url': 'https://example.com/f', 'label': 'Download'},
    {'type': 'files', 'files': [{'fileId': 'us_fl_1', 'label': 'a'}], 'label': 'Files'},
    {'type': 'wait', 'fade': True, 'confetti': True},
    {'type': 'snapshot', 'snapshotId': 'us_ss_1', 'sheetId': 'us_sh_1', 'label': 'View Snapshot'},
    {'type': 'retry', 'label': 'Try Again'},
    {'type': 'view', 'sheetId': 'us_sh_1', 'hiddenColumns': ['a'], 'label': 'View'},
]


# ---------------------------------------------------------------- create
def test_create_manual_job(api):
    # WHEN a job is created with only the required fields
    reply = api('POST', '/v1/jobs', {'type': 'workbook', 'operation': 'export', 'source': 'us_wb_1'})
    # THEN it is stored as created, with server-managed fields and no nulls
    assert reply.status == 201
    job = reply.data
    assert job['id'].startswith('us_jb_')
    assert job['status'] == 'created'
    assert job['trigger'] == 'manual'
    assert job['progress'] == 0
    assert job['version'] == 1
    assert job['attempt'] == 1
    assert job['createdBy'] == 'us_key_test0000001'
    assert job['environmentId'] == 'us_env_test0000001'
    assert job['createdAt'].endswith('Z')
    assert None not in job.values()
    assert api('GET', f'/v1/jobs/{job["id"]}').data == job


def test_immediate_job_is_ready(create_job):
    assert create_job(trigger='immediate')['status'] == 'ready'


@pytest.mark.parametrize('status', ['created', 'planning', 'ready'])
def test_explicit_initial_status(create_job, status):
    assert create_job(status=status)['status'] == status


@pytest.mark.parametrize('status', ['executing', 'complete', 'failed', 'canceled', 'waiting', 'bogus'])
def test_other_initial_statuses_are_refused(api, status):
    reply = api('POST', '/v1/jobs', {'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1', 'status': status})
    assert reply.status == 400
    assert reply.error_keys == ['status']


def test_the_whole_job_object_is_kept(api, create_job):
    # GIVEN every field a create accepts, with a custom type and operation
    predecessor = create_job(trigger='immediate')['id']
    api('POST', f'/v1/jobs/{predecessor}/complete')
    body = {
        'type': 'customType',
        'operation': 'customOperation',
        'source': 'us_wb_1',
        'destination': 'us_wb_2',
        'config': {'sheet': 'us_sh_1', 'filter': 'all', 'ratio': 0.5},
        'trigger': 'manual',
        'progress': 5,
        'fileId': 'us_fl_1',
        'spaceId': 'us_sp_1',
        'mode': 'foreground',
        'input': {'answer': 42, 'nested': {'list': [1, 2.5, 'x']}},
        'subject': {'type': 'collection', 'resource': 'records', 'query': {'filter': 'valid'}, 'params': {}},
        'outcome': {'message': 'preset', 'next': {'type': 'retry'}},
        'result': {'rows': 3},
        'info': 'queued',
        'managed': True,
        'part': 0,
        'partData': {'part': 0},
        'partExecution': 'parallel',
        'parentId': 'us_jb_parent',
        'predecessorIds': [predecessor],
        'metadata': {'owner': 'me'},
        'estimatedCompletionAt': '2024-01-01T12:00:00+02:00',
    }
    # WHEN it is created and read back
    job = api('GET', f'/v1/jobs/{api("POST", "/v1/jobs", body).data["id"]}').data
    # THEN every field is as given (timestamps normalised to UTC with milliseconds)
    expected = {**body, 'estimatedCompletionAt': '2024-01-01T10:00:00.000Z'}
    assert {key: job[key] for key in expected} == expected


def test_file_source_sets_file_id(create_job):
    assert create_job(type='file', operation='extract', source='us_fl_abc')['fileId'] == 'us_fl_abc'


def test_environment_id_must_be_the_keys(api):
    body = {'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1', 'environmentId': 'us_env_other'}
    reply = api('POST', '/v1/jobs', body)
    assert reply.status == 400
    assert reply.error_keys == ['environmentId']


# ---------------------------------------------------------------- the lifecycle
def test_lifecycle_to_acknowledged_outcome(api, create_job):
    job = create_job()
    jid = job['id']
    # execute: created → ready; returns Success
    reply = api('POST', f'/v1/jobs/{jid}/execute')
    assert (reply.status, reply.body) == (200, {'data': {'success': True}})
    assert api('GET', f'/v1/jobs/{jid}').data['status'] == 'ready'

    # ack with no body: ready → executing, startedAt set
    acked = api('POST', f'/v1/jobs/{jid}/ack').data
    assert acked['status'] == 'executing'
    started = acked['startedAt']

    # an ack tick updates progress, info and ETA, keeps startedAt
    tick = api(
        'POST',
        f'/v1/jobs/{jid}/ack',
        {'progress': 40, 'info': 'Processing', 'estimatedCompletionAt': '2030-01-01T00:00:00Z'},
    ).data
    assert (tick['progress'], tick['info'], tick['estimatedCompletionAt']) == (
        40,
        'Processing',
        '2030-01-01T00:00:00.000Z',
    )
    assert tick['startedAt'] == started

    # PATCH progress and ETA
    patched = api('PATCH', f'/v1/jobs/{jid}', {'progress': 50, 'estimatedCompletionAt': '2030-01-02T00:00:00Z'}).data
    assert patched['progress'] == 50

    # complete: progress 100, finishedAt, outcome
    done = api('POST', f'/v1/jobs/{jid}/complete', {'outcome': {'message': 'Export done', 'acknowledge': True}}).data
    assert done['status'] == 'complete'
    assert done['progress'] == 100
    assert done['outcome'] == {'message': 'Export done', 'acknowledge': True}
    assert 'finishedAt' in done

    # outcome/ack: once
    acknowledged = api('POST', f'/v1/jobs/{jid}/outcome/ack').data
    assert 'outcomeAcknowledgedAt' in acknowledged
    again = api('POST', f'/v1/jobs/{jid}/outcome/ack')
    assert again.status == 409
    assert 'already acknowledged' in again.body['errors'][0]['message']

    # every write bumped the version by one
    assert acknowledged['version'] == 7


def test_execute_on_a_ready_job_changes_nothing(api, create_job):
    job = create_job(trigger='immediate')
    reply = api('POST', f'/v1/jobs/{job["id"]}/execute')
    assert reply.status == 200
    assert api('GET', f'/v1/jobs/{job["id"]}').data == job


@pytest.mark.parametrize('nxt', OUTCOME_NEXTS, ids=lambda nxt: nxt['type'])
def test_complete_keeps_every_outcome_next_variant(api, create_job, nxt):
    job = create_job(trigger='immediate')
    outcome = {'heading': 'Done', 'message': 'Files ready', 'buttonText': 'Go', 'acknowledge': True, 'next': nxt}
    reply = api('POST', f'/v1/jobs/{job["id"]}/complete', {'outcome': outcome})
    assert reply.status == 200, reply.body
    assert api('GET', f'/v1/jobs/{job["id"]}').data['outcome'] == outcome


def test_outcome_next_with_a_missing_required_field_is_refused(api, create_job):
    job = create_job(trigger='immediate')
    reply = api('POST', f'/v1/jobs/{job["id"]}/complete', {'outcome': {'next': {'type': 'download'}}})
    assert reply.status == 400
    assert reply.error_keys == ['outcome.next.download.url']


def test_fail_then_retry_starts_a_new_attempt(api, create_job):
    jid = create_job(trigger='immediate')['id']
    api('POST', f'/v1/jobs/{jid}/ack', {'progress': 30})
    failed = api('POST', f'/v1/jobs/{jid}/fail', {'outcome': {'message': 'boom', 'acknowledge': True}}).data
    assert failed['status'] == 'failed'
    assert failed['outcome']['message'] == 'boom'

    retried = api('POST', f'/v1/jobs/{jid}/retry').data
    assert retried['status'] == 'ready'
    assert retried['attempt'] == 2
    assert retried['progress'] == 0
    for cleared in ('outcome', 'finishedAt', 'startedAt'):
        assert cleared not in retried


def test_cancel_from_any_active_status_and_retry(api, create_job):
    for job in (create_job(), create_job(status='planning'), create_job(trigger='immediate')):
        canceled = api('POST', f'/v1/jobs/{job["id"]}/cancel', {'info': 'user asked'}).data
        assert (canceled['status'], canceled['info']) == ('canceled', 'user asked')
        assert api('POST', f'/v1/jobs/{job["id"]}/retry').data['status'] == 'ready'


@pytest.mark.parametrize(
    ('setup', 'action'),
    [
        ([], 'ack'),
        ([], 'complete'),
        ([], 'retry'),
        ([], 'outcome/ack'),
        (['execute', 'ack', 'complete'], 'fail'),
        (['execute', 'ack', 'complete'], 'cancel'),
        (['execute', 'ack', 'complete'], 'ack'),
        (['execute', 'ack', 'complete'], 'execute'),
        (['cancel'], 'complete'),
        (['cancel'], 'outcome/ack'),
        (['execute'], 'retry'),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(api, create_job, setup, action):
    # GIVEN a job brought to some status
    jid = create_job()['id']
    for step in setup:
        assert api('POST', f'/v1/jobs/{jid}/{step}').status == 200
    before = api('GET', f'/v1/jobs/{jid}').data
    # WHEN an action its status does not allow is asked for
    reply = api('POST', f'/v1/jobs/{jid}/{action}')
    # THEN 409 names the status, and the job is unchanged
    assert reply.status == 409
    assert before['status'] in reply.body['errors'][0]['message']
    assert api('GET', f'/v1/jobs/{jid}').data == before


def test_patch_status_follows_the_lifecycle(api, create_job):
    jid = create_job()['id']
    assert api('PATCH', f'/v1/jobs/{jid}', {'status': 'complete'}).status == 409
    assert api('PATCH', f'/v1/jobs/{jid}', {'status': 'planning'}).data['status'] == 'planning'
    assert api('PATCH', f'/v1/jobs/{jid}', {'status': 'ready'}).data['status'] == 'ready'
    executing = api('PATCH', f'/v1/jobs/{jid}', {'status': 'executing', 'progress': 20}).data
    assert (executing['status'], executing['progress'], 'startedAt' in executing) == ('executing', 20, True)
    done = api('PATCH', f'/v1/jobs/{jid}', {'status': 'complete'}).data
    assert (done['status'], done['progress']) == ('complete', 100)
    assert api('PATCH', f'/v1/jobs/{jid}', {'progress': 5}).status == 409
    assert api('PATCH', f'/v1/jobs/{jid}', {'metadata': {'note': 'kept'}}).data['metadata'] == {'note': 'kept'}
    acknowledged = api('PATCH', f'/v1/jobs/{jid}', {'outcomeAcknowledgedAt': '2030-01-01T00:00:00Z'}).data
    assert acknowledged['outcomeAcknowledgedAt'] == '2030-01-01T00:00:00.000Z'
    assert api('PATCH', f'/v1/jobs/{jid}', {'outcomeAcknowledgedAt': '2030-01-01T00:00:00Z'}).status == 409


def test_delete(api, create_job):
    jid = create_job()['id']
    assert api('DELETE', f'/v1/jobs/{jid}').body == {'data': {'success': True}}
    assert api('GET', f'/v1/jobs/{jid}').status == 404
    assert api('DELETE', f'/v1/jobs/{jid}').status == 404


# ---------------------------------------------------------------- races
RACES = [
    ('complete', 'fail'),
    ('fail', 'complete'),
    ('complete', 'cancel'),
    ('cancel', 'fail'),
    ('retry', 'retry'),
    ('outcome/ack', 'outcome/ack'),
]


@pytest.mark.parametrize(('first', 'second'), RACES)
def test_racing_callers_have_exactly_one_winner(api, create_job, first, second):
    # GIVEN a job both callers may act on
    jid = create_job(trigger='immediate')['id']
    api('POST', f'/v1/jobs/{jid}/ack')
    if 'retry' in first:
        api('POST', f'/v1/jobs/{jid}/fail')
    if 'outcome' in first:
        api('POST', f'/v1/jobs/{jid}/complete')
    # WHEN both arrive, in this order
    winner = api('POST', f'/v1/jobs/{jid}/{first}')
    loser = api('POST', f'/v1/jobs/{jid}/{second}')
    # THEN the first wins and the second is a 409 that changed nothing
    assert winner.status == 200
    assert loser.status == 409
    assert api('GET', f'/v1/jobs/{jid}').data == winner.data


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ('body', 'key'),
    [
        ({'type': 'workbook', 'operation': 'export'}, 'source'),
        ({'type': 'workbook', 'operation': 'export', 'source': 7}, 'source'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'progress': 101}, 'progress'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'progress': -1}, 'progress'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'progress': 50.5}, 'progress'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'progress': '50'}, 'progress'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'trigger': 'later'}, 'trigger'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'mode': 'loud'}, 'mode'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'surprise': 1}, 'surprise'),
        ({'type': 'workbook', 'operation': 'export', 'source': 'x', 'outcome': {'mesage': 'typo'}}, 'outcome.mesage'),
        ({'type': '', 'operation': 'export', 'source': 'x'}, 'type'),
        ({'type': 'workbook', 'operation': 'a:b', 'source': 'x'}, 'operation'),
        ([1, 2], 'body'),
    ],
)
def test_invalid_create_bodies_are_400_with_the_field(api, body, key):
    reply = api('POST', '/v1/jobs', body)
    assert reply.status == 400
    assert key in reply.error_keys
    assert all(error['message'] for error in reply.body['errors'])
    assert api('GET', '/v1/jobs').body['pagination']['totalCount'] == 0


def test_malformed_json_is_400(api):
    reply = api('POST', '/v1/jobs', raw_body='{"type": "workbook",')
    assert (reply.status, reply.error_keys) == (400, ['body'])


@pytest.mark.parametrize(
    ('path', 'body', 'key'),
    [
        ('ack', {'progress': 150}, 'progress'),
        ('ack', {'progress': 10, 'extra': True}, 'extra'),
        ('complete', {'outcome': 'done'}, 'outcome'),
        ('fail', {'info': ['not', 'text']}, 'info'),
        ('cancel', {'reason': 'x'}, 'reason'),
    ],
)
def test_invalid_action_bodies_are_400_and_change_nothing(api, create_job, path, body, key):
    jid = create_job(trigger='immediate')['id']
    before = api('GET', f'/v1/jobs/{jid}').data
    reply = api('POST', f'/v1/jobs/{jid}/{path}', body)
    assert reply.status == 400
    assert key in reply.error_keys
    assert api('GET', f'/v1/jobs/{jid}').data == before


def test_empty_patch_is_400(api, create_job):
    jid = create_job()['id']
    assert api('PATCH', f'/v1/jobs/{jid}', {}).status == 400


def test_body_over_one_megabyte_is_413_before_anything_else(api, create_job):
    jid = create_job()['id']
    before = api('GET', f'/v1/jobs/{jid}').data
    big = {'metadata': {'blob': 'x' * (1024 * 1024)}}
    reply = api('PATCH', f'/v1/jobs/{jid}', big)
    assert (reply.status, reply.error_keys) == (413, ['body'])
    assert api('PATCH', f'/v1/jobs/{jid}', raw_body='{' + 'x' * 1_100_000, base64_body=True).status == 413
    assert api('GET', f'/v1/jobs/{jid}').data == before


def test_a_job_over_the_item_limit_is_413_not_500(api):
    # Under the 1 MB body limit, but over DynamoDB's 400 KB item limit.
    body = {'type': 'workbook', 'operation': 'x', 'source': 'us_wb_1', 'metadata': {'blob': 'x' * 500_000}}
    reply = api('POST', '/v1/jobs', body)
    assert reply.status == 413
    assert api('GET', '/v1/jobs').body['pagination']['totalCount'] == 0


@pytest.mark.parametrize(
    ('method', 'suffix'),
    [('GET', ''), ('PATCH', ''), ('DELETE', ''), ('POST', '/ack'), ('POST', '/execute'), ('POST', '/retry')],
)
def test_unknown_and_foreign_jobs_are_404(api, create_job, method, suffix):
    theirs = create_job(tenant=OTHER_TENANT)['id']
    body = {'progress': 1} if method == 'PATCH' else None
    for jid in ('us_jb_doesnotexist', theirs):
        reply = api(method, f'/v1/jobs/{jid}{suffix}', body)
        assert (reply.status, reply.error_keys) == (404, ['jobId'])
    assert api('GET', f'/v1/jobs/{theirs}', tenant=OTHER_TENANT).data['version'] == 1


def test_no_tenant_on_the_request_is_401(api):
    assert api('GET', '/v1/jobs', tenant=None).status == 401


def test_unknown_route_is_404_in_the_error_shape(api):
    reply = api('GET', '/v1/nothing-here')
    assert (reply.status, reply.error_keys) == (404, ['path'])


# ---------------------------------------------------------------- list
def test_list_is_scoped_to_the_environment(api, create_job):
    mine = create_job()
    create_job(tenant=OTHER_TENANT)
    reply = api('GET', '/v1/jobs')
    assert [job['id'] for job in reply.data] == [mine['id']]
    assert reply.body['pagination'] == {'currentPage': 1, 'pageCount': 1, 'totalCount': 1}
    other = api('GET', '/v1/jobs', query={'environmentId': OTHER_TENANT.environment_id})
    assert other.data == []


def test_list_filters(api, create_job):
    a = create_job(spaceId='us_sp_a', source='us_wb_a', trigger='immediate')
    b = create_job(spaceId='us_sp_b', source='us_fl_b', type='file', operation='extract')
    child = create_job(spaceId='us_sp_a', source='us_wb_a', parentId=a['id'], part=0)
    mapped = create_job(source='us_wb_src', destination='us_wb_dst')
    extract = create_job(type='file', operation='extract', source='us_fl_c', destination='us_wb_dst')

    def ids(**query):
        reply = api('GET', '/v1/jobs', query={key: str(value) for key, value in query.items()})
        assert reply.status == 200, reply.body
        assert reply.body['pagination']['totalCount'] == len(reply.data)
        return {job['id'] for job in reply.data}

    assert ids(spaceId='us_sp_a') == {a['id'], child['id']}
    assert ids(spaceId='us_sp_a', excludeChildJobs='true') == {a['id']}
    assert ids(parentId=a['id']) == {child['id']}
    assert ids(fileId='us_fl_b') == {b['id']}
    assert ids(workbookId='us_wb_a') == {a['id'], child['id']}
    # a job belongs to the workbook it reads (its source), else the one it writes (its destination)
    assert ids(workbookId='us_wb_src') == {mapped['id']}
    assert ids(workbookId='us_wb_dst') == {extract['id']}
    assert ids(source='us_wb_a', status='ready') == {a['id']}
    assert ids(status='created') == {b['id'], child['id'], mapped['id'], extract['id']}
    assert ids(excludeChildJobs='true') == {a['id'], b['id'], mapped['id'], extract['id']}
    assert ids(spaceId='us_sp_none') == set()


def test_status_index_follows_transitions(api, create_job):
    jid = create_job()['id']
    api('POST', f'/v1/jobs/{jid}/cancel')
    assert api('GET', '/v1/jobs', query={'status': 'created'}).data == []
    assert [job['id'] for job in api('GET', '/v1/jobs', query={'status': 'canceled'}).data] == [jid]


def test_pages_by_number_and_by_cursor(api, create_job):
    created = [create_job()['id'] for _ in range(7)]
    # pageNumber, newest first by default
    first = api('GET', '/v1/jobs', query={'pageSize': '3'})
    assert first.body['pagination']['pageCount'] == 3
    assert first.body['pagination']['totalCount'] == 7
    assert [job['id'] for job in first.data] == created[::-1][:3]
    third = api('GET', '/v1/jobs', query={'pageSize': '3', 'pageNumber': '3'})
    assert [job['id'] for job in third.data] == created[::-1][6:]
    assert 'nextPageToken' not in third.body['pagination']
    # the cursor walks every job once, oldest first when asked
    seen, token = [], None
    while True:
        query = {'pageSize': '2', 'sortDirection': 'asc', **({'pageToken': token} if token else {})}
        page = api('GET', '/v1/jobs', query=query)
        seen += [job['id'] for job in page.data]
        token = page.body['pagination'].get('nextPageToken')
        if not token:
            break
    assert seen == created


@pytest.mark.parametrize(
    ('query', 'key'),
    [
        ({'pageSize': '0'}, 'pageSize'),
        ({'pageSize': '101'}, 'pageSize'),
        ({'pageNumber': '0'}, 'pageNumber'),
        ({'pageSize': 'ten'}, 'pageSize'),
        ({'sortDirection': 'up'}, 'sortDirection'),
        ({'status': 'done'}, 'status'),
        ({'excludeChildJobs': 'maybe'}, 'excludeChildJobs'),
        ({'pageToken': 'not-a-token'}, 'pageToken'),
    ],
)
def test_invalid_list_queries_are_400(api, query, key):
    reply = api('GET', '/v1/jobs', query=query)
    assert reply.status == 400
    assert reply.error_keys == [key]


def test_a_page_token_only_works_for_its_own_query(api, create_job):
    for _ in range(3):
        create_job(spaceId='us_sp_a')
    token = api('GET', '/v1/jobs', query={'pageSize': '1'}).body['pagination']['nextPageToken']
    reply = api('GET', '/v1/jobs', query={'pageSize': '1', 'spaceId': 'us_sp_a', 'pageToken': token})
    assert (reply.status, reply.error_keys) == (400, ['pageToken'])
    foreign = api('GET', '/v1/jobs', query={'pageSize': '1', 'pageToken': token}, tenant=OTHER_TENANT)
    assert (foreign.status, foreign.error_keys) == (400, ['pageToken'])


# ---------------------------------------------------------------- docs
def test_openapi_and_docs_are_served(api):
    spec = api('GET', '/v1/openapi.json', tenant=None)
    assert spec.status == 200
    assert '/v1/jobs/{jobId}/outcome/ack' in spec.body['paths']
    docs = api('GET', '/v1/docs', tenant=None)
    assert docs.status == 200
    assert 'swagger' in docs.body.lower()
    assert api('GET', '/health', tenant=None).body == {'status': 'ok'}


def test_exactly_one_ack_is_told_it_started_the_job(api, create_job):
    # GIVEN a ready job two listeners race for
    jid = create_job(trigger='immediate')['id']
    # WHEN both ack it
    first = api('POST', f'/v1/jobs/{jid}/ack')
    second = api('POST', f'/v1/jobs/{jid}/ack', {'progress': 5})
    # THEN both succeed, but only the first is told the job is its own
    assert (first.status, first.headers['Job-Started']) == (200, 'true')
    assert (second.status, second.headers['Job-Started']) == (200, 'false')
    # and a retried job can be started again
    api('POST', f'/v1/jobs/{jid}/fail')
    api('POST', f'/v1/jobs/{jid}/retry')
    assert api('POST', f'/v1/jobs/{jid}/ack').headers['Job-Started'] == 'true'
