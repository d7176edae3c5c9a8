"""sheet:delete-records, workbook:delete-records and sheet:find-replace through the real state machine:
their record queries, snapshots, exact counts and commits, retries that change nothing twice, cancel."""

from typing import Any

import pytest

from jobs_core.errors import ServiceUnavailable
from jobs_core.records_store import RecordStore
from tests.builders import TENANT
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures
from tests.unit.system_fixtures import (
    all_records,
    dynamodb_fixture,  # noqa: F401 - fixture
    system_fixture,  # noqa: F401 - fixture
    values_of,
)

PEOPLE = [
    {'name': 'Ann', 'email': 'ann@x', 'age': 31, 'tier': 'gold'},
    {'name': 'Bob', 'email': 'bob@x', 'age': 'forty'},
    {'name': 'Cy', 'age': 19, 'tier': 'silver'},
    {'name': 'Dee', 'email': 'dee@example.com', 'age': 52},
    {'name': 'Eve', 'age': 'young'},
]


def sheet_with(system, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    sheet = system.data_api.sheet()
    ids: list[str] = []
    for start in range(0, len(rows), 1000):
        reply = system.data_api.insert(sheet['id'], rows[start : start + 1000])
        assert reply.status == 201, reply.body
        ids += [record['id'] for record in reply.data['records']]
    return sheet, ids


def names(system, sheet_id: str) -> list[str]:
    return [record['values']['name']['value'] for record in all_records(system.data_api, sheet_id)]


def commit_counts(system, kind: str) -> list[int]:
    return [
        int(item['count']['N'])
        for item in system.data_api.dynamodb.scan(TableName='jobs-test')['Items']
        if item['entity']['S'] == 'commit' and item['kind']['S'] == kind and 'jobId' in item
    ]


# ---------------------------------------------------------------- delete-records
@pytest.mark.parametrize(
    ('config', 'left'),
    [
        ({'filter': 'valid'}, ['Bob', 'Eve']),
        ({'filter': 'error'}, ['Ann', 'Cy', 'Dee']),
        ({'filter': 'all'}, []),
        ({'searchField': 'email', 'searchValue': '@x'}, ['Cy', 'Dee', 'Eve']),
        ({'filter': 'valid', 'searchField': 'tier', 'searchValue': '""'}, ['Ann', 'Bob', 'Cy', 'Eve']),
        ({'filter': 'error', 'filterField': 'age'}, ['Ann', 'Cy', 'Dee']),
    ],
)
def test_delete_records_deletes_what_the_filter_selects(system, config, left):
    sheet, _ = sheet_with(system, PEOPLE)
    job = system.create(type='sheet', operation='delete-records', source=sheet['id'], config=config)
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    assert names(system, sheet['id']) == left
    deleted = len(PEOPLE) - len(left)
    assert done['outcome']['message'] == f'Deleted {deleted} records from sheet contacts'
    counts = system.data_api.counts(sheet['id'])
    assert counts['total'] == len(left)
    assert counts['error'] == len([name for name in left if name in {'Bob', 'Eve'}])
    assert commit_counts(system, 'delete') == ([deleted] if deleted else [])


def test_exceptions_are_kept_with_a_filter_and_are_what_is_deleted_with_filter_none(system):
    # GIVEN Flatfile's two uses: all but some (a grid selection), and exactly some (the dedupe plugin)
    sheet, ids = sheet_with(system, PEOPLE)
    keep = {'sheet': sheet['id'], 'filter': 'all', 'exceptions': [ids[0], ids[3]]}
    job = system.create(type='workbook', operation='delete-records', source=sheet['workbookId'], config=keep)
    assert system.run(job['id'])['status'] == 'complete'
    assert names(system, sheet['id']) == ['Ann', 'Dee']
    only = {'sheet': sheet['id'], 'filter': 'none', 'exceptions': [ids[3], 'us_rc_gone0000000000000000']}
    job = system.create(type='workbook', operation='delete-records', source=sheet['workbookId'], config=only)
    done = system.run(job['id'])
    assert names(system, sheet['id']) == ['Ann']
    assert done['outcome']['message'] == 'Deleted 1 records from sheet contacts'
    assert system.data_api.counts(sheet['id']) == {'total': 1, 'valid': 1, 'error': 0}


def test_a_snapshot_is_taken_first_when_asked(system):
    sheet, _ = sheet_with(system, PEOPLE)
    config = {'filter': 'all', 'snapshotLabel': 'before the purge'}
    done = system.run(system.create(type='sheet', operation='delete-records', source=sheet['id'], config=config)['id'])
    nxt = done['outcome']['next']
    assert (nxt['type'], nxt['sheetId']) == ('snapshot', sheet['id'])
    snapshot = system.data_api.call('GET', f'/v1/snapshots/{nxt["snapshotId"]}').data
    assert (snapshot['label'], snapshot['counts']['total']) == ('before the purge', 5)
    # AND restoring it brings the records back
    restore = system.data_api.call('POST', f'/v1/snapshots/{snapshot["id"]}/restore').data
    assert system.run(restore['id'])['status'] == 'complete'
    assert names(system, sheet['id']) == [person['name'] for person in PEOPLE]


def test_deleting_over_many_steps_keeps_the_cursor_right(system):
    system.sizes.budget_seconds = 0
    rows = [{'name': f'P{index:03d}', 'age': index if index % 3 else 'n/a'} for index in range(95)]
    sheet, _ = sheet_with(system, rows)
    job = system.create(type='sheet', operation='delete-records', source=sheet['id'], config={'filter': 'error'})
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    assert names(system, sheet['id']) == [row['name'] for row in rows if row['age'] != 'n/a']
    assert system.data_api.counts(sheet['id']) == {'total': 63, 'valid': 63, 'error': 0}
    assert commit_counts(system, 'delete') == [32]


def test_a_step_that_runs_again_deletes_nothing_twice(system, monkeypatch):
    system.sizes.budget_seconds = 0
    rows = [{'name': f'P{index:03d}'} for index in range(40)]
    sheet, _ = sheet_with(system, rows)
    write = RecordStore.write
    calls = {'count': 0}

    def failing_after(self, *args, **kwargs):
        write(self, *args, **kwargs)
        calls['count'] += 1
        if calls['count'] == 2:
            raise ServiceUnavailable('busy')  # written, but the step fails: Step Functions runs it again

    monkeypatch.setattr(RecordStore, 'write', failing_after)
    job = system.create(type='sheet', operation='delete-records', source=sheet['id'], config={'filter': 'all'})
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    assert names(system, sheet['id']) == []
    assert system.data_api.counts(sheet['id']) == {'total': 0, 'valid': 0, 'error': 0}


def test_a_cancel_stops_the_deletes_in_their_own_transaction(system, monkeypatch):
    # GIVEN the job is canceled just before its third transaction is sent
    rows = [{'name': f'P{index:03d}'} for index in range(50)]
    sheet, _ = sheet_with(system, rows)
    write = RecordStore.write
    calls = {'count': 0}
    canceled = {}

    def canceling(self, *args, **kwargs):
        calls['count'] += 1
        if calls['count'] == 3:
            canceled['job'] = system.service.cancel(TENANT, job['id'], None)
        write(self, *args, **kwargs)

    monkeypatch.setattr(RecordStore, 'write', canceling)
    job = system.create(type='sheet', operation='delete-records', source=sheet['id'], config={'filter': 'all'})
    assert system.run(job['id'])['status'] == 'canceled'
    # THEN that transaction was refused: two pages deleted, the rest still there, the job untouched since
    assert len(names(system, sheet['id'])) == 30
    assert system.data_api.counts(sheet['id'])['total'] == 30
    assert system.service.get(TENANT, job['id']) == canceled['job']
    assert system.wait(job['id'])['status'] == 'SUCCEEDED'


def test_delete_records_of_a_sheet_elsewhere_fails_with_a_reason(system):
    sheet, _ = sheet_with(system, PEOPLE)
    other = system.data_api.workbook()
    job = system.create(type='workbook', operation='delete-records', source=other['id'], config={'sheet': sheet['id']})
    failed = system.run(job['id'])
    assert failed['outcome']['message'] == f'Sheet {sheet["id"]} is not in workbook {other["id"]}'
    assert names(system, sheet['id']) == [person['name'] for person in PEOPLE]
    job = system.create(type='sheet', operation='delete-records', source='us_sh_missing00001')
    assert system.run(job['id'])['outcome']['message'] == 'Sheet us_sh_missing00001 not found'


# ---------------------------------------------------------------- find-replace
@pytest.mark.parametrize(
    ('config', 'emails', 'changed'),
    [
        (
            {'find': '@x', 'replace': '@example.org'},
            ['ann@example.org', 'bob@example.org', None, 'dee@example.com', None],
            2,
        ),
        ({'find': '"ann@x"', 'replace': 'anna@x'}, ['anna@x', 'bob@x', None, 'dee@example.com', None], 1),
        ({'find': '"@x"', 'replace': 'nope'}, ['ann@x', 'bob@x', None, 'dee@example.com', None], 0),
        ({'replace': 'unknown@x'}, ['ann@x', 'bob@x', 'unknown@x', 'dee@example.com', 'unknown@x'], 2),
        ({'find': '@x', 'replace': '@y', 'filter': 'error'}, ['ann@x', 'bob@y', None, 'dee@example.com', None], 1),
        ({'find': 'x', 'replace': None}, ['ann@', 'bob@', None, 'dee@eample.com', None], 3),
    ],
)
def test_find_replace_in_a_field(system, config, emails, changed):
    sheet, _ = sheet_with(system, PEOPLE)
    job = system.create(
        type='sheet', operation='find-replace', source=sheet['id'], config={'fieldKey': 'email', **config}
    )
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    assert [record.get('email') for record in values_of(all_records(system.data_api, sheet['id']))] == emails
    assert done['outcome']['message'] == f'Replaced values in {changed} records of sheet contacts, field email'
    assert commit_counts(system, 'update') == ([changed] if changed else [])


def test_replaced_values_are_validated_again(system):
    # GIVEN ages that are not numbers
    sheet, ids = sheet_with(system, PEOPLE)
    assert system.data_api.counts(sheet['id']) == {'total': 5, 'valid': 3, 'error': 2}
    config = {'fieldKey': 'age', 'find': '"forty"', 'replace': '40', 'snapshotLabel': 'ages'}
    done = system.run(system.create(type='sheet', operation='find-replace', source=sheet['id'], config=config)['id'])
    # THEN the replaced value is a number and the record valid; the counts follow
    records = {record['id']: record for record in all_records(system.data_api, sheet['id'])}
    assert records[ids[1]]['values']['age'] == {'value': 40, 'valid': True, 'messages': []}
    assert records[ids[1]]['valid'] is True
    assert system.data_api.counts(sheet['id']) == {'total': 5, 'valid': 4, 'error': 1}
    assert done['outcome']['next']['type'] == 'snapshot'
    # AND a replacement that is no number makes a valid record invalid
    config = {'fieldKey': 'age', 'find': 31, 'replace': 'thirty-one', 'ids': [ids[0], ids[2]]}
    system.run(system.create(type='sheet', operation='find-replace', source=sheet['id'], config=config)['id'])
    records = {record['id']: record for record in all_records(system.data_api, sheet['id'])}
    assert records[ids[0]]['values']['age']['valid'] is False
    assert records[ids[2]]['values']['age']['value'] == 19
    assert system.data_api.counts(sheet['id']) == {'total': 5, 'valid': 3, 'error': 2}


def test_find_replace_over_many_steps(system):
    system.sizes.budget_seconds = 0
    rows = [
        {'name': f'P{index:03d}', 'email': f'p{index}@old.example' if index % 2 else 'keep@x'} for index in range(77)
    ]
    sheet, _ = sheet_with(system, rows)
    config = {'fieldKey': 'email', 'find': '@old.example', 'replace': '@new.example'}
    done = system.run(system.create(type='sheet', operation='find-replace', source=sheet['id'], config=config)['id'])
    assert done['status'] == 'complete', done
    emails = [record['email'] for record in values_of(all_records(system.data_api, sheet['id']))]
    assert emails == [f'p{index}@new.example' if index % 2 else 'keep@x' for index in range(77)]
    assert commit_counts(system, 'update') == [38]


def test_find_replace_of_an_unknown_field_fails_with_a_reason(system):
    sheet, _ = sheet_with(system, PEOPLE)
    job = system.create(type='sheet', operation='find-replace', source=sheet['id'], config={'fieldKey': 'shoe'})
    assert system.run(job['id'])['outcome']['message'] == "'shoe' is not a field of sheet contacts"
