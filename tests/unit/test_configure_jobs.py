"""space:configure through the real state machine: a blueprint (in the space's metadata or the job's config)
becomes workbooks and sheets, applied twice or retried it leaves one copy, an existing workbook is brought
to it without losing records, a bad blueprint is a 400 that writes nothing, and without a blueprint the job
is a listener's, as on Flatfile."""

import copy
from typing import Any

import pytest

from jobs_core.errors import ServiceUnavailable
from jobs_core.system.configure import Configure
from jobs_core.workbooks import WorkbookService
from tests.builders import TENANT
from tests.unit.data_fixtures import CONTACTS, data_api_fixture  # noqa: F401 - fixtures
from tests.unit.system_fixtures import dynamodb_fixture, system_fixture  # noqa: F401 - fixtures

ORDERS = {
    'name': 'Orders',
    'slug': 'orders',
    'fields': [
        {'key': 'number', 'type': 'string', 'constraints': [{'type': 'required'}]},
        {'key': 'total', 'type': 'number'},
    ],
}
BLUEPRINT = {
    'workbooks': [
        {
            'name': 'Onboarding',
            'labels': ['primary'],
            'sheets': [CONTACTS, ORDERS],
            'actions': [{'operation': 'submit', 'label': 'Submit', 'mode': 'foreground'}],
        },
        {'name': 'Reference', 'sheets': [{'name': 'Countries', 'fields': [{'key': 'code', 'type': 'string'}]}]},
    ],
    'space': {'actions': [{'operation': 'export-all', 'label': 'Export all'}], 'metadata': {'theme': 'dark'}},
}


def configure_job(system, space_id: str) -> dict[str, Any]:
    jobs = system.data_api.call('GET', '/v1/jobs', query={'spaceId': space_id}).data
    [job] = [job for job in jobs if (job['type'], job['operation']) == ('space', 'configure')]
    return dict(job)


def workbooks_of(system, space_id: str) -> list[dict[str, Any]]:
    reply = system.data_api.call('GET', '/v1/workbooks', query={'spaceId': space_id})
    assert reply.status == 200, reply.body
    return list(reply.data)


def shape(workbooks: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(workbook['name'], [sheet['slug'] for sheet in workbook['sheets']]) for workbook in workbooks]


def configured_space(system, blueprint: dict[str, Any] = BLUEPRINT, **metadata: Any) -> dict[str, Any]:
    return system.data_api.space(autoConfigure=True, metadata={'team': 'ops', 'blueprint': blueprint, **metadata})


# ---------------------------------------------------------------- a blueprint in the space's metadata
def test_a_space_with_a_blueprint_is_configured_by_its_auto_configure_job(system):
    # GIVEN a space created with autoConfigure and a blueprint in its metadata
    space = configured_space(system)
    job = configure_job(system, space['id'])
    assert (job['managed'], job['status'], job['config']) == (True, 'ready', BLUEPRINT)

    # WHEN its job runs
    done = system.run(job['id'])

    # THEN the workbooks and sheets of the blueprint exist, as it describes them
    assert done['status'] == 'complete', done
    workbooks = workbooks_of(system, space['id'])
    assert shape(workbooks) == [('Onboarding', ['contacts', 'orders']), ('Reference', ['countries'])]
    onboarding = workbooks[0]
    assert onboarding['labels'] == ['primary']
    assert onboarding['actions'] == [{'operation': 'submit', 'label': 'Submit', 'mode': 'foreground'}]
    assert [field['key'] for field in onboarding['sheets'][0]['config']['fields']] == [
        field['key'] for field in CONTACTS['fields']
    ]
    # AND the space took its settings, with the first workbook as its primary one, its own metadata kept
    configured = system.data_api.call('GET', f'/v1/spaces/{space["id"]}').data
    assert configured['primaryWorkbookId'] == onboarding['id']
    assert configured['actions'] == [{'operation': 'export-all', 'label': 'Export all'}]
    assert configured['metadata'] == {'team': 'ops', 'blueprint': BLUEPRINT, 'theme': 'dark'}
    # AND the outcome says what was made
    assert done['outcome']['message'] == "Created workbook 'Onboarding'. Created workbook 'Reference'."
    assert [(entry['name'], entry['status']) for entry in done['result']['workbooks']] == [
        ('Onboarding', 'created'),
        ('Reference', 'created'),
    ]
    assert done['result']['primaryWorkbookId'] == onboarding['id']
    assert done['info'] == 'Configured 2 workbooks'
    # AND the sheets work: records go in and are validated against the blueprint's fields
    contacts = onboarding['sheets'][0]['id']
    assert system.data_api.insert(contacts, [{'name': 'Ann', 'email': 'a@x'}, {'email': 'b@x'}]).status == 201
    assert system.data_api.counts(contacts) == {'total': 2, 'valid': 1, 'error': 1}


def test_applying_a_blueprint_twice_leaves_one_copy(system):
    # GIVEN a space configured once
    space = configured_space(system)
    system.run(configure_job(system, space['id'])['id'])
    before = workbooks_of(system, space['id'])

    # WHEN the same blueprint is applied again by a new job
    again = system.create(type='space', operation='configure', source=space['id'], config=BLUEPRINT)
    second = system.run(again['id'])

    # THEN there is still one copy of every workbook and sheet, the same ones, not even rewritten
    assert second['status'] == 'complete', second
    assert workbooks_of(system, space['id']) == before
    # AND the second job says nothing changed
    assert [entry['status'] for entry in second['result']['workbooks']] == ['unchanged', 'unchanged']
    assert second['outcome']['message'] == "Workbook 'Onboarding' unchanged. Workbook 'Reference' unchanged."


def test_a_job_that_failed_after_writing_and_is_retried_leaves_one_copy(system, monkeypatch):
    # GIVEN configuring the space itself fails once (a bug, not retried by the state machine), after
    # the workbooks were made
    apply_space = Configure._apply_space
    calls = {'count': 0}

    def failing_once(self, *args, **kwargs):
        calls['count'] += 1
        if calls['count'] == 1:
            raise RuntimeError('the disk caught fire')
        return apply_space(self, *args, **kwargs)

    monkeypatch.setattr(Configure, '_apply_space', failing_once)
    space = configured_space(system)
    job = configure_job(system, space['id'])
    assert system.run(job['id'])['status'] == 'failed'
    assert len(workbooks_of(system, space['id'])) == 2

    # WHEN the job is retried
    assert system.data_api.call('POST', f'/v1/jobs/{job["id"]}/retry').status == 200
    done = system.run(job['id'])

    # THEN it completes with one copy of each workbook, both made by this job
    assert done['status'] == 'complete', done
    assert shape(workbooks_of(system, space['id'])) == [
        ('Onboarding', ['contacts', 'orders']),
        ('Reference', ['countries']),
    ]
    assert [entry['status'] for entry in done['result']['workbooks']] == ['created', 'created']
    assert (
        system.data_api.call('GET', f'/v1/spaces/{space["id"]}').data['primaryWorkbookId']
        == done['result']['primaryWorkbookId']
    )


@pytest.mark.parametrize('written', [True, False], ids=['after-writing', 'before-writing'])
def test_a_throttled_create_leaves_one_copy(system, monkeypatch, written):
    # GIVEN creating the second workbook is throttled once, after or before the workbook was written
    create = WorkbookService.create
    calls = {'count': 0}

    def throttled_once(self, *args, **kwargs):
        calls['count'] += 1
        if calls['count'] == 2:
            if written:
                create(self, *args, **kwargs)
            raise ServiceUnavailable('The data store is busy')
        return create(self, *args, **kwargs)

    monkeypatch.setattr(WorkbookService, 'create', throttled_once)
    space = configured_space(system)

    # WHEN the job runs
    done = system.run(configure_job(system, space['id'])['id'])

    # THEN a write that landed is found by the step itself; one that did not is retried by Step Functions
    # (the step then applies the first workbook again); either way each workbook exists once
    assert done['status'] == 'complete', done
    retried = any('Failed' in event['type'] for event in system.history(done['id']))
    assert retried is not written
    assert shape(workbooks_of(system, space['id'])) == [
        ('Onboarding', ['contacts', 'orders']),
        ('Reference', ['countries']),
    ]
    assert [entry['status'] for entry in done['result']['workbooks']] == ['created', 'created']


def test_a_workbook_deleted_and_configured_again_is_made_anew(system):
    # GIVEN a configured space whose first workbook was deleted (its deletion job not run yet)
    space = configured_space(system)
    system.run(configure_job(system, space['id'])['id'])
    deleted = workbooks_of(system, space['id'])[0]
    assert system.data_api.call('DELETE', f'/v1/workbooks/{deleted["id"]}').status == 200

    # WHEN the blueprint is applied again
    job = system.create(type='space', operation='configure', source=space['id'], config=BLUEPRINT)
    done = system.run(job['id'])

    # THEN the workbook is there again, once, under a new id
    assert done['status'] == 'complete', done
    workbooks = workbooks_of(system, space['id'])
    assert sorted(shape(workbooks)) == [('Onboarding', ['contacts', 'orders']), ('Reference', ['countries'])]
    remade = next(workbook for workbook in workbooks if workbook['name'] == 'Onboarding')
    assert remade['id'] != deleted['id']
    assert [entry['status'] for entry in done['result']['workbooks']] == ['created', 'unchanged']


# ---------------------------------------------------------------- a blueprint in the job's config
def test_a_blueprint_in_the_jobs_config_updates_an_existing_workbook(system):
    # GIVEN a workbook made by hand: Contacts holds records, Notes is not in the blueprint, Orders is missing
    space = system.data_api.space()
    notes = {'name': 'Notes', 'fields': [{'key': 'text', 'type': 'string'}]}
    workbook = system.data_api.workbook(space['id'], sheets=[CONTACTS, notes])
    contacts_id = workbook['sheets'][0]['id']
    assert system.data_api.insert(contacts_id, [{'name': 'Ann', 'email': 'a@x'}]).status == 201
    # AND a blueprint that relabels a field and adds one to Contacts (its records stay valid), adds Orders,
    # and changes the workbook's actions
    contacts = copy.deepcopy(CONTACTS)
    contacts['fields'][0]['label'] = 'Full name'
    contacts['fields'].append({'key': 'phone', 'type': 'string'})
    blueprint = {
        'workbooks': [
            {
                'name': 'Onboarding',
                'sheets': [contacts, ORDERS],
                'actions': [{'operation': 'approve', 'label': 'Approve'}],
            }
        ]
    }

    # WHEN a space:configure job with it runs
    job = system.create(type='space', operation='configure', source=space['id'], config=blueprint)
    assert job['managed'] is True
    done = system.run(job['id'])

    # THEN the workbook is the same one, brought to the blueprint, and its records are kept
    assert done['status'] == 'complete', done
    [updated] = workbooks_of(system, space['id'])
    assert updated['id'] == workbook['id']
    assert [sheet['slug'] for sheet in updated['sheets']] == ['contacts', 'notes', 'orders']
    sheets = {sheet['slug']: sheet for sheet in updated['sheets']}
    assert sheets['contacts']['id'] == contacts_id
    assert [field.get('label') for field in sheets['contacts']['config']['fields']] == [
        'Full name',
        None,
        None,
        None,
        None,
        None,
    ]
    assert updated['actions'] == [{'operation': 'approve', 'label': 'Approve'}]
    assert system.data_api.counts(contacts_id) == {'total': 1, 'valid': 1, 'error': 0}
    # AND the outcome says what changed, and that Notes was kept
    [entry] = done['result']['workbooks']
    assert (entry['status'], entry['sheetsAdded'], entry['sheetsUpdated'], entry['sheetsKept']) == (
        'updated',
        ['orders'],
        ['contacts'],
        ['notes'],
    )
    assert done['outcome']['message'] == (
        "Updated workbook 'Onboarding': added sheet orders; updated sheet contacts; "
        'kept sheet notes, not in the blueprint.'
    )


def test_a_sheet_holding_records_keeps_fields_its_records_were_validated_against(system):
    # GIVEN two sheets with the same fields, one holding records, one empty
    space = system.data_api.space()
    empty = {**CONTACTS, 'name': 'Leads', 'slug': 'leads'}
    workbook = system.data_api.workbook(space['id'], sheets=[CONTACTS, empty])
    contacts_id = workbook['sheets'][0]['id']
    assert system.data_api.insert(contacts_id, [{'name': 'Ann', 'email': 'a@x'}]).status == 201

    # WHEN a blueprint makes `age` a required string in both and renames them
    def retyped(sheet: dict[str, Any]) -> dict[str, Any]:
        fields = [field for field in sheet['fields'] if field['key'] != 'age']
        return {**sheet, 'name': f'{sheet["name"]} (v2)', 'fields': [*fields, {'key': 'age', 'type': 'string'}]}

    blueprint = {'workbooks': [{'name': 'Onboarding', 'sheets': [retyped(CONTACTS), retyped(empty)]}]}
    done = system.run(system.create(type='space', operation='configure', source=space['id'], config=blueprint)['id'])

    # THEN the empty sheet takes the new fields; the one with records keeps its fields but takes its new name
    assert done['status'] == 'complete', done
    [updated] = workbooks_of(system, space['id'])
    sheets = {sheet['slug']: sheet for sheet in updated['sheets']}
    assert {field['key']: field['type'] for field in sheets['leads']['config']['fields']}['age'] == 'string'
    assert sheets['contacts']['config']['fields'] == workbook['sheets'][0]['config']['fields']
    assert (sheets['contacts']['name'], sheets['leads']['name']) == ('Contacts (v2)', 'Leads (v2)')
    assert system.data_api.counts(contacts_id) == {'total': 1, 'valid': 1, 'error': 0}
    # AND the outcome says so
    assert done['result']['workbooks'][0]['fieldsKept'] == ['contacts']
    assert 'kept the fields of sheet contacts: it holds records' in done['outcome']['message']


def test_a_job_for_a_space_that_is_gone_fails_with_a_message(system):
    job = system.create(type='space', operation='configure', source='us_sp_missing', config=BLUEPRINT)
    failed = system.run(job['id'])
    assert failed['status'] == 'failed'
    assert failed['outcome']['message'] == 'Space us_sp_missing not found'


# ---------------------------------------------------------------- bad blueprints
DUPLICATES = [
    (
        {'workbooks': [{'name': 'A'}, {'name': 'A'}]},
        "workbook name 'A' is used twice",
    ),
    (
        {'workbooks': [{'name': 'A', 'sheets': [{'name': 'Sales', 'fields': []}, {'name': 'sales', 'fields': []}]}]},
        "workbook 'A': sheet slug 'sales' is used twice",
    ),
    (
        {
            'workbooks': [
                {
                    'name': 'A',
                    'sheets': [
                        {'name': 'S', 'fields': [{'key': 'k', 'type': 'string'}, {'key': 'k', 'type': 'number'}]}
                    ],
                }
            ]
        },
        "sheet S: field key 'k' is used twice",
    ),
    (
        {
            'workbooks': [
                {'name': 'A', 'actions': [{'operation': 'go', 'label': '1'}, {'operation': 'go', 'label': '2'}]}
            ]
        },
        "workbook 'A': action operation 'go' is used twice",
    ),
    (
        {
            'workbooks': [
                {
                    'name': 'A',
                    'sheets': [
                        {
                            'name': 'S',
                            'fields': [],
                            'actions': [{'operation': 'go', 'label': '1'}, {'operation': 'go', 'label': '2'}],
                        }
                    ],
                }
            ]
        },
        "sheet S: action operation 'go' is declared twice",
    ),
    (
        {'workbooks': [], 'space': {'actions': [{'operation': 'go', 'label': '1'}, {'operation': 'go', 'label': '2'}]}},
        "space: action operation 'go' is used twice",
    ),
]


@pytest.mark.parametrize(('blueprint', 'message'), DUPLICATES)
def test_a_blueprint_with_duplicates_in_the_jobs_config_is_a_400_that_writes_nothing(system, blueprint, message):
    space = system.data_api.space()
    reply = system.data_api.call(
        'POST', '/v1/jobs', {'type': 'space', 'operation': 'configure', 'source': space['id'], 'config': blueprint}
    )
    assert reply.status == 400, reply.body
    assert reply.error_keys == ['config']
    assert message in reply.body['errors'][0]['message']
    assert system.data_api.call('GET', '/v1/jobs').data == []
    assert workbooks_of(system, space['id']) == []


@pytest.mark.parametrize(('blueprint', 'message'), DUPLICATES)
def test_a_blueprint_with_duplicates_in_the_spaces_metadata_is_a_400_that_writes_nothing(system, blueprint, message):
    reply = system.data_api.call('POST', '/v1/spaces', {'autoConfigure': True, 'metadata': {'blueprint': blueprint}})
    assert reply.status == 400, reply.body
    assert reply.error_keys == ['metadata.blueprint']
    assert message in reply.body['errors'][0]['message']
    assert system.data_api.call('GET', '/v1/spaces').data == []
    assert system.data_api.call('GET', '/v1/jobs').data == []


@pytest.mark.parametrize(
    ('metadata', 'message'),
    [
        ({'blueprint': ['a']}, 'metadata.blueprint is an object'),
        ({'blueprint': {}}, 'metadata.blueprint: workbooks: Field required'),
        ({'blueprint': {'workbooks': [{'name': 'A', 'sheetz': []}]}}, 'workbooks.0.sheetz: Extra inputs'),
    ],
)
def test_a_malformed_blueprint_in_the_spaces_metadata_is_a_400(system, metadata, message):
    reply = system.data_api.call('POST', '/v1/spaces', {'autoConfigure': True, 'metadata': metadata})
    assert reply.status == 400, reply.body
    assert message in reply.body['errors'][0]['message']
    assert system.data_api.call('GET', '/v1/spaces').data == []


def test_a_blueprint_key_is_only_read_with_auto_configure(system):
    # Metadata is the caller's: without autoConfigure, a `blueprint` key in it means nothing to the platform
    space = system.data_api.space(metadata={'blueprint': 'not one'})
    assert system.data_api.call('GET', '/v1/jobs', query={'spaceId': space['id']}).data == []


# ---------------------------------------------------------------- no blueprint: a listener's job
def test_without_a_blueprint_the_auto_configure_job_is_a_listeners(system):
    # GIVEN a space created with autoConfigure and no blueprint
    space = system.data_api.space(autoConfigure=True, metadata={'team': 'ops'})
    job = configure_job(system, space['id'])

    # THEN its job is not managed: the platform does not run it
    assert (job['managed'], job['status']) == (False, 'ready')
    system.dispatch(job['id'])
    assert system.service.get(TENANT, job['id']).execution_arn is None
    assert system.sfn.list_executions(stateMachineArn=system.arn)['executions'] == []

    # AND a listener acknowledges and completes it, as with Flatfile's space-configure plugin
    call = system.data_api.call
    assert call('POST', f'/v1/jobs/{job["id"]}/ack', {'info': 'Configuring', 'progress': 10}).status == 200
    system.data_api.workbook(space['id'])
    completed = call('POST', f'/v1/jobs/{job["id"]}/complete', {'outcome': {'message': 'Configured'}})
    assert completed.status == 200, completed.body
    assert completed.data['status'] == 'complete'


def test_a_configure_job_without_a_blueprint_is_refused_unless_a_listener_runs_it(system):
    space = system.data_api.space()
    body = {'type': 'space', 'operation': 'configure', 'source': space['id']}
    refused = system.data_api.call('POST', '/v1/jobs', body)
    assert refused.status == 400
    assert refused.error_keys == ['config']
    assert 'config needs a blueprint' in refused.body['errors'][0]['message']
    assert 'managed false' in refused.body['errors'][0]['message']
    accepted = system.data_api.call('POST', '/v1/jobs', {**body, 'managed': False})
    assert accepted.status == 201
    assert accepted.data['managed'] is False
