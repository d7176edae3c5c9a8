"""sheet:mutate-records in the local stack, over real HTTP: a mutation is previewed (nothing written),
then run as a job through the gateway, dispatcher and state machine, and the records read back."""

from typing import Any

import httpx
import pytest

from tests.e2e.polling import data, finished

pytestmark = pytest.mark.xdist_group('localstack')

EXPRESSION = '{"name": $uppercase(name), "age": $type(age) = "number" ? age + 1 : "30"}'


def records(client: httpx.Client, sheet_id: str) -> list[dict[str, Any]]:
    return list(data(client.get(f'/v1/sheets/{sheet_id}/records'))['records'])


def test_a_mutation_is_previewed_then_run_and_the_records_read_back(client: httpx.Client):
    # GIVEN a sheet of three people, one with an age that is not a number
    space = data(client.post('/v1/spaces', json={'name': 'Mutations'}), 201)
    fields = [{'key': 'name', 'type': 'string'}, {'key': 'age', 'type': 'number'}]
    workbook = data(
        client.post(
            '/v1/workbooks',
            json={'name': 'People', 'spaceId': space['id'], 'sheets': [{'name': 'People', 'fields': fields}]},
        ),
        201,
    )
    sheet_id = workbook['sheets'][0]['id']
    rows = [{'name': {'value': 'ann'}, 'age': {'value': 31}}, {'name': {'value': 'bob'}, 'age': {'value': 'old'}}]
    data(client.post(f'/v1/sheets/{sheet_id}/records', json=rows), 201)
    before = records(client, sheet_id)
    config = {'sheetId': sheet_id, 'mutateRecord': EXPRESSION}

    # WHEN the mutation is previewed
    preview = data(client.post('/v1/jobs/preview-mutation', json=config))

    # THEN it shows each record's new values beside the current ones, and wrote nothing
    assert [record['values']['name'] for record in preview] == [
        {'value': 'ANN', 'valid': True, 'messages': [], 'snapshotValue': 'ann'},
        {'value': 'BOB', 'valid': True, 'messages': [], 'snapshotValue': 'bob'},
    ]
    assert preview[1]['values']['age'] == {'value': 30, 'valid': True, 'messages': [], 'snapshotValue': 'old'}
    assert records(client, sheet_id) == before

    # WHEN it runs as a job, with a snapshot first
    job = data(
        client.post(
            '/v1/jobs',
            json={
                'type': 'sheet',
                'operation': 'mutate-records',
                'source': sheet_id,
                'trigger': 'immediate',
                'config': {**config, 'snapshotLabel': 'before upper-casing'},
            },
        ),
        201,
    )
    done = finished(client, job['id'])

    # THEN the records hold what the preview showed, the counts follow, the outcome says so
    assert done['status'] == 'complete', done
    assert done['outcome']['message'] == 'Mutated records of sheet people: 2 changed, 0 unchanged, 0 failed'
    assert done['config']['snapshotId'] == done['outcome']['next']['snapshotId']
    after = records(client, sheet_id)
    assert [{key: cell['value'] for key, cell in record['values'].items()} for record in after] == [
        {'name': 'ANN', 'age': 32},
        {'name': 'BOB', 'age': 30},
    ]
    counts = data(client.get(f'/v1/sheets/{sheet_id}/counts'))['counts']
    assert counts == {'total': 2, 'valid': 2, 'error': 0}

    # AND an expression that does not parse is refused at create, as at preview
    bad = {**config, 'mutateRecord': '{"name": '}
    refused = client.post(
        '/v1/jobs', json={'type': 'sheet', 'operation': 'mutate-records', 'source': sheet_id, 'config': bad}
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()['errors'][0]['key'] == 'config'
    assert client.post('/v1/jobs/preview-mutation', json=bad).status_code == 400
