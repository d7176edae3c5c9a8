"""POST /v1/jobs/preview-mutation: each selected record as a JSONata mutation would leave it, validated,
with the value it holds now; failures shown on their record; bad input refused; nothing written."""

import pytest

from jobs_core.system import mutate
from tests.builders import OTHER_TENANT
from tests.unit.data_fixtures import data_api_fixture, stored_items  # noqa: F401 - fixtures

PEOPLE = [
    {'name': 'Ann', 'email': 'ann@x', 'age': 31, 'tier': 'gold'},
    {'name': 'Bob', 'email': 'bob@x', 'age': 'forty'},
    {'name': 'Cy', 'age': 19, 'tier': 'silver'},
]
PREVIEW = '/v1/jobs/preview-mutation'


def sheet_with(data_api, rows):
    sheet = data_api.sheet()
    reply = data_api.insert(sheet['id'], rows)
    assert reply.status == 201, reply.body
    return sheet, [record['id'] for record in reply.data['records']]


def snapshot_of_table(data_api) -> list[str]:
    return sorted(str(item) for item in stored_items(data_api.dynamodb))


def test_a_preview_shows_new_values_validated_beside_the_current_ones_and_writes_nothing(data_api):
    # GIVEN three records
    sheet, record_ids = sheet_with(data_api, PEOPLE)
    before = snapshot_of_table(data_api)
    jobs_before = data_api.call('GET', '/v1/jobs').data
    # WHEN a mutation that converts, invalidates and keeps values is previewed
    expression = '{"age": $type(age) = "number" ? age + 1 : "40", "tier": name = "Cy" ? "platinum" : tier}'
    reply = data_api.call('POST', PREVIEW, {'sheetId': sheet['id'], 'mutateRecord': expression})
    # THEN each record shows its new values (validated: text to number, an unknown enum invalid)
    assert reply.status == 200, reply.body
    ann, bob, cy = reply.data
    assert [ann['id'], bob['id'], cy['id']] == record_ids
    assert ann['values']['age'] == {'value': 32, 'valid': True, 'messages': [], 'snapshotValue': 31}
    assert ann['values']['name'] == {'value': 'Ann', 'valid': True, 'messages': [], 'snapshotValue': 'Ann'}
    assert bob['values']['age'] == {'value': 40, 'valid': True, 'messages': [], 'snapshotValue': 'forty'}
    assert bob['valid'] is True
    assert cy['values']['tier']['value'] == 'platinum'
    assert cy['values']['tier']['valid'] is False
    assert cy['values']['tier']['messages'][0]['type'] == 'error'
    assert cy['values']['tier']['snapshotValue'] == 'silver'
    assert (cy['valid'], cy['messages']) == (False, [])
    # AND nothing was written: every item (record, count, commit) as it was, no job
    assert snapshot_of_table(data_api) == before
    assert data_api.call('GET', '/v1/jobs').data == jobs_before
    assert data_api.counts(sheet['id']) == {'total': 3, 'valid': 2, 'error': 1}


def test_records_the_expression_fails_on_appear_with_why(data_api):
    sheet, _ = sheet_with(data_api, PEOPLE)
    reply = data_api.call('POST', PREVIEW, {'sheetId': sheet['id'], 'mutateRecord': '{"age": age * 2}'})
    assert reply.status == 200, reply.body
    ann, bob, _cy = reply.data
    assert (ann['values']['age']['value'], ann['messages']) == (62, [])
    # Bob keeps his values (his invalid age too) and says why the expression left him so
    assert bob['values']['age'] == {
        'value': 'forty',
        'valid': False,
        'messages': bob['values']['age']['messages'],
        'snapshotValue': 'forty',
    }
    [message] = bob['messages']
    assert (message['type'], message['source']) == ('error', 'mutation')
    assert 'must evaluate to a number' in message['message']


def test_a_runaway_expression_is_bounded_per_record_and_by_the_preview(data_api, monkeypatch):
    # GIVEN a preview allowed 1.5 s in all: the first record times out at 1 s, the second at 0.5 s
    monkeypatch.setattr(mutate, 'PREVIEW_SECONDS', 1.5)
    sheet, _ = sheet_with(data_api, PEOPLE)
    reply = data_api.call(
        'POST', PREVIEW, {'sheetId': sheet['id'], 'mutateRecord': '($f := function($x){$f($x)}; $f(1))'}
    )
    assert reply.status == 200, reply.body
    first, second, third = (record['messages'][0]['message'] for record in reply.data)
    assert first.startswith('Evaluation timeout after 1000 milliseconds')
    assert second.startswith('Evaluation timeout after')
    assert third == 'Not previewed: the preview spent its 1.5 s on the records before'


@pytest.mark.parametrize(
    ('config', 'ids', 'names'),
    [
        ({'filter': 'error'}, None, ['Bob']),
        ({'searchField': 'tier', 'searchValue': '""'}, None, ['Bob']),
        ({}, [0, 2], ['Ann', 'Cy']),
        ({'filter': 'valid'}, [0], ['Cy']),
    ],
)
def test_the_preview_shows_the_records_the_config_selects(data_api, config, ids, names):
    sheet, record_ids = sheet_with(data_api, PEOPLE)
    body = {'sheetId': sheet['id'], 'mutateRecord': '{}', **config}
    if ids is not None:
        body['ids'] = [record_ids[index] for index in ids]
    reply = data_api.call('POST', PREVIEW, body)
    assert reply.status == 200, reply.body
    assert [record['values']['name']['value'] for record in reply.data] == names


def test_the_preview_shows_at_most_a_hundred_records(data_api):
    sheet, _ = sheet_with(data_api, [{'name': f'P{index:03d}'} for index in range(130)])
    reply = data_api.call('POST', PREVIEW, {'sheetId': sheet['id'], 'mutateRecord': '{"name": name & "!"}'})
    assert reply.status == 200, reply.body
    assert [record['values']['name']['value'] for record in reply.data] == [f'P{index:03d}!' for index in range(100)]


@pytest.mark.parametrize(
    ('body', 'key', 'message'),
    [
        ({'mutateRecord': '{"a": '}, 'mutateRecord', 'is not a JSONata expression: Expected } before end'),
        ({'mutateRecord': None}, 'mutateRecord', 'Field required'),
        ({'sheetId': None}, 'sheetId', 'Field required'),
        ({'q': 'x'}, 'body', 'q (FFQL) is not supported'),
        ({'filterField': 'shoe', 'filter': 'error'}, 'filterField', "'shoe' is not a field of sheet contacts"),
        ({'searchField': 'shoe', 'searchValue': 'x'}, 'searchField', "'shoe' is not a field of sheet contacts"),
        ({'extra': 1}, 'extra', 'Unknown field: extra'),
    ],
)
def test_bad_input_is_a_400_naming_it(data_api, body, key, message):
    sheet, _ = sheet_with(data_api, PEOPLE)
    full = {'sheetId': sheet['id'], 'mutateRecord': '{}', **body}
    reply = data_api.call('POST', PREVIEW, {name: value for name, value in full.items() if value is not None})
    assert reply.status == 400, reply.body
    [error] = reply.body['errors']
    assert error['key'] == key
    assert message in error['message']


def test_an_unknown_or_another_tenants_sheet_is_a_404(data_api):
    sheet, _ = sheet_with(data_api, PEOPLE)
    for tenant, sheet_id in ((None, 'us_sh_missing000001'), (OTHER_TENANT, sheet['id'])):
        options = {'tenant': tenant} if tenant else {}
        reply = data_api.call('POST', PREVIEW, {'sheetId': sheet_id, 'mutateRecord': '{}'}, **options)
        assert reply.status == 404, reply.body
        assert reply.body['errors'][0]['key'] == 'sheetId'


def test_the_route_is_not_taken_for_a_job_id(data_api):
    # POST /v1/jobs/preview-mutation is the preview; the job routes beside it still take job ids
    sheet, _ = sheet_with(data_api, PEOPLE[:1])
    reply = data_api.call('POST', PREVIEW, {'sheetId': sheet['id'], 'mutateRecord': '{}'})
    assert (reply.status, len(reply.data)) == (200, 1)
    assert data_api.call('GET', PREVIEW).status == 404  # no job has that id
    assert data_api.call('POST', f'{PREVIEW}/execute').status == 404
    job = data_api.call('POST', '/v1/jobs', {'type': 'sheet', 'operation': 'custom', 'source': sheet['id']}).data
    assert data_api.call('GET', f'/v1/jobs/{job["id"]}').data['id'] == job['id']


def test_the_route_is_in_the_openapi_document(data_api):
    document = data_api.call('GET', '/v1/openapi.json').body
    operation = document['paths'][PREVIEW]['post']
    assert operation['summary'] == 'Preview a mutation'
    schema = operation['requestBody']['content']['application/json']['schema']['$ref']
    assert schema.endswith('/MutateJobConfig')
    assert 'DiffRecordsResponse' in str(operation['responses']['200'])
