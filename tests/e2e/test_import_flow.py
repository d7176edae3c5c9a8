"""Flatfile's import flow in the local stack, over real HTTP, as an embedded importer drives it: a CSV
uploaded for import is extracted; a map job onto the destination workbook is created `planning`;
its plan is announced by job:updated (read from the Events API, as a listener would); one edge is
adjusted with PATCH /plan; execute runs it; the destination holds the records, typed, enum values
mapped and valid where the data allows; a mutation previewed then run fixes one; then the sheet is
exported. Waits poll to a deadline.
"""

import csv
import io
from typing import Any

import httpx
import pytest

from tests.e2e.polling import data, finished, until

pytestmark = pytest.mark.xdist_group('localstack')


UPLOAD = (
    'Full Name,E-mail,Age,Member Level,Signed Up\n'
    'Ann Lee,ann@example.com,31,Gold,2024-01-05\n'
    'Bob Stone,bob@example.com,forty,silver,01/20/2024\n'
    'Cy Young,cy@example.com,19,GOLD,2024-02-30\n'
    'Dee Fox,,52,Platinum,2024-03-01\n'
)
DESTINATION = {
    'name': 'Contacts',
    'sheets': [
        {
            'name': 'Contacts',
            'slug': 'contacts',
            'fields': [
                {'key': 'fullName', 'type': 'string', 'label': 'Full name', 'constraints': [{'type': 'required'}]},
                {'key': 'email', 'type': 'string', 'label': 'Email'},
                {'key': 'age', 'type': 'number'},
                {
                    'key': 'tier',
                    'type': 'enum',
                    'label': 'Tier',
                    'config': {'options': [{'value': 'gold', 'label': 'Gold'}, {'value': 'silver', 'label': 'Silver'}]},
                },
                {'key': 'joined', 'type': 'date', 'label': 'Joined'},
            ],
        }
    ],
}


def test_upload_extract_plan_adjust_execute_mutate_export(client: httpx.Client):
    # GIVEN a space with the destination workbook, and a CSV uploaded into it for import
    space = data(client.post('/v1/spaces', json={'name': 'Onboarding'}), 201)
    destination = data(client.post('/v1/workbooks', json={**DESTINATION, 'spaceId': space['id']}), 201)
    [contacts] = destination['sheets']
    file = data(
        client.post(
            '/v1/files',
            data={'spaceId': space['id'], 'mode': 'import'},
            files={'file': ('members.csv', UPLOAD.encode(), 'text/csv')},
        ),
        201,
    )
    [extract] = data(client.get('/v1/jobs', params={'fileId': file['id']}))
    extracted = finished(client, extract['id'])
    assert extracted['status'] == 'complete', extracted['outcome']
    [source] = data(client.get(f'/v1/workbooks/{extracted["outcome"]["next"]["id"]}'))['sheets']

    # WHEN the importer creates the map job, as Flatfile's automap does
    created = client.post(
        '/v1/jobs',
        json={
            'type': 'workbook',
            'operation': 'map',
            'source': source['workbookId'],
            'destination': destination['id'],
            'config': {'sourceSheetId': source['id'], 'destinationSheetId': contacts['id']},
            'input': {'isAutomap': True},
        },
    )
    job = data(created, 201)
    assert job['status'] == 'planning'

    # THEN a job:updated with status planning announces the plan (what the automap plugin waits for)
    def announced() -> dict[str, Any] | None:
        events = data(client.get('/v1/events', params={'topic': 'job:updated', 'jobId': job['id']}))
        return next((event for event in events if event['payload']['status'] == 'planning'), None)

    event = until('the plan announcement', announced)
    assert event['payload']['job'] == 'workbook:map'
    plan = data(client.get(f'/v1/jobs/{job["id"]}/plan'))['plan']
    mapped = {edge['sourceField']['key']: edge['destinationField']['key'] for edge in plan['fieldMapping']}
    assert mapped == {'Full Name': 'fullName', 'E-mail': 'email', 'Age': 'age', 'Member Level': 'tier'}
    assert [field['sourceField']['key'] for field in plan['unmappedSourceFields']] == ['Signed Up']

    # WHEN a person maps "Signed Up" onto "joined" and Platinum onto gold, with PATCH /plan
    edges = plan['fieldMapping']
    [level] = [edge for edge in edges if edge['sourceField']['key'] == 'Member Level']
    assert level['enumDetails']['unusedSourceValues'] == ['Platinum']
    level['enumDetails']['mapping'].append({'sourceValue': 'Platinum', 'destinationValue': 'gold'})
    edges.append({'sourceField': {'key': 'Signed Up'}, 'destinationField': {'key': 'joined'}})
    patched = data(client.patch(f'/v1/jobs/{job["id"]}/plan', json={'fieldMapping': edges, 'jobId': job['id']}))
    assert patched['plan']['unmappedSourceFields'] == [] and patched['plan']['unmappedDestinationFields'] == []

    # AND executes it
    assert data(client.post(f'/v1/jobs/{job["id"]}/execute')) == {'success': True}
    done = finished(client, job['id'])

    # THEN the destination holds the records, typed, enum values mapped, valid where the data allows
    assert done['status'] == 'complete', done['outcome']
    assert done['outcome']['message'] == 'Mapped 4 records from sheet members into sheet contacts; 2 have values to fix'
    records = data(client.get(f'/v1/sheets/{contacts["id"]}/records'))['records']
    values = [
        {key: cell['value'] for key, cell in record['values'].items() if cell['value'] is not None}
        for record in records
    ]
    assert values == [
        {'fullName': 'Ann Lee', 'email': 'ann@example.com', 'age': 31, 'tier': 'gold', 'joined': '2024-01-05'},
        {'fullName': 'Bob Stone', 'email': 'bob@example.com', 'age': 'forty', 'tier': 'silver', 'joined': '2024-01-20'},
        {'fullName': 'Cy Young', 'email': 'cy@example.com', 'age': 19, 'tier': 'gold', 'joined': '2024-02-30'},
        {'fullName': 'Dee Fox', 'age': 52, 'tier': 'gold', 'joined': '2024-03-01'},
    ]
    assert [record['valid'] for record in records] == [True, False, False, True]  # "forty"; February 30th
    counts = data(client.get(f'/v1/sheets/{contacts["id"]}/counts'))['counts']
    assert counts == {'total': 4, 'valid': 2, 'error': 2}

    # WHEN the age written in words is fixed with a mutation, previewed first
    fix = {
        'sheetId': contacts['id'],
        'filter': 'error',
        'filterField': 'age',
        'mutateRecord': '{"age": $replace(age, "forty", "40")}',
    }
    [diff] = data(client.post('/v1/jobs/preview-mutation', json=fix))
    assert diff['values']['age']['snapshotValue'] == 'forty'
    assert (diff['values']['age']['value'], diff['values']['age']['valid']) == (40, True)
    assert data(client.get(f'/v1/sheets/{contacts["id"]}/counts'))['counts']['error'] == 2  # the preview wrote nothing
    mutation = {'type': 'sheet', 'operation': 'mutate-records', 'source': contacts['id'], 'trigger': 'immediate'}
    mutated = finished(client, data(client.post('/v1/jobs', json={**mutation, 'config': fix}), 201)['id'])

    # THEN only that record changed, and it is valid now
    assert mutated['status'] == 'complete', mutated['outcome']
    assert (mutated['result']['changed'], mutated['result']['failed']) == (1, 0)
    counts = data(client.get(f'/v1/sheets/{contacts["id"]}/counts'))['counts']
    assert counts == {'total': 4, 'valid': 3, 'error': 1}

    # WHEN the destination is exported
    export = data(
        client.post(
            '/v1/jobs', json={'type': 'sheet', 'operation': 'export', 'source': contacts['id'], 'trigger': 'immediate'}
        ),
        201,
    )
    exported = finished(client, export['id'])

    # THEN the download holds the mapped records
    assert exported['status'] == 'complete', exported['outcome']
    body = httpx.get(exported['outcome']['next']['url'], timeout=60)
    rows = list(csv.DictReader(io.StringIO(body.content.decode())))
    assert list(rows[0]) == ['Full name', 'Email', 'age', 'Tier', 'Joined']  # labels head the columns
    assert [row['Full name'] for row in rows] == ['Ann Lee', 'Bob Stone', 'Cy Young', 'Dee Fox']
    assert [row['Tier'] for row in rows] == ['gold', 'silver', 'gold', 'gold']
    assert [row['age'] for row in rows] == ['31', '40', '19', '52']
