"""sheet:mutate-records through the real state machine: a JSONata expression over each record, its values
validated, per-record failures counted (never written), all-fail and too-slow jobs failing with a
reason, snapshots, steps that run again applying nothing twice, and cancel."""

from collections.abc import Callable
from typing import Any

import pytest

from jobs_core import ids
from jobs_core.data_jobs import data_plane
from jobs_core.errors import ServiceUnavailable
from jobs_core.records_store import RecordStore
from jobs_core.system.mutate import MutateRecords
from jobs_core.system.mutation import TIMEOUT_MS
from jobs_core.system.operations import Operation, OperationFailed
from tests.builders import TENANT
from tests.unit import system_fixtures
from tests.unit.data_fixtures import data_api_fixture, stored_items  # noqa: F401 - fixtures
from tests.unit.system_fixtures import (
    Sizes,
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
LOOP = '($f := function($x){$f($x)}; $f(1))'


@pytest.fixture(name='knobs')
def knobs_fixture(system, monkeypatch) -> dict[str, int]:
    """The system fixture's operations, with mutate-records sized as the test asks (small pages)."""
    knobs = {'timeout_ms': TIMEOUT_MS, 'max_timeouts': 5}
    sized = system_fixtures.sized_operations

    def with_mutate(sizes: Sizes) -> dict[str, Callable[[], Operation]]:
        def mutate() -> Operation:
            wired = data_plane()
            return MutateRecords(
                wired.records,
                wired.snapshots,
                wired.jobs,
                page_size=sizes.page_size,
                min_records=sizes.min_rows,
                **knobs,
            )

        return {**sized(sizes), 'sheet:mutate-records': mutate}

    monkeypatch.setattr(system_fixtures, 'sized_operations', with_mutate)
    return knobs


def sheet_with(system, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    sheet = system.data_api.sheet()
    record_ids: list[str] = []
    for start in range(0, len(rows), 1000):
        reply = system.data_api.insert(sheet['id'], rows[start : start + 1000])
        assert reply.status == 201, reply.body
        record_ids += [record['id'] for record in reply.data['records']]
    return sheet, record_ids


def mutate(system, sheet: dict[str, Any], expression: str, **config: Any) -> dict[str, Any]:
    job = system.create(
        type='sheet',
        operation='mutate-records',
        source=sheet['id'],
        config={'sheetId': sheet['id'], 'mutateRecord': expression, **config},
    )
    return system.run(job['id'])


def by_id(system, sheet_id: str) -> dict[str, dict[str, Any]]:
    return {record['id']: record for record in all_records(system.data_api, sheet_id)}


def commit_counts(system) -> list[tuple[str, int]]:
    return [
        (item['id']['S'], int(item['count']['N']))
        for item in system.data_api.dynamodb.scan(TableName='jobs-test')['Items']
        if item['entity']['S'] == 'commit' and 'jobId' in item
    ]


def test_the_expression_sets_values_validated_and_converted(system, knobs):
    # GIVEN two records whose ages are text, so invalid
    sheet, record_ids = sheet_with(system, PEOPLE)
    assert system.data_api.counts(sheet['id']) == {'total': 5, 'valid': 3, 'error': 2}
    # WHEN an expression upper-cases names and fixes ages (a text "41" for the invalid ones)
    expression = '{"name": $uppercase(name), "age": $type(age) = "number" ? age + 1 : "41"}'
    done = mutate(system, sheet, expression)
    # THEN every record changed, the text became a number and the records valid; counts follow
    assert done['status'] == 'complete', done
    records = by_id(system, sheet['id'])
    assert [records[record_id]['values']['name']['value'] for record_id in record_ids] == [
        'ANN',
        'BOB',
        'CY',
        'DEE',
        'EVE',
    ]
    assert [records[record_id]['values']['age']['value'] for record_id in record_ids] == [32, 41, 20, 53, 41]
    assert records[record_ids[1]]['values']['age'] == {'value': 41, 'valid': True, 'messages': []}
    # keys the expression did not return are kept
    assert records[record_ids[0]]['values']['email']['value'] == 'ann@x'
    assert system.data_api.counts(sheet['id']) == {'total': 5, 'valid': 5, 'error': 0}
    assert done['outcome']['message'] == 'Mutated records of sheet contacts: 5 changed, 0 unchanged, 0 failed'
    assert done['result'] == {'changed': 5, 'unchanged': 0, 'failed': 0, 'failures': []}
    # AND one commit records the job, under the id every record it changed names
    [(commit_id, count)] = commit_counts(system)
    assert count == 5
    assert {record['commitId'] for record in records.values()} == {commit_id}


def test_a_value_that_does_not_validate_makes_the_record_invalid_and_null_clears(system, knobs):
    sheet, record_ids = sheet_with(system, PEOPLE)
    done = mutate(system, sheet, '{"tier": "platinum", "email": null}', ids=[record_ids[0]])
    assert done['status'] == 'complete', done
    ann = by_id(system, sheet['id'])[record_ids[0]]
    assert ann['values']['tier']['value'] == 'platinum'
    assert ann['values']['tier']['valid'] is False
    assert ann['values']['tier']['messages'][0]['type'] == 'error'
    assert ann['values']['email']['value'] is None
    assert system.data_api.counts(sheet['id']) == {'total': 5, 'valid': 2, 'error': 3}


def test_failures_mark_their_records_in_the_outcome_and_leave_them_as_they_are(system, knobs):
    # GIVEN an expression that compares ages: it fails on the text ones (Bob, Eve)
    sheet, record_ids = sheet_with(system, PEOPLE)
    before = by_id(system, sheet['id'])
    done = mutate(system, sheet, 'age > 30 ? {"tier": "gold"} : {}')
    # THEN Dee changed; Ann (gold already) and Cy ({}) unchanged; Bob and Eve failed, untouched
    assert done['status'] == 'complete', done
    after = by_id(system, sheet['id'])
    assert after[record_ids[3]]['values']['tier']['value'] == 'gold'
    for untouched in (record_ids[0], record_ids[1], record_ids[2], record_ids[4]):
        assert after[untouched] == before[untouched]
    result = done['result']
    assert (result['changed'], result['unchanged'], result['failed']) == (1, 2, 2)
    assert [failure['recordId'] for failure in result['failures']] == [record_ids[1], record_ids[4]]
    assert 'same data type' in result['failures'][0]['message']
    assert done['outcome']['message'].startswith(
        f'Mutated records of sheet contacts: 1 changed, 2 unchanged, 2 failed (first failure, {record_ids[1]}: '
    )


@pytest.mark.parametrize(
    ('expression', 'reason'),
    [
        ('{"shoe": 42}', "The expression returned keys that are not fields of sheet contacts: 'shoe'"),
        ('"a text"', 'The expression must return an object of field keys; it returned str'),
        ('nosuch', 'The expression must return an object of field keys; it returned nothing (undefined)'),
        ('{"name": $number(name)}', 'The expression failed: could not convert string to float'),
    ],
)
def test_when_the_expression_fails_on_every_record_the_job_fails_with_the_first_error(
    system, knobs, expression, reason
):
    sheet, record_ids = sheet_with(system, PEOPLE[:2])
    before = by_id(system, sheet['id'])
    done = mutate(system, sheet, expression)
    assert done['status'] == 'failed', done
    message = done['outcome']['message']
    first = f'The expression failed on all 2 records it was evaluated on; the first, {record_ids[0]}: '
    assert message.startswith(first)
    assert reason in message
    assert by_id(system, sheet['id']) == before
    assert commit_counts(system) == []


def test_a_runaway_expression_is_stopped_by_its_time_bound(system, knobs):
    # GIVEN infinite recursion, on two records, with the real bound per record
    sheet, _ = sheet_with(system, PEOPLE[:2])
    done = mutate(system, sheet, LOOP)
    assert done['status'] == 'failed', done
    assert f'Evaluation timeout after {TIMEOUT_MS} milliseconds' in done['outcome']['message']


def test_an_expression_too_slow_for_a_sheet_fails_the_job_after_a_few_timeouts(system, knobs):
    # GIVEN a bound of 50 ms and two timeouts allowed; the loop only runs for Bob and later records
    knobs.update(timeout_ms=50, max_timeouts=2)
    sheet, record_ids = sheet_with(system, PEOPLE)
    done = mutate(system, sheet, f'name = "Ann" ? {{"tier": "silver"}} : {LOOP}')
    assert done['status'] == 'failed', done
    assert done['outcome']['message'] == (
        'The expression is too slow to run over a sheet: it ran out of its 50 ms on 2 records '
        f'({record_ids[2]}). Records changed so far keep their new values.'
    )


@pytest.mark.parametrize(
    ('config', 'changed'),
    [
        ({'filter': 'error'}, ['Bob', 'Eve']),
        ({'filter': 'valid', 'filterField': 'age'}, ['Ann', 'Cy', 'Dee']),
        ({'searchField': 'email', 'searchValue': '@x'}, ['Ann', 'Bob']),
        ({'searchField': 'name', 'searchValue': '"Cy"'}, ['Cy']),
        ({'ids': 'first and third'}, ['Ann', 'Cy']),
        ({'filter': 'all', 'ids': 'first and third'}, ['Bob', 'Dee', 'Eve']),
    ],
)
def test_filters_searches_and_ids_select_the_records(system, knobs, config, changed):
    sheet, record_ids = sheet_with(system, PEOPLE)
    if 'ids' in config:
        config = {**config, 'ids': [record_ids[0], record_ids[2]]}
    done = mutate(system, sheet, '{"name": name & "!"}', **config)
    assert done['status'] == 'complete', done
    names = [record['name'] for record in values_of(all_records(system.data_api, sheet['id']))]
    assert names == [f'{person["name"]}!' if person['name'] in changed else person['name'] for person in PEOPLE]
    assert done['result']['changed'] == len(changed)


def test_bindings_give_the_record_id_and_metadata(system, knobs):
    sheet, record_ids = sheet_with(system, PEOPLE[:1])
    done = mutate(system, sheet, '{"email": $id & "@" & ($exists($metadata.x) ? "meta" : "none")}')
    assert done['status'] == 'complete', done
    assert values_of(all_records(system.data_api, sheet['id']))[0]['email'] == f'{record_ids[0]}@none'


def test_a_snapshot_is_taken_first_and_named_in_the_config_and_outcome(system, knobs):
    sheet, _ = sheet_with(system, PEOPLE)
    done = mutate(system, sheet, '{"name": "X"}', snapshotLabel='before X')
    assert done['status'] == 'complete', done
    nxt = done['outcome']['next']
    assert (nxt['type'], nxt['sheetId']) == ('snapshot', sheet['id'])
    assert done['config']['snapshotId'] == nxt['snapshotId']
    assert done['config']['mutateRecord'] == '{"name": "X"}'
    snapshot = system.data_api.call('GET', f'/v1/snapshots/{nxt["snapshotId"]}').data
    assert (snapshot['label'], snapshot['counts']['total']) == ('before X', 5)
    restore = system.data_api.call('POST', f'/v1/snapshots/{snapshot["id"]}/restore').data
    assert system.run(restore['id'])['status'] == 'complete'
    assert [record['name'] for record in values_of(all_records(system.data_api, sheet['id']))] == [
        person['name'] for person in PEOPLE
    ]


def test_a_step_that_runs_again_applies_the_expression_once(system, knobs, monkeypatch):
    # GIVEN pages of 10 records, one step each, and the second write failing after it was applied
    system.sizes.budget_seconds = 0
    rows = [{'name': f'P{index:03d}', 'age': index} for index in range(40)]
    sheet, _ = sheet_with(system, rows)
    write = RecordStore.write
    calls = {'count': 0}

    def failing_after(self, *args, **kwargs):
        write(self, *args, **kwargs)
        calls['count'] += 1
        if calls['count'] == 2:
            raise ServiceUnavailable('busy')  # written, but the step fails: Step Functions runs it again

    monkeypatch.setattr(RecordStore, 'write', failing_after)
    # WHEN a non-idempotent expression runs
    done = mutate(system, sheet, '{"age": age + 1}')
    # THEN every age went up by exactly one, and the counts saw each record once
    assert done['status'] == 'complete', done
    assert calls['count'] == 4  # the rerun of the second page found its records done: no write
    assert [record['age'] for record in values_of(all_records(system.data_api, sheet['id']))] == [
        index + 1 for index in range(40)
    ]
    assert done['result'] == {'changed': 40, 'unchanged': 0, 'failed': 0, 'failures': []}


def test_a_cancel_stops_the_writes_in_their_own_transaction(system, knobs, monkeypatch):
    # GIVEN the job is canceled just before its third transaction is sent
    rows = [{'name': f'P{index:03d}', 'age': index} for index in range(50)]
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
    job = system.create(
        type='sheet',
        operation='mutate-records',
        source=sheet['id'],
        config={'sheetId': sheet['id'], 'mutateRecord': '{"age": age + 100}'},
    )
    assert system.run(job['id'])['status'] == 'canceled'
    # THEN that transaction was refused: two pages changed, nothing after, the job untouched since
    ages = [record['age'] for record in values_of(all_records(system.data_api, sheet['id']))]
    assert ages == [index + 100 for index in range(20)] + list(range(20, 50))
    assert system.service.get(TENANT, job['id']) == canceled['job']
    assert system.wait(job['id'])['status'] == 'SUCCEEDED'


@pytest.mark.parametrize(
    ('config', 'message'),
    [
        ({'mutateRecord': '{"a": '}, 'mutateRecord: is not a JSONata expression: Expected } before end of expression'),
        ({'mutateRecord': ''}, 'mutateRecord: String should have at least 1 character'),
        ({'sheetId': None}, 'sheetId:'),
        ({'sheetId': 'us_sh_other0000001'}, 'sheetId us_sh_other0000001 is not the job source'),
        ({'q': 'name like x'}, 'q (FFQL) is not supported'),
        ({'mutateRecords': 'x'}, 'mutateRecords: Extra inputs are not permitted'),
    ],
)
def test_a_config_that_cannot_run_is_refused_at_create_and_nothing_is_written(system, config, message):
    sheet, _ = sheet_with(system, PEOPLE[:1])
    body = {'sheetId': sheet['id'], 'mutateRecord': '{"name": "x"}', **config}
    body = {key: value for key, value in body.items() if value is not None}
    reply = system.data_api.call(
        'POST', '/v1/jobs', {'type': 'sheet', 'operation': 'mutate-records', 'source': sheet['id'], 'config': body}
    )
    assert reply.status == 400, reply.body
    [error] = reply.body['errors']
    assert error['key'] == 'config'
    assert error['message'].startswith('config of sheet:mutate-records: ')
    assert message in error['message']
    assert system.data_api.call('GET', '/v1/jobs').data == []


def test_a_parse_error_names_where_it_is():
    from jobs_core.system.mutation import Mutation, MutationInvalid

    with pytest.raises(MutationInvalid) as invalid:
        Mutation('{"name": $uppercase(name}')
    assert invalid.value.reason == 'Expected ), got } (S0202, at character 25)'


def test_a_step_fails_the_job_rather_than_run_far_past_its_time():
    # GIVEN a step whose hard stop has passed (a clock far ahead), so the next record may not start
    operation = MutateRecords(None, None, None, clock=lambda: 10_000.0)  # type: ignore[arg-type]
    operation._hard_stop = 45.0
    with pytest.raises(OperationFailed) as failed:
        operation._evaluate(None, {'id': 'us_rc_1', 'values': {}}, None)  # type: ignore[arg-type]
    assert 'a step ran 40 s past its time' in failed.value.message


def test_the_commit_id_is_the_jobs_own():
    operation = MutateRecords(None, None, None)  # type: ignore[arg-type]

    class Job:
        id = 'us_jb_abc'

    class Context:
        job = Job()

    marker = operation._commit_id(Context())  # type: ignore[arg-type]
    assert marker == ids.derived_id(ids.COMMIT, 'us_jb_abc', 'mutate-records')
    assert marker.startswith(ids.COMMIT)


def test_the_data_table_holds_no_trace_of_a_failed_record(system, knobs):
    # a failure is reported on the job, never written on the record (versions and items unchanged)
    sheet, _ = sheet_with(system, PEOPLE[:2])
    items = sorted(str(item) for item in stored_items(system.data_api.dynamodb))
    assert mutate(system, sheet, '$error("no")')['status'] == 'failed'
    assert sorted(str(item) for item in stored_items(system.data_api.dynamodb)) == items


def test_a_step_stays_within_the_workers_safety_margin_and_its_cursor_small():
    import json

    from jobs_core.system import mutate as mutate_module
    from jobs_core.system.runtime import MAX_CURSOR_BYTES
    from tests.builders import load_entry

    worker = load_entry('WorkerFunction')
    # past its budget a step hands over, or fails, before the safety margin is spent; a record more
    # evaluated at the hard stop is bounded by its own timeout
    assert mutate_module.HARD_OVERTIME_SECONDS + TIMEOUT_MS / 1000 < worker.SAFETY_SECONDS
    assert mutate_module.SOFT_OVERTIME_SECONDS < mutate_module.HARD_OVERTIME_SECONDS
    # at the largest: a page token, counts in the billions, the failures listed with the longest messages
    cursor = {
        'sheetId': ids.new_id(ids.SHEET),
        'after': 'x' * 600,
        'changed': 10**9,
        'unchanged': 10**9,
        'failed': 10**9,
        'timeouts': 4,
        'snapshotId': ids.new_id(ids.SNAPSHOT),
        'failures': [[ids.new_record_ids(1, 0)[0], '€' * mutate_module.FAILURE_CHARS]] * mutate_module.FAILURES_LISTED,
    }
    assert len(json.dumps(cursor)) < MAX_CURSOR_BYTES / 2
