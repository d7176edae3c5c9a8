"""sheet:ai-assist in the local stack, over real HTTP: with the template's default (no model) it
categorises with the local provider, writes each category with its confidence, and a target that is
not an enum fails the job with a reason and writes nothing. Waits poll the job to a bounded deadline.
"""

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import assert_errors
from tests.e2e.polling import data, finished

pytestmark = pytest.mark.xdist_group('localstack')

COMPANIES = {
    'name': 'Companies',
    'slug': 'companies',
    'fields': [
        {'key': 'name', 'type': 'string'},
        {'key': 'sector', 'type': 'string'},
        {
            'key': 'industry',
            'type': 'enum',
            'config': {
                'options': [
                    {'value': 'tech', 'label': 'Technology'},
                    {'value': 'health', 'label': 'Healthcare'},
                    {'value': 'finance', 'label': 'Financial Services'},
                ]
            },
        },
    ],
}
ROWS = [
    ('Acme', 'technology'),
    ('Globex', 'Health care'),
    ('Initech', 'Technolgy'),
    ('Umbrella', 'Agriculture'),
    ('Stark', 'financial services'),
]


def records(client: httpx.Client, sheet_id: str) -> dict[str, dict[str, Any]]:
    page = data(client.get(f'/v1/sheets/{sheet_id}/records'))
    return {record['values']['name']['value']: record for record in page['records']}


def test_ai_assist_categorises_with_the_local_provider_over_http(client: httpx.Client):
    # GIVEN a sheet of companies whose free-text sector is to become an enum industry
    space = data(client.post('/v1/spaces', json={'name': 'AI assist'}), 201)
    workbook = data(
        client.post('/v1/workbooks', json={'name': 'CRM', 'spaceId': space['id'], 'sheets': [COMPANIES]}), 201
    )
    sheet_id = workbook['sheets'][0]['id']
    body = [{'name': {'value': name}, 'sector': {'value': sector}} for name, sector in ROWS]
    data(client.post(f'/v1/sheets/{sheet_id}/records', json=body), 201)

    # WHEN a config it cannot run is sent THEN 400 naming the config, and no job
    refused = client.post(
        '/v1/jobs',
        json={'type': 'sheet', 'operation': 'ai-assist', 'source': sheet_id, 'config': {'sourceField': 'sector'}},
    )
    [error] = assert_errors(refused, 400, 'config')
    assert 'targetField' in error['message']

    # WHEN the target is not an enum field THEN the job fails with the reason, and nothing is written
    before = records(client, sheet_id)
    config = {'sourceField': 'sector', 'targetField': 'name'}
    job = data(
        client.post(
            '/v1/jobs',
            json={
                'type': 'sheet',
                'operation': 'ai-assist',
                'source': sheet_id,
                'config': config,
                'trigger': 'immediate',
            },
        ),
        201,
    )
    failed = finished(client, job['id'])
    assert failed['status'] == 'failed'
    assert failed['outcome']['message'] == (
        "'name' is a string field of sheet companies; ai-assist categorises into the options of an enum field"
    )
    assert records(client, sheet_id) == before

    # WHEN it runs into the enum field
    config = {'sourceField': 'sector', 'targetField': 'industry', 'instructions': 'By main line of business'}
    job = data(
        client.post(
            '/v1/jobs',
            json={
                'type': 'sheet',
                'operation': 'ai-assist',
                'source': sheet_id,
                'config': config,
                'trigger': 'immediate',
            },
        ),
        201,
    )
    done = finished(client, job['id'])

    # THEN the local provider (the default, no model configured) categorised what it could
    assert done['status'] == 'complete', done
    assert done['outcome']['message'] == (
        'Categorised 4 records of sheet companies into industry (local); left 1 uncategorised'
    )
    found = records(client, sheet_id)
    assert {name: record['values'].get('industry', {}).get('value') for name, record in found.items()} == {
        'Acme': 'tech',
        'Globex': 'health',
        'Initech': 'tech',
        'Umbrella': None,
        'Stark': 'finance',
    }
    # AND each category's confidence is in the record's metadata
    assert found['Acme']['metadata']['aiAssist']['industry'] == {
        'value': 'tech',
        'confidence': 1.0,
        'provider': 'local',
        'jobId': job['id'],
    }
    assert 0.75 <= found['Initech']['metadata']['aiAssist']['industry']['confidence'] < 1
    assert 'aiAssist' not in found['Umbrella']['metadata']
