"""workbook:map through the API, the dispatcher and the real state machine: a job created `planning`,
its plan proposed asynchronously and announced (a change of the job: job:updated), read and changed
through /jobs/{id}/plan with every bad plan refused whole, then executed into the destination sheet
with types read, enum values mapped and validation applied; retried steps write nothing twice."""

from typing import Any

import pytest

from jobs_core.errors import ServiceUnavailable
from jobs_core.plans import PlanStore
from jobs_core.records_store import RecordStore
from jobs_sdk.errors import JobsApiError
from tests.builders import TENANT
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures
from tests.unit.sdk_fixtures import in_process_client
from tests.unit.system_fixtures import (
    all_records,
    dynamodb_fixture,  # noqa: F401 - fixture
    system_fixture,  # noqa: F401 - fixture
    values_of,
)

SOURCE_SHEET = {
    'name': 'Upload',
    'slug': 'upload',
    'fields': [
        {'key': key, 'type': 'string', 'label': key} for key in ('Name', 'E-mail', 'Age', 'Is Active', 'Level', 'Notes')
    ],
}
ROWS = [
    {'Name': 'Ann', 'E-mail': 'ann@x', 'Age': '31', 'Is Active': 'yes', 'Level': 'Gold', 'Notes': 'vip'},
    {'Name': 'Bob', 'E-mail': 'bob@x', 'Age': 'forty', 'Is Active': 'no', 'Level': 'silver'},
    {'Name': 'Cy', 'Age': '19', 'Is Active': 'yes', 'Level': 'GOLD'},
    {'E-mail': 'dee@x', 'Age': '52', 'Level': 'Platinum'},
]


def source_with(system: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    workbook = system.data_api.workbook(name='Upload', sheets=[SOURCE_SHEET], actions=[])
    sheet = workbook['sheets'][0]
    for start in range(0, len(rows), 1000):
        reply = system.data_api.insert(sheet['id'], rows[start : start + 1000])
        assert reply.status == 201, reply.body
    return sheet


def map_job(system: Any, source: dict[str, Any], **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    destination = system.data_api.sheet()
    body = {
        'type': 'workbook',
        'operation': 'map',
        'source': source['workbookId'],
        'destination': destination['workbookId'],
        'config': {'sourceSheetId': source['id'], 'destinationSheetId': destination['id']},
        'input': {'isAutomap': True},
        **fields,
    }
    reply = system.data_api.call('POST', '/v1/jobs', body)
    assert reply.status == 201, reply.body
    return dict(reply.data), destination


def planned(system: Any, rows: list[dict[str, Any]] = ROWS) -> tuple[dict[str, Any], dict[str, Any]]:
    job, destination = map_job(system, source_with(system, rows))
    system.dispatch(job['id'], topic='job:created')
    return job, destination


def plan_of(system: Any, job_id: str) -> dict[str, Any]:
    reply = system.data_api.call('GET', f'/v1/jobs/{job_id}/plan')
    assert reply.status == 200, reply.body
    return dict(reply.data)


def edges(plan: dict[str, Any]) -> dict[str, str]:
    return {edge['sourceField']['key']: edge['destinationField']['key'] for edge in plan['fieldMapping']}


# ---------------------------------------------------------------- planning
def test_a_map_job_plans_first_and_its_plan_is_announced_by_a_change_of_the_job(system):
    # GIVEN a map job as Flatfile's automap creates it (trigger manual)
    job, destination = map_job(system, source_with(system, ROWS))
    assert job['status'] == 'planning'
    early = system.data_api.call('GET', f'/v1/jobs/{job["id"]}/plan')
    assert early.status == 409
    assert 'being computed' in early.body['errors'][0]['message']

    # WHEN the dispatcher gets its job:created
    system.dispatch(job['id'], topic='job:created')

    # THEN the plan is there, and the job changed (version +1: a job:updated), still planning
    found = plan_of(system, job['id'])
    assert found['job']['status'] == 'planning'
    assert found['job']['version'] == job['version'] + 1
    assert found['job']['info'] == 'Plan ready: 5 of 5 destination fields mapped'
    plan = found['plan']
    assert edges(plan) == {'Name': 'name', 'E-mail': 'email', 'Age': 'age', 'Is Active': 'active', 'Level': 'tier'}
    by_source = {edge['sourceField']['key']: edge for edge in plan['fieldMapping']}
    assert by_source['Name']['metadata'] == {'certainty': 'absolute', 'confidence': 1.0, 'source': 'exact'}
    assert by_source['E-mail']['metadata']['certainty'] == 'absolute'
    assert by_source['Level']['metadata']['source'] == 'values'  # the names differ; the values are its options
    assert by_source['Name']['preview'] == ['Ann', 'Bob', 'Cy']
    # the destination's own definition of each field, options and all
    assert by_source['Level']['destinationField']['config']['options'][0] == {'value': 'gold', 'label': 'Gold'}
    assert by_source['Level']['enumDetails'] == {
        'mapping': [
            {'sourceValue': 'Gold', 'destinationValue': 'gold'},
            {'sourceValue': 'silver', 'destinationValue': 'silver'},
            {'sourceValue': 'GOLD', 'destinationValue': 'gold'},
        ],
        'unusedSourceValues': ['Platinum'],
        'unusedDestinationValues': [],
    }
    assert [field['sourceField']['key'] for field in plan['unmappedSourceFields']] == ['Notes']
    assert plan['unmappedSourceFields'][0]['preview'] == ['vip']
    assert plan['unmappedDestinationFields'] == []
    assert destination['id'] == found['job']['config']['destinationSheetId']


def test_planning_again_keeps_the_plan_there(system):
    job, _ = planned(system)
    first = plan_of(system, job['id'])
    system.dispatch(job['id'], topic='job:updated')  # its own announcement comes back to the dispatcher
    again = plan_of(system, job['id'])
    assert again == first


def test_a_job_whose_sheet_is_missing_fails_with_the_reason(system):
    source = source_with(system, ROWS)
    job, _ = map_job(
        system, source, config={'sourceSheetId': 'us_sh_missing', 'destinationSheetId': source['id']}, destination=None
    )
    system.dispatch(job['id'], topic='job:created')
    failed = system.job(job['id'])
    assert failed['status'] == 'failed'
    assert failed['outcome']['message'] == 'The job cannot be planned: The source sheet us_sh_missing was not found'


@pytest.mark.parametrize(
    ('config', 'message'),
    [
        ({'sourceSheetId': 'us_sh_1'}, 'destinationSheetId'),
        ({'sourceSheetId': 'us_sh_1', 'destinationSheetId': 'us_sh_2', 'mappingRules': [{}]}, 'mappingRules'),
        ({'sourceSheetId': 'us_sh_1', 'destinationSheetId': 'us_sh_2', 'typo': 1}, 'typo'),
    ],
)
def test_a_map_config_that_cannot_run_is_refused_at_create(system, config, message):
    reply = system.data_api.call(
        'POST', '/v1/jobs', {'type': 'workbook', 'operation': 'map', 'source': 'us_wb_1', 'config': config}
    )
    assert reply.status == 400
    assert reply.body['errors'][0]['key'] == 'config'
    assert message in reply.body['errors'][0]['message']


# ---------------------------------------------------------------- changing the plan
def test_patch_replaces_the_edges_and_execute_runs_the_plan_as_changed(system):
    # GIVEN a planned job; a person drops the "Is Active" edge and maps Platinum onto gold
    job, destination = planned(system)
    plan = plan_of(system, job['id'])['plan']
    kept = [edge for edge in plan['fieldMapping'] if edge['sourceField']['key'] != 'Is Active']
    level = next(edge for edge in kept if edge['sourceField']['key'] == 'Level')
    level['enumDetails']['mapping'].append({'sourceValue': 'Platinum', 'destinationValue': 'gold'})
    reply = system.data_api.call('PATCH', f'/v1/jobs/{job["id"]}/plan', {'fieldMapping': kept, 'jobId': job['id']})
    assert reply.status == 200, reply.body
    changed = reply.data['plan']
    assert 'Is Active' not in edges(changed)
    assert [field['sourceField']['key'] for field in changed['unmappedSourceFields']] == ['Is Active', 'Notes']
    assert [field['destinationField']['key'] for field in changed['unmappedDestinationFields']] == ['active']
    assert reply.data['job']['version'] == job['version'] + 2  # planned, then changed: each a job:updated

    # WHEN it is executed (ready → job:ready → the state machine)
    assert system.data_api.call('POST', f'/v1/jobs/{job["id"]}/execute').status == 200
    done = system.run(job['id'])

    # THEN the records are in the destination sheet, typed, enum values mapped, validated
    assert done['status'] == 'complete', done
    records = all_records(system.data_api, destination['id'])
    assert values_of(records) == [
        {'name': 'Ann', 'email': 'ann@x', 'age': 31, 'tier': 'gold'},
        {'name': 'Bob', 'email': 'bob@x', 'age': 'forty', 'tier': 'silver'},
        {'name': 'Cy', 'age': 19, 'tier': 'gold'},
        {'email': 'dee@x', 'age': 52, 'tier': 'gold', 'name': None},  # required: a cell that says so
    ]
    assert [record['valid'] for record in records] == [True, False, True, False]  # "forty"; no name
    assert system.data_api.counts(destination['id']) == {'total': 4, 'valid': 2, 'error': 2}
    assert done['outcome']['message'] == 'Mapped 4 records from sheet upload into sheet contacts; 2 have values to fix'
    assert done['outcome']['next'] == {'type': 'id', 'id': destination['workbookId'], 'label': 'Open the workbook'}
    assert done['result'] == {
        'sourceSheetId': done['config']['sourceSheetId'],
        'destinationSheetId': destination['id'],
        'records': 4,
        'valid': 2,
        'error': 2,
    }
    # AND the plan can no longer change
    late = system.data_api.call('PATCH', f'/v1/jobs/{job["id"]}/plan', {'fieldMapping': []})
    assert late.status == 409
    assert 'it is complete' in late.body['errors'][0]['message']


def test_put_replaces_the_plan_in_the_sheets_own_field_definitions(system):
    job, _ = planned(system)
    reply = system.data_api.call(
        'PUT',
        f'/v1/jobs/{job["id"]}/plan',
        {
            'fileId': 'us_fl_1',
            'jobId': job['id'],
            'fieldMapping': [{'sourceField': {'key': 'Notes'}, 'destinationField': {'key': 'name'}}],
            'unmappedSourceFields': [],
            'unmappedDestinationFields': [],
        },
    )
    assert reply.status == 200, reply.body
    [edge] = reply.data['plan']['fieldMapping']
    assert edge['destinationField'] == {
        'key': 'name',
        'type': 'string',
        'label': 'Name',
        'constraints': [{'type': 'required'}],
    }
    assert edge['metadata'] == {'source': 'user'}
    assert len(reply.data['plan']['unmappedSourceFields']) == 5
    assert plan_of(system, job['id'])['plan'] == reply.data['plan']


@pytest.mark.parametrize(
    ('edge', 'message'),
    [
        (
            {'sourceField': {'key': 'Nope'}, 'destinationField': {'key': 'name'}},
            "'Nope' is not a field of source sheet",
        ),
        ({'sourceField': {'key': 'Name'}, 'destinationField': {'key': 'nope'}}, "'nope' is not a field of sheet"),
        (
            {
                'sourceField': {'key': 'Level'},
                'destinationField': {'key': 'tier'},
                'enumDetails': {'mapping': [{'sourceValue': 'Gold', 'destinationValue': 'bronze'}]},
            },
            "'bronze' is not an option of 'tier'",
        ),
        (
            {
                'sourceField': {'key': 'Name'},
                'destinationField': {'key': 'name'},
                'enumDetails': {'mapping': [{'sourceValue': 'Ann', 'destinationValue': 'x'}]},
            },
            "enumDetails for 'name', which has no options",
        ),
    ],
)
def test_a_bad_plan_is_refused_whole_and_changes_nothing(system, edge, message):
    job, _ = planned(system)
    before = plan_of(system, job['id'])
    good = {'sourceField': {'key': 'Age'}, 'destinationField': {'key': 'age'}}
    reply = system.data_api.call('PATCH', f'/v1/jobs/{job["id"]}/plan', {'fieldMapping': [good, edge]})
    assert reply.status == 400
    assert reply.body['errors'][0]['key'] == 'fieldMapping'
    assert message in reply.body['errors'][0]['message']
    assert plan_of(system, job['id']) == before


def test_a_destination_fed_twice_a_foreign_job_id_and_a_job_without_a_plan_are_refused(system):
    job, _ = planned(system)
    twice = [
        {'sourceField': {'key': 'Name'}, 'destinationField': {'key': 'name'}},
        {'sourceField': {'key': 'Notes'}, 'destinationField': {'key': 'name'}},
    ]
    reply = system.data_api.call('PATCH', f'/v1/jobs/{job["id"]}/plan', {'fieldMapping': twice})
    assert reply.status == 400
    assert "destination field 'name' is fed by two edges" in reply.body['errors'][0]['message']
    reply = system.data_api.call('PATCH', f'/v1/jobs/{job["id"]}/plan', {'fieldMapping': [], 'jobId': 'us_jb_other'})
    assert (reply.status, reply.body['errors'][0]['key']) == (400, 'jobId')
    other = system.data_api.call('POST', '/v1/jobs', {'type': 'workbook', 'operation': 'submit', 'source': 'us_wb_1'})
    for method in ('GET', 'PATCH'):
        reply = system.data_api.call(method, f'/v1/jobs/{other.data["id"]}/plan', {} if method == 'PATCH' else None)
        assert reply.status == 404
        assert 'only workbook:map jobs have one' in reply.body['errors'][0]['message']
    assert system.data_api.call('GET', '/v1/jobs/us_jb_missing/plan').status == 404


def test_deleting_a_map_job_deletes_its_plan(system):
    job, _ = planned(system)
    assert system.data_api.call('DELETE', f'/v1/jobs/{job["id"]}').status == 200
    keys = [item['pk']['S'] for item in system.data_api.dynamodb.scan(TableName='jobs-test')['Items']]
    assert not [key for key in keys if job['id'] in key]


# ---------------------------------------------------------------- running
def test_an_immediate_map_job_is_planned_when_it_runs(system):
    source = source_with(system, ROWS)
    job, destination = map_job(system, source, trigger='immediate')
    assert job['status'] == 'ready'
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    records = all_records(system.data_api, destination['id'])
    assert [record['values'].get('active', {}).get('value') for record in records] == [True, False, True, None]
    assert edges(plan_of(system, job['id'])['plan'])['Is Active'] == 'active'


def test_a_job_whose_destination_sheet_is_gone_fails_before_a_record_is_written(system):
    job, destination = planned(system)
    assert system.data_api.call('DELETE', f'/v1/sheets/{destination["id"]}').status == 200
    system.data_api.call('POST', f'/v1/jobs/{job["id"]}/execute')
    done = system.run(job['id'])
    assert done['status'] == 'failed'
    assert done['outcome']['message'] == f'The destination sheet {destination["id"]} was not found'
    source_id = done['config']['sourceSheetId']
    assert system.data_api.counts(source_id)['total'] == len(ROWS)


def test_a_step_that_fails_after_writing_runs_again_without_duplicates(system, monkeypatch):
    # GIVEN counting the third batch fails once, after its records were written (a throttled call)
    count_batch = RecordStore.count_batch
    calls = {'count': 0}

    def failing_once(self, *args, **kwargs):
        calls['count'] += 1
        if calls['count'] == 3:
            raise ServiceUnavailable('The record store is busy')
        return count_batch(self, *args, **kwargs)

    rows = [{'Name': f'P{n:03d}', 'Age': str(n), 'Level': 'gold' if n % 2 else 'silver'} for n in range(45)]
    job, destination = planned(system, rows)
    system.data_api.call('POST', f'/v1/jobs/{job["id"]}/execute')
    monkeypatch.setattr(RecordStore, 'count_batch', failing_once)
    system.sizes.budget_seconds = 0
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    assert any('Failed' in event['type'] for event in system.history(job['id']))
    records = all_records(system.data_api, destination['id'])
    assert [record['values']['name']['value'] for record in records] == [row['Name'] for row in rows]
    assert system.data_api.counts(destination['id']) == {'total': 45, 'valid': 45, 'error': 0}
    assert done['result']['records'] == 45
    assert system.service.get(TENANT, job['id']).progress == 100


# ---------------------------------------------------------------- through the SDK
def test_the_sdk_reads_and_changes_the_plan_by_flatfiles_names_too(system):
    client, recorder = in_process_client()
    job, _ = planned(system)
    with client:
        found = client.jobs.get_execution_plan(job['id'])
        assert found.job.id == job['id'] and len(found.plan.field_mapping) == 5
        kept = [edge for edge in found.plan.field_mapping if edge.source_field.key != 'Notes']
        patched = client.jobs.update_execution_plan_fields(job['id'], field_mapping=kept[:2])
        assert [edge.destination_field.key for edge in patched.plan.field_mapping] == ['name', 'email']
        replaced = client.jobs.update_execution_plan(
            job['id'], field_mapping=[{'sourceField': {'key': 'Notes'}, 'destinationField': {'key': 'name'}}]
        )
        assert [edge.source_field.key for edge in replaced.plan.field_mapping] == ['Notes']
        with pytest.raises(JobsApiError) as refused:
            client.jobs.update_plan(
                job['id'], field_mapping=[{'sourceField': {'key': 'x'}, 'destinationField': {'key': 'name'}}]
            )
    assert refused.value.status == 400
    assert [(method, path) for method, path, _ in recorder.calls()] == [
        ('GET', f'/v1/jobs/{job["id"]}/plan'),
        ('PATCH', f'/v1/jobs/{job["id"]}/plan'),
        ('PUT', f'/v1/jobs/{job["id"]}/plan'),
        ('PATCH', f'/v1/jobs/{job["id"]}/plan'),
    ]
    assert recorder.calls()[2][2]['jobId'] == job['id']


def test_the_sdk_previews_a_mutation(system):
    client, _ = in_process_client()
    source = source_with(system, ROWS)
    with client:
        [first, *_] = client.jobs.preview_mutation(sheet_id=source['id'], mutate_record='{"Name": $uppercase(Name)}')
    assert (first.values['Name'].value, first.values['Name'].snapshot_value) == ('ANN', 'Ann')


def test_a_cancel_mid_batch_leaves_nothing_written_after_it(system, monkeypatch):
    # GIVEN the job is canceled while its third batch is being written
    put_records = RecordStore.put_records
    calls = {'count': 0}
    canceled = {}

    def canceling(self, environment_id, sheet_id, records):
        calls['count'] += 1
        put_records(self, environment_id, sheet_id, records)
        if calls['count'] == 3:
            canceled['job'] = system.service.cancel(TENANT, job['id'], None)

    rows = [{'Name': f'P{n:03d}', 'Age': str(n)} for n in range(60)]
    job, destination = planned(system, rows)
    system.data_api.call('POST', f'/v1/jobs/{job["id"]}/execute')
    monkeypatch.setattr(RecordStore, 'put_records', canceling)
    # WHEN it runs
    done = system.run(job['id'])
    # THEN it stopped quietly, the batch written as it was canceled taken back, the job never written again
    assert system.wait(job['id'])['status'] == 'SUCCEEDED'
    assert done['status'] == 'canceled'
    assert system.service.get(TENANT, job['id']) == canceled['job']
    assert len(all_records(system.data_api, destination['id'])) == 20
    assert system.data_api.counts(destination['id']) == {'total': 20, 'valid': 20, 'error': 0}


def test_a_plan_put_while_the_platform_plans_is_kept(system, monkeypatch):
    # GIVEN a caller PUTs a plan just after the planner looked for one (the race, made certain)
    job, _ = map_job(system, source_with(system, ROWS))
    mine = {'fieldMapping': [{'sourceField': {'key': 'Notes'}, 'destinationField': {'key': 'name'}}]}
    assert system.data_api.call('PUT', f'/v1/jobs/{job["id"]}/plan', mine).status == 200
    monkeypatch.setattr(PlanStore, 'get', lambda self, tenant, job_id: None)
    # WHEN the planner writes its own
    system.dispatch(job['id'], topic='job:created')
    # THEN the caller's stands, and the job says nothing of a plan of the platform's
    monkeypatch.undo()
    found = plan_of(system, job['id'])
    assert edges(found['plan']) == {'Notes': 'name'}
    assert found['job'].get('info') is None


def test_a_plan_changed_from_a_stale_read_is_a_conflict_that_says_so(system, monkeypatch):
    job, _ = planned(system)
    read = PlanStore.read

    def stale(self, tenant, job_id):  # another change lands between this request's read and its write
        found = read(self, tenant, job_id)
        system.data_api.call('PATCH', f'/v1/jobs/{job_id}', {'info': 'someone else'})
        return found

    monkeypatch.setattr(PlanStore, 'read', stale)
    reply = system.data_api.call('PATCH', f'/v1/jobs/{job["id"]}/plan', {'fieldMapping': []})
    assert reply.status == 409
    assert 'it changed meanwhile' in reply.body['errors'][0]['message']
    monkeypatch.undo()
    assert len(plan_of(system, job['id'])['plan']['fieldMapping']) == 5
