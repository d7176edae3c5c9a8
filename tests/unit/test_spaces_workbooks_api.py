"""Spaces, workbooks, sheets and actions through the API."""

import pytest

from tests.builders import OTHER_TENANT
from tests.unit.data_fixtures import CONTACTS, data_api_fixture  # noqa: F401 - fixtures


# ---------------------------------------------------------------- spaces
def test_space_create_get_list_update(data_api):
    # WHEN a space is created
    reply = data_api.call('POST', '/v1/spaces', {'name': 'Imports', 'metadata': {'team': 'ops'}, 'labels': ['q3']})

    # THEN it has an id, the caller's environment, and reads back as created
    assert reply.status == 201, reply.body
    space = reply.data
    assert space['id'].startswith('us_sp_')
    assert space['environmentId'] == 'us_env_test0000001'
    assert (space['name'], space['metadata'], space['labels']) == ('Imports', {'team': 'ops'}, ['q3'])
    assert data_api.call('GET', f'/v1/spaces/{space["id"]}').data == space

    # WHEN it is updated, what is given replaces what was, and null removes
    patched = data_api.call('PATCH', f'/v1/spaces/{space["id"]}', {'name': 'Renamed', 'labels': None}).data
    assert (patched['name'], patched['metadata'], 'labels' in patched) == ('Renamed', {'team': 'ops'}, False)

    # AND lists show the environment's spaces only, paged
    data_api.space()
    listed = data_api.call('GET', '/v1/spaces', query={'pageSize': '1'})
    assert listed.body['pagination'] == {
        'currentPage': 1,
        'pageCount': 2,
        'totalCount': 2,
        'nextPageToken': listed.body['pagination']['nextPageToken'],
    }
    assert data_api.call('GET', '/v1/spaces', tenant=OTHER_TENANT).body['data'] == []


def test_auto_configure_creates_a_space_configure_job(data_api):
    space = data_api.space(autoConfigure=True)
    jobs = data_api.call('GET', '/v1/jobs', query={'spaceId': space['id']}).data
    assert [(job['type'], job['operation'], job['source'], job['status']) for job in jobs] == [
        ('space', 'configure', space['id'], 'ready')
    ]


def test_deleting_a_space_is_at_once_and_hands_its_contents_to_a_job(data_api):
    space = data_api.space()
    reply = data_api.call('DELETE', f'/v1/spaces/{space["id"]}')
    assert reply.status == 200
    job_id = reply.data['jobId']
    assert reply.data['success'] is True
    assert data_api.call('GET', f'/v1/spaces/{space["id"]}').status == 404
    assert data_api.call('DELETE', f'/v1/spaces/{space["id"]}').status == 404
    job = data_api.call('GET', f'/v1/jobs/{job_id}').data
    assert (job['type'], job['operation'], job['source'], job['status'], job['managed']) == (
        'space',
        'delete',
        space['id'],
        'ready',
        True,
    )
    # AND nothing new goes into it
    assert data_api.call('POST', '/v1/workbooks', {'name': 'W', 'spaceId': space['id']}).status == 404


@pytest.mark.parametrize(
    ('body', 'key'),
    [
        ({'name': ''}, 'name'),
        ({'nmae': 'typo'}, 'nmae'),
        ({'environmentId': 'us_env_other'}, 'environmentId'),
        ({'metadata': 'text'}, 'metadata'),
    ],
)
def test_bad_space_bodies_are_400(data_api, body, key):
    reply = data_api.call('POST', '/v1/spaces', body)
    assert reply.status == 400
    assert key in reply.error_keys


def test_unknown_and_foreign_spaces_are_404(data_api):
    space = data_api.space()
    for method, body in (('GET', None), ('PATCH', {'name': 'x'}), ('DELETE', None)):
        assert data_api.call(method, '/v1/spaces/us_sp_unknown', body).status == 404
        assert data_api.call(method, f'/v1/spaces/{space["id"]}', body, tenant=OTHER_TENANT).status == 404


# ---------------------------------------------------------------- workbooks and sheets
def test_workbook_with_sheets_fields_and_actions(data_api):
    # WHEN a workbook is created with a sheet
    space = data_api.space()
    workbook = data_api.workbook(space['id'], labels=['primary'], metadata={'v': 1})

    # THEN the workbook and its sheet come back, the sheet with its config and empty counts
    assert workbook['id'].startswith('us_wb_')
    assert (workbook['spaceId'], workbook['labels'], workbook['metadata']) == (space['id'], ['primary'], {'v': 1})
    assert workbook['actions'] == [{'operation': 'submit', 'label': 'Submit', 'mode': 'background', 'type': 'string'}]
    [sheet] = workbook['sheets']
    assert sheet['id'].startswith('us_sh_')
    assert (sheet['workbookId'], sheet['name'], sheet['slug']) == (workbook['id'], 'Contacts', 'contacts')
    assert [field['key'] for field in sheet['config']['fields']] == ['name', 'email', 'age', 'active', 'tier']
    assert sheet['config']['fields'][0]['constraints'] == [{'type': 'required'}]
    assert sheet['countRecords'] == {'total': 0, 'valid': 0, 'error': 0}

    # AND it reads back, lists by space and by environment, and its sheets list by workbook
    assert data_api.call('GET', f'/v1/workbooks/{workbook["id"]}').data == workbook
    assert [item['id'] for item in data_api.call('GET', '/v1/workbooks', query={'spaceId': space['id']}).data] == [
        workbook['id']
    ]
    assert data_api.call('GET', '/v1/sheets', query={'workbookId': workbook['id']}).data == [sheet]
    assert data_api.call('GET', f'/v1/sheets/{sheet["id"]}').data == sheet


def test_a_sheet_slug_is_made_from_its_name(data_api):
    sheet = data_api.sheet(sheets=[{'name': 'Purchase Orders 2024', 'fields': [{'key': 'n', 'type': 'string'}]}])
    assert sheet['slug'] == 'purchase-orders-2024'


def test_workbook_update_and_delete(data_api):
    workbook = data_api.workbook()
    sheet = workbook['sheets'][0]
    patched = data_api.call('PATCH', f'/v1/workbooks/{workbook["id"]}', {'name': 'Renamed', 'actions': []})
    assert patched.status == 200, patched.body
    assert (patched.data['name'], patched.data['actions'], len(patched.data['sheets'])) == ('Renamed', [], 1)
    assert data_api.call('PATCH', f'/v1/workbooks/{workbook["id"]}', {'sheets': []}).status == 400

    # an action given is stored as given (no null keys), and a field set to null is removed
    action = {'operation': 'submit', 'label': 'Submit'}
    patched = data_api.call('PATCH', f'/v1/workbooks/{workbook["id"]}', {'actions': [action], 'labels': ['a']})
    assert patched.data['actions'] == [action]
    patched = data_api.call('PATCH', f'/v1/workbooks/{workbook["id"]}', {'labels': None})
    assert 'labels' not in patched.data and patched.data['actions'] == [action]

    reply = data_api.call('DELETE', f'/v1/workbooks/{workbook["id"]}')
    assert reply.status == 200
    assert data_api.call('GET', f'/v1/workbooks/{workbook["id"]}').status == 404
    assert data_api.call('GET', f'/v1/sheets/{sheet["id"]}').status == 404
    job = data_api.call('GET', f'/v1/jobs/{reply.data["jobId"]}').data
    assert (job['type'], job['operation'], job['source']) == ('workbook', 'delete', workbook['id'])


def test_sheet_delete_is_at_once_with_a_job_for_its_records(data_api):
    sheet = data_api.sheet()
    reply = data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}')
    assert reply.status == 200
    assert data_api.call('GET', f'/v1/sheets/{sheet["id"]}').status == 404
    assert data_api.insert(sheet['id'], [{'name': 'x'}]).status == 404
    job = data_api.call('GET', f'/v1/jobs/{reply.data["jobId"]}').data
    assert (job['type'], job['operation'], job['source']) == ('sheet', 'delete', sheet['id'])


@pytest.mark.parametrize(
    ('sheets', 'fragment'),
    [
        pytest.param(
            [{'name': 'S', 'fields': [{'key': 'a', 'type': 'string'}, {'key': 'a', 'type': 'number'}]}],
            "field key 'a' is used twice",
            id='repeated field keys',
        ),
        pytest.param(
            [{'name': 'S', 'fields': []}, {'name': 'T', 'slug': 's', 'fields': []}],
            'same slug',
            id='repeated slugs',
        ),
        pytest.param(
            [{'name': 'S', 'fields': [{'key': 'a', 'type': 'enum'}]}], 'needs config.options', id='enum without options'
        ),
        pytest.param([{'name': 'S', 'fields': [{'key': 'a', 'type': 'money'}]}], 'type', id='unknown type'),
        pytest.param([{'name': 'S', 'slug': 'no spaces', 'fields': []}], 'slug', id='bad slug'),
    ],
)
def test_bad_workbooks_are_400_and_nothing_is_created(data_api, sheets, fragment):
    space = data_api.space()
    reply = data_api.call('POST', '/v1/workbooks', {'name': 'W', 'spaceId': space['id'], 'sheets': sheets})
    assert reply.status == 400, reply.body
    assert fragment in ' '.join(error['key'] + ' ' + error['message'] for error in reply.body['errors'])
    assert data_api.call('GET', '/v1/workbooks').data == []


def test_a_workbook_in_an_unknown_or_foreign_space_is_404(data_api):
    space = data_api.space()
    body = {'name': 'W', 'sheets': [CONTACTS]}
    assert data_api.call('POST', '/v1/workbooks', {**body, 'spaceId': 'us_sp_unknown'}).status == 404
    foreign = data_api.call('POST', '/v1/workbooks', {**body, 'spaceId': space['id']}, tenant=OTHER_TENANT)
    assert foreign.status == 404
    assert foreign.error_keys == ['spaceId']
    assert data_api.call('GET', '/v1/sheets', query={'workbookId': 'us_wb_unknown'}).status == 404


# ---------------------------------------------------------------- actions
def test_a_workbook_action_creates_its_action_job(data_api):
    workbook = data_api.workbook()
    reply = data_api.call('POST', f'/v1/workbooks/{workbook["id"]}/actions/submit', {'input': {'destination': 'crm'}})
    assert reply.status == 201, reply.body
    job = reply.data
    assert {key: job.get(key) for key in ('type', 'operation', 'source', 'trigger', 'mode', 'managed', 'status')} == {
        'type': 'workbook',
        'operation': 'submit',
        'source': workbook['id'],
        'trigger': 'immediate',
        'mode': 'background',
        'managed': False,
        'status': 'ready',
    }
    assert job['input'] == {'destination': 'crm'}
    assert job['spaceId'] == workbook['spaceId']
    # AND without a body too
    assert data_api.call('POST', f'/v1/workbooks/{workbook["id"]}/actions/submit').status == 201


def test_a_sheet_action_creates_a_job_with_a_collection_subject(data_api):
    sheet = data_api.sheet()
    reply = data_api.call(
        'POST',
        f'/v1/sheets/{sheet["id"]}/actions/dedupe',
        {'input': {'keep': 'first'}, 'query': {'filter': 'valid', 'ids': ['us_rc_1']}},
    )
    assert reply.status == 201, reply.body
    job = reply.data
    assert (job['type'], job['operation'], job['source'], job['mode'], job['managed']) == (
        'sheet',
        'dedupe',
        sheet['id'],
        'foreground',
        False,
    )
    assert job['subject'] == {
        'type': 'collection',
        'resource': 'records',
        'params': {'sheetId': sheet['id'], 'workbookId': sheet['workbookId']},
        'query': {'filter': 'valid', 'ids': ['us_rc_1']},
    }
    assert job['input'] == {'keep': 'first'}


def test_an_undeclared_action_is_404_and_creates_nothing(data_api):
    workbook = data_api.workbook()
    sheet = workbook['sheets'][0]
    assert data_api.call('POST', f'/v1/workbooks/{workbook["id"]}/actions/dedupe').status == 404
    assert data_api.call('POST', f'/v1/sheets/{sheet["id"]}/actions/submit').status == 404
    assert data_api.call('POST', '/v1/workbooks/us_wb_unknown/actions/submit').status == 404
    assert data_api.call('GET', '/v1/jobs').data == []


def test_an_action_body_with_unknown_fields_is_400(data_api):
    workbook = data_api.workbook()
    assert data_api.call('POST', f'/v1/workbooks/{workbook["id"]}/actions/submit', {'inputs': {}}).status == 400
