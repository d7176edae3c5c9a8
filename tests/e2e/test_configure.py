"""space:configure in the local stack, over real HTTP: a space created with autoConfigure and a blueprint
in its metadata is configured by its job (watched to complete), its workbooks read back as the blueprint
describes them, and applying the blueprint again leaves one copy. Waits poll the job to a bounded deadline.
"""

import httpx
import pytest

from tests.e2e.polling import data, finished

pytestmark = pytest.mark.xdist_group('localstack')

BLUEPRINT = {
    'workbooks': [
        {
            'name': 'Onboarding',
            'sheets': [
                {
                    'name': 'Contacts',
                    'slug': 'contacts',
                    'fields': [
                        {'key': 'name', 'type': 'string', 'constraints': [{'type': 'required'}]},
                        {'key': 'email', 'type': 'string'},
                    ],
                },
                {'name': 'Orders', 'fields': [{'key': 'number', 'type': 'string'}]},
            ],
            'actions': [{'operation': 'submit', 'label': 'Submit'}],
        }
    ]
}


def workbooks(client: httpx.Client, space_id: str) -> list[tuple[str, str, list[str]]]:
    listed = data(client.get('/v1/workbooks', params={'spaceId': space_id}))
    return [(workbook['id'], workbook['name'], [sheet['slug'] for sheet in workbook['sheets']]) for workbook in listed]


def test_a_space_with_a_blueprint_is_configured_once_however_often_it_is_applied(client: httpx.Client):
    # GIVEN a space created with autoConfigure and a blueprint in its metadata
    space = data(
        client.post(
            '/v1/spaces', json={'name': 'Configured', 'autoConfigure': True, 'metadata': {'blueprint': BLUEPRINT}}
        ),
        201,
    )

    # WHEN its space:configure job runs, watched to the end
    [job] = data(client.get('/v1/jobs', params={'spaceId': space['id']}))
    assert (job['type'], job['operation'], job['managed']) == ('space', 'configure', True)
    done = finished(client, job['id'])

    # THEN the space holds the blueprint's workbook, with its sheets, as its primary workbook
    assert done['status'] == 'complete', done
    assert done['outcome']['message'] == "Created workbook 'Onboarding'."
    [(workbook_id, name, slugs)] = workbooks(client, space['id'])
    assert (name, slugs) == ('Onboarding', ['contacts', 'orders'])
    assert data(client.get(f'/v1/spaces/{space["id"]}'))['primaryWorkbookId'] == workbook_id

    # WHEN the blueprint is applied again
    again = client.post(
        '/v1/jobs',
        json={
            'type': 'space',
            'operation': 'configure',
            'source': space['id'],
            'trigger': 'immediate',
            'config': BLUEPRINT,
        },
    )
    second = finished(client, data(again, 201)['id'])

    # THEN nothing is added: one copy, the same workbook
    assert second['status'] == 'complete', second
    assert second['outcome']['message'] == "Workbook 'Onboarding' unchanged."
    assert workbooks(client, space['id']) == [(workbook_id, 'Onboarding', ['contacts', 'orders'])]


def test_a_blueprint_with_a_duplicate_is_refused_and_nothing_is_made(client: httpx.Client):
    blueprint = {'workbooks': [{'name': 'Twice'}, {'name': 'Twice'}]}
    before = data(client.get('/v1/spaces', params={'pageSize': 100}))
    reply = client.post('/v1/spaces', json={'autoConfigure': True, 'metadata': {'blueprint': blueprint}})
    assert reply.status_code == 400, reply.text
    [error] = reply.json()['errors']
    assert error['key'] == 'metadata.blueprint'
    assert "workbook name 'Twice' is used twice" in error['message']
    assert data(client.get('/v1/spaces', params={'pageSize': 100})) == before
